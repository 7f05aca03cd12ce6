"""Policy text from strangers fails closed: reading, lexing, parsing, ``extends`` and checking raise
only documented errors, with bounded work, and never quote a file that is not a policy (issue 9).

Each test names the finding it guards. The bounds on work are tested by counting work (comparisons,
visited nodes) or by where the error is found, never by timing; the hostile corpus
(``tests/hostile/cases/policyinput.yaml``) runs the same inputs under time and memory limits.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import exportdsl
from exportdsl import ast, ir
from exportdsl.check import MAX_EXPANDED_DEPTH, ir_depth, lower
from exportdsl.cli import main
from exportdsl.compose import resolve
from exportdsl.fmt import format_source
from exportdsl.operators import LiteralKind
from exportdsl.parser import MAX_NESTING, MAX_NUMBER_CHARS, parse, parse_condition
from exportdsl.render import condition_text

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
HEAD = "decisions allow < deny\nfact a: bool\nfact x: integer\nfact p: percent\nfact c: country\n"


def codes(exc: exportdsl.Error) -> list[str]:
    return [d.code for d in exc.diagnostics]


def error_of(text: str) -> exportdsl.Error:
    with pytest.raises(exportdsl.Error) as info:
        exportdsl.compile(text)
    return info.value


@contextmanager
def hang_guard(seconds: int = 120):
    """Turn a hang (exponential work) into a failure instead of a stuck suite. Not a timing test:
    the bound is orders of magnitude above the linear work the code under test does."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def fire(signum, frame):
        raise TimeoutError("exponential work: still running after the hang guard's bound")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ---- 1. reading a policy file ---------------------------------------------------------------------

def test_non_utf8_policy_file_is_e104_not_a_crash(tmp_path, capsys):
    path = tmp_path / "latin1.xpol"
    path.write_bytes("decisions a < b\n# café\n".encode("latin-1"))
    with pytest.raises(exportdsl.ParseError) as info:
        exportdsl.load(path)
    assert codes(info.value) == ["E104"]
    assert "not UTF-8" in str(info.value) and "0xe9" in str(info.value)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "E104" in err and "internal error" not in err


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    text = "decisions allow < deny\nfact a: bool\nrule R { a -> deny }\n"
    path = tmp_path / "bom.xpol"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    from_file = exportdsl.load(path)
    from_text = exportdsl.compile("\ufeff" + text)
    plain = exportdsl.compile(text)
    assert from_file.ir == plain.ir == from_text.ir
    assert from_text.ast.decls[1].span.column == 6          # offsets are not shifted by the mark
    assert parse_condition("\ufeffa") == parse_condition("a")


# ---- 2. and 3. extends ------------------------------------------------------------------------

def test_nul_byte_in_extends_path_is_e104(tmp_path):
    path = tmp_path / "nul.xpol"
    path.write_text('extends "base\x00.xpol"\ndecisions a < b\n', encoding="utf-8")
    with pytest.raises(exportdsl.Error) as info:
        exportdsl.load(path)
    assert codes(info.value) == ["E104"] and "NUL" in str(info.value)


@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_extends_a_non_regular_file_is_refused_without_reading_it(tmp_path, target):
    if target == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("needs FIFOs")
        os.mkfifo(tmp_path / "pipe.xpol")      # opening it for reading must not wait for a writer
        target = "pipe.xpol"
    elif not os.path.exists(target):
        pytest.skip(f"needs {target}")
    (tmp_path / "p.xpol").write_text(f'extends "{target}"\n', encoding="utf-8")
    with hang_guard(30), pytest.raises(exportdsl.Error) as info:
        exportdsl.load(tmp_path / "p.xpol")
    assert codes(info.value) == ["E104"] and "not a regular file" in str(info.value)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_loading_a_device_reads_a_bounded_amount(tmp_path):
    with pytest.raises(exportdsl.ParseError) as info:
        exportdsl.load("/dev/zero")
    assert codes(info.value) == ["E103"]


