"""Checks and lints a policy buffer as it is being edited, and maps spans to editor positions.

:func:`analyze` runs the parser, ``extends`` resolution, the checker and (when the policy checks)
the linter on unsaved text, exactly as ``exportdsl check`` would on the saved file; it never
raises for a bad policy: every problem becomes a diagnostic. Diagnostics found in a base policy
(``extends``) are reported on this file's ``extends`` line, naming the base file.

Positions are ``(line, character)`` pairs, 0-based, with characters counted in UTF-16 code
units as the Language Server Protocol does by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs

from .. import ast, ir
from ..check import check
from ..compose import resolve
from ..errors import Diagnostic, Error, Severity
from ..parser import parse
from ..source import Source, Span


def _file_key(name: str) -> str:
    """A comparable identity of a source name: the resolved path, or the label as is."""
    if name.startswith("<"):
        return name
    try:
        return str(Path(name).resolve())
    except (OSError, ValueError):
        return name


@attrs.frozen
class Analysis:
    """What is known about one buffer: its diagnostics, its syntax trees and (if it checks) its IR."""

    name: str
    text: str
    diagnostics: tuple[Diagnostic, ...]
    module: ast.Module | None = None      # this file as parsed
    resolved: ast.Module | None = None    # with ``extends`` resolved (base declarations first)
    policy: ir.Policy | None = None       # None while the policy does not check

    @property
    def source(self) -> Source:
        """The buffer as a :class:`Source` (for line/column lookups)."""
        return Source(self.name, self.text)

    def is_own(self, span: Span | None) -> bool:
        """Whether a span lies in this buffer (not in a base policy)."""
        return span is not None and _file_key(span.source.name) == _file_key(self.name)

    def own_diagnostics(self) -> list[tuple[Diagnostic, bool]]:
        """The diagnostics to show on this buffer, each with whether it was found in this buffer:
        findings in a base file are moved to this buffer's ``extends`` line, naming where they are."""
        extends = next((d for d in (self.module.decls if self.module else ())
                        if isinstance(d, ast.ExtendsDecl)), None)
        shown = []
        for diag in self.diagnostics:
            if diag.span is None or self.is_own(diag.span):
                shown.append((diag, True))
                continue
            where = diag.span.location()
            shown.append((diag.evolve(message=f"in {where}: {diag.message}",
                                       span=extends.span if extends is not None else None), False))
        return shown


def analyze(text: str, name: str, *, lint: bool = True, lint_seconds: float = 1.0,
            confine: Path | None = None) -> Analysis:
    """Parse, resolve, check and (``lint=True``, when the policy checks) lint ``text``.

    ``name`` is the buffer's file path (``extends`` is resolved next to it) or a label such as
    ``<buffer>``. ``confine`` refuses base policies outside that folder (E421). The linter runs
    within ``lint_seconds`` (past it, its W191 note says what it skipped).
    """
    try:
        module = parse(Source(name, text))
    except Error as exc:
        return Analysis(name, text, exc.diagnostics)
    try:
        resolved = resolve(module, confine=confine)
    except Error as exc:
        return Analysis(name, text, exc.diagnostics, module)
    policy, diagnostics = check(resolved)
    if policy is None:
        return Analysis(name, text, tuple(diagnostics), module, resolved)
    findings: Sequence[Diagnostic] = ()
    if lint:
        from ..lint import Budget, lint_family

        findings = lint_family([(policy, resolved)], budget=Budget(max_seconds=lint_seconds))[0]
    return Analysis(name, text, (*diagnostics, *findings), module, resolved, policy)


# ---- positions -------------------------------------------------------------------------------

def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def position_of(source: Source, offset: int) -> tuple[int, int]:
    """The 0-based ``(line, UTF-16 character)`` of a character offset."""
    line, col = source.line_col(offset)
    return line - 1, _utf16_len(source.line_text(line)[: col - 1])


def offset_of(source: Source, line: int, character: int) -> int:
    """The character offset of a 0-based ``(line, UTF-16 character)`` (clamped to the text)."""
    lines = source.text.split("\n")
    line = max(0, min(line, len(lines) - 1))
    start = sum(len(text) + 1 for text in lines[:line])
    units = 0
    for index, char in enumerate(lines[line]):
        if units >= character:
            return start + index
        units += 2 if ord(char) > 0xFFFF else 1
    return start + len(lines[line])


def range_of(span: Span) -> tuple[tuple[int, int], tuple[int, int]]:
    """The 0-based start and end positions of a span, in its own source."""
    return position_of(span.source, span.start), position_of(span.source, span.end)


SEVERITY_NAMES = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def fix_of(diag: Diagnostic) -> str | None:
    """The replacement a diagnostic suggests (its help's ``did you mean 'x'?``), if any."""
    help_text = diag.help or ""
    marker = "did you mean '"
    start = help_text.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = help_text.find("'?", start)
    return help_text[start:end] if end > start else None
