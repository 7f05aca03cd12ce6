"""Reading transactions from JSON facts: one object, an array, or JSON Lines, streamed and bounded.

Facts files come from strangers, so every read is bounded:

* only a regular file or standard input (``-``) is read; a FIFO, a device or a folder is refused
  (E404) before a byte is read;
* lines are split on ``\\n`` only (a trailing ``\\r`` belongs to the line ending; U+2028 and
  U+0085 inside a line are just characters), and one line holds at most ``MAX_LINE_BYTES``: a
  longer line is an error (E405) and the rest of the file is not read;
* JSON Lines are streamed: one line in, one transaction out, whatever the file's size; a JSON
  array, or one object written over several lines, is read whole, up to ``MAX_DOCUMENT_BYTES``;
* a UTF-8 byte-order mark is skipped; bytes that are not UTF-8 are an error on their line (E305);
* numbers are read from their decimal text (``Decimal``, never a binary float); a number whose
  text is longer than ``MAX_NUMBER_TEXT`` or too large to convert stays text
  (:class:`~exportdsl.semantics.NumberText`) and is rejected by validation naming its fact;
* a key given twice in one object is an error (E307) naming it, at any depth;
* values nested deeper than ``MAX_NESTING`` are an error (E308) on their line.

A bad line is reported with its number and the other lines are still read.
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from collections.abc import Iterator
from decimal import Decimal

from .errors import Diagnostic, Error, UsageError
from .semantics import NumberText, show_value

#: The longest line (one transaction of JSON Lines), in bytes, newline included.
MAX_LINE_BYTES = 8 * 1024 * 1024
#: The largest JSON array or multi-line object read whole, in characters.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
#: The deepest nesting of arrays and objects in one transaction (the transaction itself is depth 1).
MAX_NESTING = 32
#: Number texts longer than this are never converted.
MAX_NUMBER_TEXT = 1000


class FactsSyntaxError(Exception):
    """JSON facts text that cannot be read: a diagnostic and the 1-based line (within the text)."""

    def __init__(self, diagnostic: Diagnostic, line: int = 1):
        super().__init__(diagnostic.message)
        self.diagnostic, self.line = diagnostic, line


class _Duplicated(dict):
    """An object in which some key was given twice (the first such key is ``duplicate``)."""

    __slots__ = ("duplicate",)


def _object(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set = set()
    marked = _Duplicated(obj)
    marked.duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
    return marked


def _float(text: str):
    if len(text) > MAX_NUMBER_TEXT:
        return NumberText(text)
    try:
        return Decimal(text)
    except ArithmeticError:
        return NumberText(text)


def _int(text: str):
    return NumberText(text) if len(text) > MAX_NUMBER_TEXT else int(text)


def _constant(name: str):
    raise ValueError(f"{name} is not a valid JSON number")


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_float=_float, parse_int=_int,
                            parse_constant=_constant)


def _flat(value) -> bool:
    """True for the usual transaction: an object (no key given twice) of scalars and arrays of scalars."""
    if type(value) is not dict:
        return False
    for item in value.values():
        if type(item) is list:
            for element in item:
                if type(element) is list or isinstance(element, dict):
                    return False
        elif isinstance(item, dict):
            return False
    return True


def _check_structure(value) -> None:
    """Raise FactsSyntaxError for nesting past MAX_NESTING or a duplicated key (walked iteratively)."""
    if _flat(value):
        return
    stack = [(value, 1, None)]
    while stack:
        item, depth, fact = stack.pop()
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_NESTING:
            where = f" in fact '{fact}'" if fact is not None else ""
            raise FactsSyntaxError(Diagnostic("E308", f"values nested deeper than {MAX_NESTING} levels{where}"))
        if isinstance(item, list):
            stack.extend((element, depth + 1, fact) for element in item)
            continue
        if isinstance(item, _Duplicated):
            key = show_value(item.duplicate)
            if depth == 1:
                raise FactsSyntaxError(Diagnostic(
                    "E307", f"fact {key} is given twice",
                    help="give each fact once: which value counts would be a guess"))
            raise FactsSyntaxError(Diagnostic("E307", f"key {key} is given twice in an object in fact '{fact}'"))
        stack.extend((element, depth + 1, key if depth == 1 else fact) for key, element in item.items())


def loads_facts(text: str):
    """One JSON value read under the facts rules (exact decimals, bounded numbers and nesting, no
    duplicated keys); raises :class:`FactsSyntaxError`."""
    value = _decode(text)
    _check_structure(value)
    return value


def _decode(text: str):
    """The JSON value of ``text``, not yet checked for duplicated keys and nesting."""
    try:
        value, end = _DECODER.raw_decode(text, _skip_space(text, 0))
    except json.JSONDecodeError as exc:
        raise FactsSyntaxError(Diagnostic("E305", f"not valid JSON at column {exc.colno}: "
                                                  f"{exc.msg.removesuffix(' at')}"),
                               exc.lineno) from None
    except RecursionError:
        raise FactsSyntaxError(Diagnostic("E308", f"values nested deeper than {MAX_NESTING} levels")) from None
    except ValueError as exc:  # a NaN or Infinity constant
        raise FactsSyntaxError(Diagnostic("E305", f"not valid JSON: {exc}")) from None
    end = _skip_space(text, end)
    if end != len(text):
        line = text.count("\n", 0, end) + 1
        raise FactsSyntaxError(Diagnostic("E305", "not valid JSON: extra data after the value"), line)
    return value


def _checked(value):
    """``value``, or an Error in its place when it nests too deep or gives a key twice."""
    try:
        _check_structure(value)
    except FactsSyntaxError as exc:
        return Error(exc.diagnostic)
    return value


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


# ---- files --------------------------------------------------------------------------------


def open_facts(path: str):
    """A binary (or, for a text-only standard input, text) stream of a facts file; ``-`` is standard
    input. Raises :class:`UsageError`: E401 when it cannot be opened, E404 when it is no regular file."""
    if path == "-":
        return getattr(sys.stdin, "buffer", sys.stdin)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)  # non-blocking: opening a FIFO must not wait for a writer
    except OSError as exc:
        raise UsageError(Diagnostic("E401", f"cannot read facts file {path!r}: {exc.strerror or exc}")) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise UsageError(Diagnostic("E404", f"facts file {path!r} is not a regular file ({what})",
                                    help="write the facts to a file, or give them on standard input with --facts -"))
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def is_seekable_input(stream) -> bool:
    """True for a regular file or an in-memory stream (reading ahead never waits); False for a
    pipe, a terminal or a socket, whose next line may not have been written yet."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return True