def test_base_larger_than_the_limit_is_e103(tmp_path):
    (tmp_path / "big.xpol").write_text("#" * 8_000_001, encoding="utf-8")
    (tmp_path / "p.xpol").write_text('extends "big.xpol"\n', encoding="utf-8")
    with pytest.raises(exportdsl.Error) as info:
        exportdsl.load(tmp_path / "p.xpol")
    assert codes(info.value) == ["E103"]


def test_a_base_that_does_not_parse_is_not_quoted(tmp_path, capsys):
    secret = "root:x:0:0:SECRET-LINE:/root:/bin/bash"
    (tmp_path / "passwd").write_text(secret + "\n", encoding="utf-8")
    child = tmp_path / "p.xpol"
    child.write_text('decisions a < b\nextends "passwd"\n', encoding="utf-8")
    with pytest.raises(exportdsl.Error) as info:
        exportdsl.load(child)
    (diag,) = info.value.diagnostics
    assert diag.code == "E100" and diag.span.source.name == str(child) and diag.span.line == 2
    assert "line 1, column 1" in diag.message
    assert "SECRET" not in str(info.value) and "/bin/bash" not in str(info.value)
    assert main(["check", str(child)]) == 2
    assert "SECRET" not in capsys.readouterr().err


def test_a_base_that_parses_but_does_not_check_is_still_shown(tmp_path):
    (tmp_path / "base.xpol").write_text("decisions a < b\nrule R { nope -> b }\n", encoding="utf-8")
    (tmp_path / "p.xpol").write_text('extends "base.xpol"\n', encoding="utf-8")
    with pytest.raises(exportdsl.CheckError) as info:
        exportdsl.load(tmp_path / "p.xpol")
    assert codes(info.value) == ["E202"] and "rule R { nope -> b }" in str(info.value)


# ---- 4. number literals ------------------------------------------------------------------------

@pytest.mark.parametrize("literal", ["9" * 5000, "1" + "0" * 4400 + ".5", "-" + "7" * 4301])
def test_huge_number_literal_is_e106(literal):
    assert codes(error_of(HEAD + f"rule R {{ x = {literal} -> deny }}")) == ["E106"]
    assert codes(error_of(HEAD + f"fact y: number = {literal}")) == ["E106"]
    with pytest.raises(exportdsl.ParseError) as info:
        parse_condition(f"x = {literal}")
    assert codes(info.value) == ["E106"]


def test_huge_percent_literal_is_e106():
    assert codes(error_of(HEAD + f"rule R {{ p = 0.{'0' * 5000}1% -> deny }}")) == ["E106"]


def test_number_literal_at_the_limit_is_accepted():
    digits = "1" + "0" * (MAX_NUMBER_CHARS - 1)
    policy = exportdsl.compile(HEAD + f"rule R {{ x = {digits} -> deny }}")
    assert policy.rules[0].condition.value == int(digits)
    assert codes(error_of(HEAD + f"rule R {{ x = {digits}0 -> deny }}")) == ["E106"]


# ---- 5. keywords glued to names ----------------------------------------------------------------------

@pytest.mark.parametrize("text, word", [
    ("decisions a < b\nsetd={x}\n", "setd"),
    ("decisions a < b\nfact x: bool\nruleR{ x -> b }\n", "ruleR"),
    ("decisions a < b\nfact x: integer\nfact e: bool\nrule R { x=1 ande -> b }\n", "ande"),
    ("decisions a < b\nfact x: integer\nrule R { x=1 -> b }\nconditionc = x = 1\n", "conditionc"),
    ("decisionsa < b\n", "decisionsa"),
])
def test_keyword_glued_to_a_name_is_a_syntax_error(text, word):
    error = error_of(text)
    assert codes(error) == ["E100"] and repr(word) in error.diagnostics[0].message


def test_keyword_followed_by_a_symbol_or_space_still_parses():
    policy = exportdsl.compile("decisions a < b\nfact x: integer\nset d={1}\nrule R{x in d and(x=1)-> b}\n")
    assert [r.id for r in policy.rules] == ["R"]


