"""The hand-written reader (``parser_fast``) against the grammar's Lark parser (``parser_lark``).

Differential: on every policy of the repository, on generated policies and on mutants of the
reference policies, text the fast reader accepts is text Lark accepts, with the same syntax tree
(every field, every span, every comment); text Lark rejects the fast reader never accepts (it
leaves it to Lark, which words the error). The corpus must actually take the fast path.
"""

from __future__ import annotations

import enum
import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import exportdsl
import policygen
from exportdsl import parser_fast, parser_lark
from exportdsl.errors import ParseError
from exportdsl.operators import RESERVED
from exportdsl.parser import MAX_NESTING, parse, parse_condition
from exportdsl.source import Source, Span

REPO = Path(__file__).resolve().parent.parent

if "hostile_fuzz" in sys.modules:
    fuzz = sys.modules["hostile_fuzz"]
else:
    _SPEC = importlib.util.spec_from_file_location("hostile_fuzz", REPO / "tests" / "hostile" / "fuzz.py")
    fuzz = importlib.util.module_from_spec(_SPEC)
    sys.modules["hostile_fuzz"] = fuzz
    _SPEC.loader.exec_module(fuzz)

CORPUS = sorted(p for p in REPO.rglob("*.xpol") if ".venv" not in p.parts)


def shape(value):
    """Everything a syntax tree holds, spans as (start, end), as nested tuples (so that two trees
    compare field by field, positions included, which their own equality leaves out)."""
    if isinstance(value, Span):
        return ("span", value.start, value.end)
    if isinstance(value, (tuple, list)):
        return tuple(shape(v) for v in value)
    if value is None or isinstance(value, (str, int, bool, enum.Enum)):
        return value
    slots = []
    for cls in type(value).__mro__:
        slots.extend(s for s in getattr(cls, "__slots__", ()) if not s.startswith("__"))
    return (type(value).__name__, *((name, shape(getattr(value, name))) for name in sorted(set(slots))))


def both(text: str, start: str = "module"):
    """(fast outcome, Lark outcome): a shape, or the string 'not read' / the Lark error's codes."""
    source = Source("<t>", text)
    lexable = " " + text[1:] if text.startswith("\ufeff") else text
    fast_read = parser_fast.read_module if start == "module" else parser_fast.read_condition
    lark_read = parser_lark.read_module if start == "module" else parser_lark.read_condition
    try:
        fast = shape(fast_read(source, lexable))
    except parser_fast.NotRead:
        fast = "not read"
    try:
        slow = shape(lark_read(source, lexable))
    except ParseError as exc:
        slow = ("error", tuple(d.code for d in exc.diagnostics))
    return fast, slow


def assert_agree(text: str, start: str = "module") -> str:
    fast, slow = both(text, start)
    if fast != "not read":
        assert fast == slow, f"fast reader and Lark differ on {text!r}"
        return "read"
    return "error" if slow[0] == "error" else "left to lark"


def test_the_keywords_are_the_grammars():
    assert RESERVED == parser_lark._keywords()


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_policy_of_the_repository_is_read_fast_with_larks_tree(path):
    text = path.read_text(encoding="utf-8")
    outcome = assert_agree(text)
    if outcome == "error":
        return       # a golden of a syntax error: the fast reader left it to Lark, as it must
    assert outcome == "read", f"{path} took the slow path"


