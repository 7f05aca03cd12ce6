"""Policy text to syntax tree: the public entry of the front end (``parse``, ``parse_condition``,
``read_policy_file``) and its limits.

Text is read by the hand-written :mod:`exportdsl.parser_fast` (linear, no Lark import); whatever it
does not read (every syntax error, and the rare valid text it leaves alone) goes to the grammar's
own Lark parser in :mod:`exportdsl.parser_lark`, which accepts it with the same tree or words the
diagnostic. Either way the result is the same syntax tree, spans and comments included.
"""

from __future__ import annotations

import os
import re
import stat

from . import ast
from .errors import Diagnostic, ParseError, Severity
from .escape import BIDI_CONTROLS
from .parser_fast import MAX_NESTING, MAX_NUMBER_CHARS, MAX_SOURCE_CHARS, NotRead
from .parser_fast import read_condition as _fast_condition
from .parser_fast import read_module as _fast_module
from .source import Source

__all__ = ["MAX_NESTING", "MAX_NUMBER_CHARS", "MAX_SOURCE_CHARS", "bidi_warnings", "grammar_text", "parse",
           "parse_condition", "path_name", "read_policy_file"]

_BOM = "\ufeff"
_BIDI = "[" + "".join(sorted(BIDI_CONTROLS)) + "]"   # compiled (by re's cache) only for a text holding one


def grammar_text() -> str:
    """The grammar: the copy shipped inside the package, else the repository's ``grammar/`` file."""
    from .parser_lark import grammar_text as lark_grammar_text
    return lark_grammar_text()


def _lexable_text(source: Source) -> str:
    """The source's text as the lexers read it: size-checked (E103), a leading BOM read as a space
    (so offsets stay put)."""
    if len(source.text) > MAX_SOURCE_CHARS:
        raise ParseError(Diagnostic(
            "E103", f"{source.name}: policy text of {len(source.text):,} characters exceeds the limit of "
                    f"{MAX_SOURCE_CHARS:,}",
            help="split the policy into smaller files",
        ))
    text = source.text
    return " " + text[1:] if text.startswith(_BOM) else text


def bidi_warnings(source: Source) -> tuple[Diagnostic, ...]:
    """W151 for each bidirectional control character in text that parsed (so it is inside a string
    or a comment: anywhere else the lexer refuses it with E107)."""
    if not any(char in source.text for char in BIDI_CONTROLS):
        return ()   # the usual case, decided without compiling the regular expression
    return tuple(
        Diagnostic("W151", f"bidirectional control character U+{ord(m.group()):04X} in a string or comment",
                   source.span(m.start(), m.end()), severity=Severity.WARNING,
                   help="it can make the text display in a different order from how it is read "
                        "(Trojan Source); delete it unless the text needs it")
        for m in re.finditer(_BIDI, source.text)
    )


def path_name(path: str | os.PathLike) -> str:
    """A file's path spelled as ``str(pathlib.Path(path))`` spells it (repeated and trailing slashes
    and ``.`` parts dropped), the name a policy's diagnostics give it, without importing pathlib
    (which costs more than checking a small policy)."""
    text = os.fspath(path)
    if isinstance(text, bytes) or os.sep != "/" or os.altsep:
        from pathlib import Path
        return str(Path(path))
    root = "//" if text.startswith("//") and not text.startswith("///") else "/" if text.startswith("/") else ""
    return root + "/".join(part for part in text.split("/") if part not in ("", ".")) or "."


def read_policy_file(path: str | os.PathLike, *, label: str = "policy", span=None, error=ParseError,
                     regular_only: bool = False) -> str:
    """The text of a policy file, read with bounded work; raises ``error`` with E104 (cannot be read,
    not UTF-8, not a regular file when ``regular_only``) or E103 (larger than the limit).

    A UTF-8 byte-order mark at the start is dropped. The file is opened without blocking, so a FIFO
    with no writer cannot hang the reader; at most :data:`MAX_SOURCE_CHARS` characters' worth of
    bytes are read, so ``/dev/zero`` cannot exhaust memory.
    """
    shown = repr(str(path))

    def fail(code: str, reason: str, help_text: str | None = None):
        raise error(Diagnostic(code, f"cannot read {label} {shown}: {reason}", span, help_text))

    if "\0" in str(path):
        fail("E104", "the path contains a NUL character")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError) as exc:
        fail("E104", getattr(exc, "strerror", None) or str(exc))
    limit = MAX_SOURCE_CHARS * 4 + 3   # UTF-8 takes at most 4 bytes a character, and a BOM 3
    try:
        with os.fdopen(fd, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_ISDIR(mode):
                fail("E104", "it is a directory")
            if not stat.S_ISREG(mode):
                if regular_only:
                    fail("E104", "not a regular file", "a policy is a regular file of UTF-8 text")
                os.set_blocking(handle.fileno(), True)
            data = handle.read(limit + 1)
    except OSError as exc:
        fail("E104", exc.strerror or str(exc))
    if len(data) > limit:
        fail("E103", f"larger than the limit of {MAX_SOURCE_CHARS:,} characters",
             "split the policy into smaller files")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail("E104", f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start:,})",
             "save the file as UTF-8")


def parse(text: str, name: str = "<string>") -> ast.Module:
    """Parse policy text into a :class:`~exportdsl.ast.Module`; raises :class:`ParseError`."""
    source = text if isinstance(text, Source) else Source(name, text)
    lexable = _lexable_text(source)
    try:
        decls, comments = _fast_module(source, lexable)
    except NotRead:
        from .parser_lark import read_module
        decls, comments = read_module(source, lexable)
    return ast.Module(decls, comments=comments, span=source.span(0, len(source.text)),
                      warnings=bidi_warnings(source))


def parse_condition(text: str, name: str = "<condition>") -> ast.Expr:
    """Parse a condition alone (as in ``--where``, or a diff region); raises :class:`ParseError`."""
    source = text if isinstance(text, Source) else Source(name, text)
    lexable = _lexable_text(source)
    try:
        return _fast_condition(source, lexable)
    except NotRead:
        from .parser_lark import read_condition
        return read_condition(source, lexable)