# ---- 6. named conditions that share sub-conditions (a DAG) ----------------------------------------

def chain(length: int, *, top: str | None = None) -> str:
    """Named conditions that each use the previous one twice: the tree doubles at every step."""
    lines = ["decisions allow < deny", "fact a: bool", "fact x: integer", "condition c0 = a"]
    lines += [f"condition c{i} = c{i - 1} and (c{i - 1} or x = {i})" for i in range(1, length + 1)]
    lines.append(f"rule R {{ {top or f'c{length}'} -> deny }}")
    return "\n".join(lines) + "\n"


def checked(text: str) -> ir.Policy:
    return lower(resolve(parse(text)))


def test_named_conditions_are_lowered_once_and_shared():
    with hang_guard():
        policy = checked(chain(60))
    named = policy.conditions
    for i in range(1, 61):
        body = named[f"c{i}"].body
        assert body.operands[0] is named[f"c{i - 1}"]
        assert body.operands[1].operands[0] is named[f"c{i - 1}"]
    assert policy.rules[0].condition is named["c60"]


def test_depth_of_a_shared_chain_is_computed_on_the_dag(monkeypatch):
    import exportdsl.check as check_module

    visits = []
    real = check_module._children
    monkeypatch.setattr(check_module, "_children", lambda node: visits.append(node) or real(node))
    with hang_guard():
        policy = checked(chain(60))
    assert ir_depth(policy.rules[0].condition) == 1 + 60 * 3 + 1   # c60 .. c0 (named, and, or), then a
    assert len(visits) < 20 * 61                                # linear in the DAG, not 2**60


def test_depth_limit_counts_the_dag_depth():
    length = MAX_EXPANDED_DEPTH // 3 + 1
    with hang_guard():
        error = error_of(chain(length))
    assert codes(error) == ["E102"] and str(MAX_EXPANDED_DEPTH) in error.diagnostics[0].message
    exportdsl.parse(chain(length))                              # each line is shallow: it parses


def test_hash_and_equality_of_shared_chains_are_not_exponential():
    with hang_guard():
        first, second = checked(chain(80)), checked(chain(80))
        different = checked(chain(80).replace("condition c0 = a", "condition c0 = not a"))
        assert first.rules[0].condition == second.rules[0].condition
        assert hash(first.rules[0].condition) == hash(second.rules[0].condition)
        assert first.rules[0].condition != different.rules[0].condition
        assert first == second and first != different
        assert len({first.rules[0].condition, second.rules[0].condition}) == 1


def test_rendering_a_shared_chain_spelled_out_is_bounded():
    with hang_guard():
        policy = checked(chain(80))
        text = condition_text(policy.rules[0].condition, policy.facts, names=False)
    assert text == "c80"                                         # too large to spell out: named
    small = checked(chain(2))
    spelled = condition_text(small.rules[0].condition, small.facts, names=False)
    assert spelled == "(a and (a or x = 1)) and (a and (a or x = 1) or x = 2)"


def test_formatting_a_shared_chain_keeps_it():
    text = chain(60)
    with hang_guard():
        assert format_source(format_source(text)) == format_source(text)


# ---- 7. large enums ----------------------------------------------------------------------------------

class CountingText(str):
    """A string that counts equality comparisons made on it."""

    comparisons = 0

    def __eq__(self, other):
        CountingText.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_enum_duplicate_check_is_linear():
    size = 3000
    values = tuple(ast.Literal(LiteralKind.NAME, CountingText(f"v{i}")) for i in range(size))
    module = ast.Module((
        ast.DecisionsDecl((ast.Ident("a"), ast.Ident("b"))),
        ast.FactDecl(ast.Ident("e"), ast.TypeExpr(enum_values=values)),
    ))
    CountingText.comparisons = 0
    policy = lower(module)
    assert policy.facts["e"].type.values[-1] == f"v{size - 1}"
    assert CountingText.comparisons < size       # a list scan made about size**2 / 2