TRICKY = [
    "",
    "# only a comment",
    "\ufeffdecisions a < b  # BOM first\n",
    'policy "p\\"q\\\\" version "v\\n1"\ndecisions a<b\ndefault a\ndated by d\nextends "x.xpol"\n',
    "fact e: enum {}\nfact s: set of enum {}\nfact t: set of enum {x, \"y z\", 1, 2.5%, 2025-01-01, true,}\n",
    "fact p: percent = 0.1%\nfact n: number = -2.75\nfact c: set of country = {}\nfact b: bool = false\n",
    "set s = {}\nset t = {a}\ncondition c = x in {} and y not in s or not not (z)\n",
    'rule R { title "t" cite "c" effective 2025-01-01 until 2026-01-01 overrides A, B x -> d }',
    'rule R { title "t" x -> d }\nrule S { overrides A x contains any not in {a} -> d }',
    "rule R { x contains a and x contains any {} and x contains all s and x is empty or x is not empty -> d }",
    "rule R { applies(A, B) and true and not false and x >= 2025-01-01 and y != \"s\" and z <= 5% -> d }",
    'suspension S { title "t" suspends A, B effective 2025-01-01 until 2026-01-01 }',
    "suspension S { until 2025-01-01 suspends A }",
    "rule R { ((x)) and (y or z) and (a and b) and not (not c) -> d }",
    "rule R{x<1->d}rule S{x>=+1.5->d}#c1\n#c2",
    "rule R { x = 2025-01-01x -> d }",
    "rule R { x = 5%y -> d }",
    'rule R { x = "unterminated -> d }',
    "fact rule: bool",             # a keyword as a name: Lark's contextual lexer decides
    "setd x = {a}",
    "rule R { x -> d",
    'rule R { title "a" title "b" x -> d }',
    "suspension S { }",
    "rule R { x in {a b} -> d }",
    "rule R { x = " + "9" * 101 + " -> d }",
    "rule R { x = " + "9" * 100 + " -> d }",
    "rule R { x \v -> d }",
    "decisions a <= b",
    "fact x: set of set of string",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_text_agrees(text):
    assert_agree(text)


def test_the_fast_reader_reads_the_tricky_valid_text():
    assert assert_agree(TRICKY[4]) == "read"
    assert assert_agree(TRICKY[7]) == "read"
    assert assert_agree(TRICKY[13]) == "read"


def _nested(depth: int, kind: str) -> str:
    if kind == "parens":
        return "(" * depth + "x" + ")" * depth
    if kind == "nots":
        return "not " * depth + "x"
    return "not (" * depth + "x" + ")" * depth


@pytest.mark.parametrize("kind", ["parens", "nots", "mixed"])
@pytest.mark.parametrize("depth", [MAX_NESTING - 1, MAX_NESTING, MAX_NESTING + 1, 50_000])
def test_nesting_at_and_past_the_limit(kind, depth):
    for text, start in ((f"rule R {{ {_nested(depth, kind)} -> d }}", "module"), (_nested(depth, kind), "condition")):
        outcome = assert_agree(text, start)
        allowed = depth + (depth if kind == "mixed" else 0) <= MAX_NESTING
        assert outcome == ("read" if allowed else "error")


def test_and_or_count_towards_nesting():
    inner = "(a and b or c)"
    text = "(" * (MAX_NESTING - 2) + inner + ")" * (MAX_NESTING - 2)
    assert assert_agree(text, "condition") == "error"
    text = "(" * (MAX_NESTING - 3) + inner + ")" * (MAX_NESTING - 3)
    assert assert_agree(text, "condition") == "read"


def test_the_public_parse_goes_through_either_path_alike():
    text = 'decisions a < b\nfact x: bool\nrule R { x -> b }  # c\n'
    module = parse(text)
    assert [c.text for c in module.comments] == ["# c"]
    assert module.span.start == 0 and module.span.end == len(text)
    with pytest.raises(ParseError) as info:
        parse("decisions a < b\nrule R { x -> }")
    assert info.value.diagnostics[0].code == "E100"
    assert shape(parse_condition("x in {a} and not y")) == shape(parser_lark.read_condition(
        Source("<condition>", "x in {a} and not y"), "x in {a} and not y"))


def test_syntax_errors_read_as_before():
    with pytest.raises(ParseError) as info:
        exportdsl.compile('decisions a < b\nfact x: bool\nrule R { title "a" title "b" x -> b }')
    assert "more than one 'title'" in info.value.diagnostics[0].message


@settings(max_examples=60)
@given(policygen.policies())
def test_generated_policies_are_read_fast_with_larks_tree(spec):
    assert assert_agree(spec.text) == "read"


@settings(max_examples=150)
@given(fuzz.mutants())
def test_mutants_agree(mutant):
    _, text = mutant
    assert_agree(text)


@settings(max_examples=100)
@given(st.lists(st.sampled_from(sorted(RESERVED) + ["x", "y", "R", "1", "2.5%", "2025-01-01", '"s"', "{", "}",
                                                   "(", ")", ",", ":", "=", "!=", "<", "<=", ">", ">=", "->",
                                                   "#c\n", "\n"]), max_size=30))
def test_token_soup_agrees(words):
    assert_agree(" ".join(words))
    assert_agree(" ".join(words), "condition")


@pytest.mark.parametrize("opening", ["not ", "(", "not (", "(not "])
def test_the_reader_gives_up_at_the_nesting_limit_without_reading_on(monkeypatch, opening):
    """A run of a million `not`s was read to its end before the limit was checked (5.6 s)."""
    drawn = []
    tokens = parser_fast._tokens

    def counted(text, comments):
        for token in tokens(text, comments):
            drawn.append(token)
            yield token

    monkeypatch.setattr(parser_fast, "_tokens", counted)
    text = "rule R { " + opening * 100_000 + "x -> d }"
    with pytest.raises(parser_fast.NotRead):
        parser_fast.read_module(Source("<t>", text), text)
    assert len(drawn) < 4 * MAX_NESTING