def _lines(stream) -> Iterator[tuple[int, str | Error]]:
    """``(line_number, text)`` for every line (newline and a trailing ``\\r`` removed), or an Error in
    place of a line that is not UTF-8. A line over MAX_LINE_BYTES yields an Error and ends the file."""
    number = 0
    while True:
        number += 1
        try:
            raw = stream.readline(MAX_LINE_BYTES + 1)
        except UnicodeDecodeError as exc:  # a text-mode standard input
            yield number, Error(Diagnostic("E305", f"the input is not UTF-8 text ({exc.reason})"))
            return
        if not raw:
            return
        ending = b"\n" if isinstance(raw, bytes) else "\n"
        if not raw.endswith(ending) and len(raw) > MAX_LINE_BYTES:
            yield number, Error(Diagnostic(
                "E405", f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB; the rest of the file is not read",
                help="one transaction per line, each under the limit"))
            return
        if isinstance(raw, bytes):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, Error(Diagnostic(
                    "E305", f"line is not UTF-8 text: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1}"))
                continue
        else:
            text = raw
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        if text.endswith("\n"):
            text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
        yield number, text


def _parsed(text: str):
    try:
        return loads_facts(text)
    except FactsSyntaxError as exc:
        return Error(exc.diagnostic)


def transactions(stream) -> Iterator[tuple[int, object]]:
    """Transactions of a facts stream: ``(number, value)``, with an :class:`Error` as value for a
    transaction that cannot be read. ``number`` is the line (JSON Lines, one object) or the element
    number (an array). Blank lines are skipped; line numbers count them."""
    lines = _lines(stream)
    first = None
    reported = False
    for number, text in lines:
        if isinstance(text, Error):
            reported = True
            yield number, text
        elif text.strip():
            first = number, text
            break
    if first is None:
        if not reported:
            raise UsageError(Diagnostic("E305", "the facts input is empty"))
        return
    number, text = first
    is_array = text.lstrip().startswith("[")
    if not is_array:
        value = _parsed(text)
        if not isinstance(value, Error):  # one object a line: JSON Lines
            yield number, value
            yield from _json_lines(lines)
            return
    # An array, or an object over several lines (or JSON Lines whose first line is bad): read whole,
    # unless a later line is an object on its own (then these are JSON Lines: go on line by line).
    buffered: list[tuple[int, str | Error]] = [first]
    size = len(text)
    for item in lines:
        buffered.append(item)
        if isinstance(item[1], Error):
            break
        if not is_array and item[1].lstrip().startswith("{") and _is_transaction_line(item[1]):
            break
        size += len(item[1]) + 1
        if size > MAX_DOCUMENT_BYTES:
            break
    else:
        try:
            whole = _decode("\n".join(line for _, line in buffered))
        except FactsSyntaxError as exc:
            if is_array:
                yield number + exc.line - 1, Error(exc.diagnostic)
                return
        else:
            if isinstance(whole, list):
                yield from ((index, _checked(item)) for index, item in enumerate(whole, 1))
            else:
                yield number, _checked(whole)
            return
    if is_array:
        last_number, last = buffered[-1]
        yield last_number, last if isinstance(last, Error) else Error(Diagnostic(
            "E405", f"a JSON array larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB",
            help="write one transaction per line (JSON Lines): they are read one at a time"))
        return
    yield from _json_lines(iter(buffered))
    yield from _json_lines(lines)


def _is_transaction_line(text: str) -> bool:
    """A non-empty object on one line (indented JSON never writes one: ``{}`` at most)."""
    value = _parsed(text)
    return isinstance(value, dict) and bool(value)


def _json_lines(lines) -> Iterator[tuple[int, object]]:
    for number, text in lines:
        if isinstance(text, Error):
            yield number, text
        elif text.strip():
            yield number, _parsed(text)


def read_transactions(path: str, stream=None) -> Iterator[tuple[int, object]]:
    """:func:`transactions` of a facts file (``-``: standard input), opened (unless ``stream`` is
    given, from :func:`open_facts`) and closed here."""
    if stream is None:
        stream = open_facts(path)
    try:
        yield from transactions(stream)
    finally:
        if path != "-":
            stream.close()