def test_enum_duplicates_are_still_reported():
    error = error_of("decisions a < b\nfact e: enum {x, y, x, y}\n")
    assert codes(error) == ["E207", "E207"]


# ---- 8. deep nesting fails while lexing ----------------------------------------------------------------

@pytest.mark.parametrize("opener", ["(", "not ", "not (", "(not "])
def test_deep_nesting_fails_before_the_rest_of_the_text_is_read(opener):
    # Text after the deep part that would be a different error proves the lexer stopped early.
    text = HEAD + "rule R { " + opener * (MAX_NESTING + 5) + " a & & & "
    error = error_of(text)
    assert codes(error) == ["E102"]


def test_megabytes_of_parentheses_fail_at_the_first_level_too_many():
    text = "rule R { " + "(" * 4_000_000
    with pytest.raises(exportdsl.ParseError) as info:
        parse(text)
    (diag,) = info.value.diagnostics
    assert diag.code == "E102" and diag.span.start == len("rule R { ") + MAX_NESTING


@pytest.mark.parametrize("depth", [MAX_NESTING])
def test_nesting_at_the_limit_is_accepted(depth):
    for body in ("(" * depth + "a" + ")" * depth, "not " * depth + "a",
                 "(" * depth + "x not in {1}" + ")" * depth, "(" * (depth - 1) + "a or applies(Q)" + ")" * (depth - 1)):
        exportdsl.compile(HEAD + "rule Q { a -> deny }\nrule R { " + body + " -> deny }\n")
        assert codes(error_of(HEAD + "rule Q { a -> deny }\nrule R { (" + body + ") -> deny }\n")) == ["E102"]


# ---- 9. bidirectional control characters -----------------------------------------------------------------

@pytest.mark.parametrize("text", [
    HEAD + "rule R\u202e { a -> deny }\n",
    HEAD + "rule R { a \u2066-> deny }\n",
    HEAD + "fact \u200fb: bool\n",
])
def test_bidi_control_in_code_is_e107(text, capsys, tmp_path):
    assert codes(error_of(text)) == ["E107"]
    path = tmp_path / "t.xpol"
    path.write_text(text, encoding="utf-8")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "E107" in err and not any(ch in err for ch in "\u202e\u2066\u200f")


def test_bidi_control_in_strings_and_comments_is_a_warning(tmp_path, capsys):
    text = HEAD + '# reviewed \u202e by legal\nrule R { title "x\u2067y" a -> deny }\n'
    policy = exportdsl.compile(text)
    assert [d.code for d in policy.warnings] == ["W151", "W151"]
    assert [d.span.line for d in policy.warnings] == [6, 7]
    path = tmp_path / "t.xpol"
    path.write_text(text, encoding="utf-8")
    for command in (["check"], ["lint"]):
        assert main([*command, str(path)]) == (0 if command == ["check"] else 1)
        out = capsys.readouterr().out
        assert out.count("warning[W151]") == 2 and "\\u202e" in out and "\u202e" not in out
    assert main(["check", "--no-lint", str(path)]) == 0
    assert "W151" not in capsys.readouterr().out


def test_bidi_warnings_of_a_base_reach_the_policy(tmp_path):
    (tmp_path / "base.xpol").write_text(HEAD + "# \u202e\n", encoding="utf-8")
    (tmp_path / "p.xpol").write_text('extends "base.xpol"\nrule R { a -> deny }\n', encoding="utf-8")
    assert [d.code for d in exportdsl.load(tmp_path / "p.xpol").warnings] == ["W151"]


def test_policies_without_bidi_controls_have_no_warnings():
    assert exportdsl.load(REPO / "policies" / "quickstart.xpol").warnings == ()


# ---- 10. actionable messages ------------------------------------------------------------------------

def only_help(text: str) -> tuple[str, str, str]:
    (diag,) = error_of(text).diagnostics
    return diag.code, diag.message, diag.help or ""


def test_bare_fraction_for_a_percent_says_how_it_is_read():
    code, message, help_text = only_help(HEAD + "rule R { p >= 0.5 -> deny }")
    assert code == "E204" and "percent" in message
    assert "write 0.5% for 0.5 percent" in help_text and "50 percent" in help_text and "write 50%" in help_text


