"""Reading untrusted YAML (policy test files): safe, bounded, exact, and with the line of every node.

Test files come from strangers, so the reader refuses what YAML can do to a reader:

* only regular files, at most ``MAX_BYTES`` (a FIFO or ``/dev/zero`` is refused before reading);
* no anchors or aliases: a 617-byte "billion laughs" file of nested aliases otherwise expands to
  gigabytes; nor ``<<`` merge keys;
* nesting at most ``MAX_DEPTH`` deep, bounded while the node tree is composed (before anything is
  constructed, so 5,000 nested ``[`` cost nothing and never reach Python's recursion limit);
* a duplicate mapping key is an error naming the key and its line (PyYAML keeps the last one);
* mapping keys are text; numbers are finite (``.nan``/``.inf`` are refused) and exact: a decimal
  is a :class:`~decimal.Decimal` from its text, never a float; over-long numbers are refused.

Scalars follow the YAML 1.2 core schema: only ``true``/``false`` are booleans (so ``NO``, Norway,
stays text), ``12:30`` and ``2025-12-01`` are text, ``0o17``/``0x1F`` are integers.

A problem is a :class:`YamlProblem` with the 1-based line; :func:`read_yaml` returns the data and
the composed node tree, so that a caller can name the line of any part of the document.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

import attrs
import yaml

from .escape import for_terminal

#: Largest test file read, in bytes (the reference policies' largest test file is 27 KB; a file at
#: the limit holds about 5,000 tests).
MAX_BYTES = 256 * 1024
#: Deepest nesting of sequences and mappings.
MAX_DEPTH = 32
#: Longest number, in characters.
MAX_NUMBER_CHARS = 100


class YamlProblem(Exception):
    """A document the reader refuses: what, and on which line (1-based; None when not known).

    ``limit`` is true when the document is refused for a bound (size, depth) rather than its form.
    """

    def __init__(self, message: str, line: int | None = None, *, limit: bool = False):
        super().__init__(message)
        self.message = message
        self.line = line
        self.limit = limit


@attrs.frozen
class YamlDocument:
    """A read document: its data (plain dicts, lists, str, int, Decimal, bool, None) and node tree."""

    data: object
    root: yaml.Node | None

    def _walk(self, path: Sequence[str | int]) -> list:
        """The nodes from the root along ``path`` (mapping keys and list indices), as far as it leads."""
        node = self.root
        nodes = [node] if node is not None else []
        for step in path:
            if isinstance(node, yaml.MappingNode):
                node = next((value for key, value in node.value if key.value == step), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
                node = node.value[step]
            else:
                node = None
            if node is None:
                break
            nodes.append(node)
        return nodes

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of the value at ``path``, or of its nearest parent."""
        nodes = self._walk(path)
        return nodes[-1].start_mark.line + 1 if nodes else None

    def key_line(self, path: Sequence[str | int], key: str) -> int | None:
        """The line of ``key`` in the mapping at ``path`` (for an unknown or misplaced key)."""
        nodes = self._walk(path)
        if len(nodes) == len(path) + 1 and isinstance(nodes[-1], yaml.MappingNode):
            for key_node, _ in nodes[-1].value:
                if key_node.value == key:
                    return key_node.start_mark.line + 1
        return self.line_of(path)


# Resolvers match with re.match: each pattern is anchored at both ends.
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_SPECIAL_FLOAT = re.compile(r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|false)$")


def _mark_line(mark) -> int | None:
    return mark.line + 1 if mark is not None else None


try:  # LibYAML's parser produces the events ~10x faster; composing and constructing stay in Python
    from yaml.cyaml import CParser as _EventParser

    class _Parser(_EventParser):
        def __init__(self, stream):
            _EventParser.__init__(self, stream)
except ImportError:  # pragma: no cover - PyYAML built without LibYAML
    class _Parser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
        def __init__(self, stream):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)


