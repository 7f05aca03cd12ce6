"""Policy source text and the spans that point into it (line/column lookup, caret snippets)."""

from __future__ import annotations

import bisect
import re

from .records import field, record

from .escape import for_terminal


_NEWLINE = re.compile("\n")

#: Longest source line shown whole under a diagnostic; longer lines are cut around the caret.
_MAX_SNIPPET = 120


@record
class Span:
    """A half-open character range ``[start, end)`` in one :class:`Source`."""

    source: "Source" = field(eq=False, repr=False)
    start: int
    end: int

    @property
    def line(self) -> int:
        """1-based line of the span's start."""
        return self.source.line_col(self.start)[0]

    @property
    def column(self) -> int:
        """1-based column of the span's start."""
        return self.source.line_col(self.start)[1]

    def location(self) -> str:
        """``file:line:col`` of the span's start."""
        line, col = self.source.line_col(self.start)
        return f"{self.source.name}:{line}:{col}"

    def snippet(self) -> str:
        """The source line holding the span, with a caret line under the span."""
        return self.source.snippet(self.start, self.end)


@record
class Source:
    """A named policy text; ``name`` is a path or a label such as ``<string>``."""

    name: str
    text: str
    _line_starts: tuple[int, ...] | None = field(default=None, init=False, eq=False, repr=False)

    def _starts(self) -> tuple[int, ...]:
        """Offsets where lines start; found on first use (only diagnostics need them), at C speed."""
        starts = self._line_starts
        if starts is None:
            starts = (0, *(m.end() for m in _NEWLINE.finditer(self.text)))
            object.__setattr__(self, "_line_starts", starts)
        return starts

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        starts = self._starts()
        index = bisect.bisect_right(starts, offset) - 1
        return index + 1, offset - starts[index] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        start = self._starts()[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def span(self, start: int, end: int) -> Span:
        """A span of this source."""
        return Span(self, start, end)

    def snippet(self, start: int, end: int) -> str:
        """The line holding ``start`` and a caret line marking ``[start, end)`` on it."""
        line, col = self.line_col(start)
        text = self.line_text(line)
        width = max(1, min(end, start + len(text) - col + 1) - start)
        if len(text) > _MAX_SNIPPET:
            # keep a window around the caret
            left = max(0, col - 1 - _MAX_SNIPPET // 2)
            right = left + _MAX_SNIPPET
            text = ("..." if left else "") + text[left:right] + ("..." if right < len(text) else "")
            col = col - left + (3 if left else 0)
            width = min(width, _MAX_SNIPPET // 2)
        # control and bidi characters are shown escaped, so the line prints as what it is
        before = for_terminal(text[: col - 1])
        marked = for_terminal(text[col - 1: col - 1 + width])
        after = for_terminal(text[col - 1 + width:])
        gutter = f"{line:>4} | "
        pad = "".join("\t" if ch == "\t" else " " for ch in before)
        return f"{gutter}{before}{marked}{after}\n{' ' * (len(gutter) - 2)}| {pad}{'^' * max(1, len(marked))}"


#: Prefix of every policy content hash; a new hashing scheme gets a new prefix.
HASH_SCHEME = "sha256"


def content_hash(sources) -> str:
    """``sha256:<hex>`` of the texts of a policy's files (the policy first, then its ``extends``
    chain), each length-prefixed. File names and paths take no part, so the hash is the same on
    every machine and run, and changes when any byte of any file of the chain changes."""
    import hashlib   # here, not at import: only a loaded policy's hash needs it

    digest = hashlib.sha256(b"exportdsl policy text v1\n")
    for source in sources:
        data = source.text.encode("utf-8", "surrogatepass")
        digest.update(b"%d\n" % len(data))
        digest.update(data)
    return f"{HASH_SCHEME}:{digest.hexdigest()}"
