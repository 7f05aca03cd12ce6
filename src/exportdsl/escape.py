"""Escaping untrusted text for the medium it is shown in: a terminal, Markdown, or a policy's own syntax.

Policy text, fact values and file names come from strangers. Whatever reaches a terminal must not
carry escape sequences or control bytes (they can rewrite the screen or hide text), and nothing may
carry invisible bidirectional overrides (Trojan Source, CVE-2021-42574) that make text read
differently from what it is. HTML escaping is :func:`html.escape`; this module holds the rest.
"""

from __future__ import annotations

import re

#: Unicode bidirectional formatting characters (embeddings, overrides, isolates and marks).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

# C0 controls but tab and newline, DEL, C1 controls, line/paragraph separators, bidi controls,
# and the byte-order mark / zero-width no-break space.
_UNSAFE_KEEP_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff" + "".join(sorted(BIDI_CONTROLS)) + "]"
)
_UNSAFE_ONE_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff" + "".join(sorted(BIDI_CONTROLS)) + "]"
)


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def first_bidi_control(text: str) -> int | None:
    """Index of the first bidirectional control character in ``text``, or None."""
    for index, char in enumerate(text):
        if char in BIDI_CONTROLS:
            return index
    return None


def for_terminal(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` with every control byte, escape sequence start and bidi control shown as ``\\xNN``
    or ``\\uNNNN``, so that it prints as what it is. Tabs (and newlines unless ``keep_newlines`` is
    false) pass through."""
    pattern = _UNSAFE_KEEP_LINES if keep_newlines else _UNSAFE_ONE_LINE
    return pattern.sub(_visible, text)


# Characters with a meaning in CommonMark or GitHub-flavoured Markdown inline text, plus the HTML
# specials (raw HTML is allowed in Markdown, so `<img onerror=...>` must not survive).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def markdown_text(text: str) -> str:
    """Untrusted text as inert Markdown inline text on one line: Markdown punctuation
    backslash-escaped, HTML specials as entities, line breaks and controls shown escaped."""
    text = for_terminal(text, keep_newlines=False)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def markdown_code(text: str) -> str:
    """Untrusted text as one Markdown code span: fenced with more backticks than it contains
    in a row, padded when it starts or ends with a backtick, line breaks and controls escaped."""
    text = for_terminal(text, keep_newlines=False)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def json_for_terminal(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with the characters that
    :func:`for_terminal` escapes written as JSON ``\\uNNNN`` escapes: the same JSON value, safe to print.
    (``json.dumps`` already escapes C0 controls; this adds DEL, C1 controls, bidi controls, U+2028/9
    and U+FEFF, which may only occur inside JSON strings.)"""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# What json.dumps leaves raw inside strings (it escapes C0 controls; newlines outside strings are layout).
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\ufeff" + "".join(sorted(BIDI_CONTROLS)) + "]")