def test_percent_sign_after_a_space():
    code, _, help_text = only_help(HEAD + "rule R { p >= 50 % -> deny }")
    assert code == "E101" and "50%" in help_text and "without a space" in help_text


def test_arrow_without_a_decision_lists_the_decisions():
    for text in (HEAD + "rule R { a -> }", HEAD + "rule R { a ->"):
        code, _, help_text = only_help(text)
        assert code == "E100" and "allow, deny" in help_text and "->" in help_text


@pytest.mark.parametrize("meta", ['cite "EAR 734.4"', 'title "t"', "effective 2025-01-01"])
def test_metadata_after_the_condition_says_where_it_goes(meta):
    for body in (f"a -> deny {meta}", f"a {meta} -> deny"):
        code, _, help_text = only_help(HEAD + f"rule R {{ {body} }}")
        word = meta.split()[0]
        assert code == "E100" and f"'{word}' goes at the top of the rule, before the condition" in help_text


@pytest.mark.parametrize("written, iso", [("UK", "GB"), ("China", "CN"), ("Germany", "DE"), ('"EL"', "GR"),
                                          ("USA", "US")])
def test_country_names_suggest_the_iso_code(written, iso):
    code, _, help_text = only_help(HEAD + f"rule R {{ c = {written} -> deny }}")
    assert code == "E203" and f"write {iso}" in help_text


# ---- 11. the docs state the limits the code enforces --------------------------------------------------

def test_nesting_page_states_the_limits_of_the_code():
    page = (DOCS / "diagnostics" / "E102.rst").read_text(encoding="utf-8")
    assert f"more than {MAX_NESTING} levels deep" in page
    assert f"limited to {MAX_EXPANDED_DEPTH} levels" in page
    assert "parentheses counts" in page and "64" not in page
    language = (DOCS / "language.rst").read_text(encoding="utf-8")
    assert f"- {MAX_NESTING} levels" in language and f"- {MAX_EXPANDED_DEPTH} levels" in language
    assert f"- {MAX_NUMBER_CHARS} characters" in language
    assert f"longer than {MAX_NUMBER_CHARS} characters" in (DOCS / "diagnostics" / "E106.rst").read_text()


# ---- 12. properties: any text, any bytes -------------------------------------------------------------------

def only_our_errors(action):
    try:
        return action()
    except exportdsl.Error as exc:
        assert exc.diagnostics and all(re.fullmatch(r"[EW]\d{3}", d.code) for d in exc.diagnostics)
        assert all(d.code in exportdsl.errors.CODES for d in exc.diagnostics)
        str(exc)
        return None


FRAGMENTS = ["set", "rule", "and", "not", "or", "in", "d", "R", "x", "a", "{", "}", "(", ")", "=", "->", ",",
             "1", "0.5", "50", "%", "#", '"', "\u202e", "\ufeff", "\x00", "\n", " ", "deny", "allow", "fact",
             ":", "bool", "integer", "condition", "c", "cite", "applies", "contains", "any", "is", "empty"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join)))
@example("setd={x}")                      # the mutants that crashed the formatter (KeyError)
@example("ruleR{a->deny}")
@example("rule R { x=1 ande -> deny }")
def test_any_text_raises_only_our_errors_and_what_parses_formats(text):
    module = only_our_errors(lambda: exportdsl.parse(HEAD + text))
    only_our_errors(lambda: exportdsl.compile(HEAD + text))
    only_our_errors(lambda: parse_condition(text))
    if module is not None:
        formatted = format_source(HEAD + text)        # never crashes on what parses
        assert exportdsl.parse(formatted) == module


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_in_a_file_raise_only_our_errors(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "p.xpol"
    path.write_bytes(data)
    only_our_errors(lambda: exportdsl.load(path))
    path.write_bytes(HEAD.encode() + data)
    only_our_errors(lambda: exportdsl.load(path))