class _Loader(yaml.composer.Composer, _Parser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """A safe loader with the YAML 1.2 core scalars, no anchors, aliases or merges, and bounded depth.

    The composer (Python) comes before the parser in the method order, so that ``compose_node``
    below sees every node even when the events come from LibYAML.
    """

    yaml_implicit_resolvers: dict = {}

    def __init__(self, stream):
        _Parser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise YamlProblem(f"aliases (*{for_terminal(event.anchor)}) are not allowed in a test file; "
                              "write the value out", _mark_line(event.start_mark))
        if getattr(event, "anchor", None) is not None:
            raise YamlProblem(f"anchors (&{for_terminal(event.anchor)}) are not allowed in a test file; use "
                              "'defaults' for shared facts", _mark_line(event.start_mark))
        if not isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels", _mark_line(event.start_mark), limit=True)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            raise YamlProblem("expected a mapping", _mark_line(node.start_mark))
        mapping: dict = {}
        for key_node, value_node in node.value:
            line = _mark_line(key_node.start_mark)
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlProblem("merge keys (<<) are not allowed in a test file", line)
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise YamlProblem(f"a mapping key must be text, not {key_node.value!r}; quote it", line)
            if key in mapping:
                raise YamlProblem(f"duplicate key {for_terminal(key)!r}", line)
            mapping[key] = self.construct_object(value_node, deep=True)
        return mapping

    def construct_yaml_map(self, node):
        yield self.construct_mapping(node, deep=True)

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node)
        if len(text) > MAX_NUMBER_CHARS:
            raise YamlProblem(f"a number longer than {MAX_NUMBER_CHARS} characters", _mark_line(node.start_mark),
                              limit=True)
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text)

    def construct_yaml_float(self, node):
        text = self.construct_scalar(node)
        line = _mark_line(node.start_mark)
        if _SPECIAL_FLOAT.fullmatch(text):
            raise YamlProblem(f"{text} is not a finite number; numbers in a test file are finite", line)
        if len(text) > MAX_NUMBER_CHARS:
            raise YamlProblem(f"a number longer than {MAX_NUMBER_CHARS} characters", line, limit=True)
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise YamlProblem(f"{text!r} is not a number", line) from None
        if not value.is_finite():
            raise YamlProblem(f"{text} is not a finite number", line)
        return value


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)
for _tag in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary", "tag:yaml.org,2002:set",
             "tag:yaml.org,2002:omap", "tag:yaml.org,2002:pairs"):
    # Explicit tags (!!binary, !!set, ...) build objects no test needs: refused like unknown tags.
    _Loader.yaml_constructors = {k: v for k, v in _Loader.yaml_constructors.items() if k != _tag}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tf"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _SPECIAL_FLOAT, list("-+."))
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])
_Loader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])


def parse_yaml(text: str) -> YamlDocument:
    """Read one YAML document from text; raises :class:`YamlProblem`."""
    loader = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "not valid YAML"
        if "nesting depth" in problem:  # LibYAML's own bound (1,000 levels), met before ours by its scanner
            raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels", _mark_line(mark), limit=True) from None
        raise YamlProblem(f"not valid YAML: {for_terminal(problem, keep_newlines=False)}", _mark_line(mark)) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        raise YamlProblem(f"not valid YAML: character U+{exc.character:04X} is not allowed", line) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"not valid YAML: {for_terminal(str(exc), keep_newlines=False)}") from None
    except RecursionError:  # defence in depth: MAX_DEPTH keeps the composer far from the limit
        raise YamlProblem("nested too deeply", limit=True) from None
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDocument(data, root)


def read_yaml(path: str | os.PathLike) -> YamlDocument:
    """Read one YAML document from a regular file of at most ``MAX_BYTES`` bytes of UTF-8.

    Raises :class:`OSError` (the file cannot be opened or is not a regular file) or
    :class:`YamlProblem`.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_size > MAX_BYTES:
            raise YamlProblem(f"the file has {info.st_size} bytes, more than the limit of {MAX_BYTES}", limit=True)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            raw = stream.read(MAX_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > MAX_BYTES:
        raise YamlProblem(f"the file has more than the limit of {MAX_BYTES} bytes", limit=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblem(f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", line) from None
    return parse_yaml(text.removeprefix("\ufeff"))
