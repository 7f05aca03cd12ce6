"""``exportdsl fmt``: the canonical layout (goldens), its properties on random policies, and the command line.

``pytest --update-goldens`` rewrites tests/golden/fmt/*.expected.xpol from the current output; review
the diff by hand before committing it.
"""

from __future__ import annotations

import io
import re
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import exportdsl
import policygen
from exportdsl import fmt
from exportdsl.cli import main
from exportdsl.fmt import FormatError, format_source

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = Path(__file__).resolve().parent / "golden" / "fmt"
GOLDEN_INPUTS = sorted(p for p in GOLDEN_DIR.glob("*.xpol") if not p.name.endswith(".expected.xpol"))
DESIGN_CARD = "origin=CN and re_content>=0.1% and end_use in defense -> deny"


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def comment_texts(text: str) -> list[str]:
    return [c.text.rstrip() for c in exportdsl.parse(text).comments]


# ---- goldens ----------------------------------------------------------------------------------------

def test_there_are_goldens():
    assert len(GOLDEN_INPUTS) >= 8
    expected = {p.name for p in GOLDEN_DIR.glob("*.expected.xpol")}
    assert expected == {p.stem + ".expected.xpol" for p in GOLDEN_INPUTS}, "every golden input needs its output"


@pytest.mark.parametrize("path", GOLDEN_INPUTS, ids=lambda p: p.stem)
def test_golden(path: Path, update_goldens: bool):
    source = path.read_text(encoding="utf-8")
    actual = format_source(source, f"tests/golden/fmt/{path.name}")
    golden = path.with_name(path.stem + ".expected.xpol")
    if update_goldens:
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"no golden for {path.name}: run pytest --update-goldens and review it"
    assert actual == golden.read_text(encoding="utf-8")
    assert source != actual, "a golden input should need formatting"
    # Independently of the golden text: a fixed point, the same tree, the same comments.
    assert format_source(actual) == actual
    assert exportdsl.parse(actual).decls == exportdsl.parse(source).decls
    assert comment_texts(actual) == comment_texts(source)


# ---- layout rules, one at a time ------------------------------------------------------------------------

HEAD = "decisions a < b\nfact x: integer\nfact p: bool\nfact q: bool\nfact s: string\nfact r: percent\n"


def body(condition: str) -> str:
    """The formatted body line(s) of ``rule R { condition -> b }``."""
    out = format_source(HEAD + f"rule R {{ {condition} -> b }}\n")
    return out.split("rule R {\n", 1)[1].rsplit("\n}\n", 1)[0]


@pytest.mark.parametrize("written, formatted", [
    ("x=1", "    x = 1 -> b"),
    ("p or q and x>=2", "    p or (q and x >= 2) -> b"),          # mixed and/or: parentheses added
    ("(p or q) and ((x != 2))", "    (p or q) and x != 2 -> b"),  # needed ones kept, redundant ones dropped
    ("p and (q and p)", "    p and (q and p) -> b"),             # a nested chain stays nested
    ("not (x = 1) and not p and not (not q)", "    not (x = 1) and not p and not not q -> b"),
    ("r >= 0.10% and r < +5.50%", "    r >= 0.10% and r < +5.50% -> b"),  # literals exactly as written
    ('s = "tab\there" and s != "q\\"uote"', '    s = "tab\\there" and s != "q\\"uote" -> b'),
    ("s in {\"A\",\"B\",}", '    s in {"A", "B"} -> b'),
    ("true or false", "    true or false -> b"),
])
def test_condition_layout(written, formatted):
    assert body(written) == formatted


def test_long_condition_breaks_before_operators_and_shows_nesting():
    operands = " and ".join(f"x != {i}000000" for i in range(8))
    lines = body(f"p and ({operands} or q) and q").split("\n")
    assert lines == ["    p", "    and (", "        (", *[("            " if i == 0 else "            and ")
                                                           + f"x != {i}000000" for i in range(8)],
                     "        )", "        or q", "    )", "    and q", "    -> b"]
    assert all(len(line) <= fmt.WIDTH for line in lines)


def test_decision_moves_to_its_own_line_before_the_condition_breaks():
    condition = " and ".join(["x != 1234567"] * 5 + ["x != 12"])
    assert len("    " + condition) <= 100 < len(f"    {condition} -> b")
    assert body(condition) == f"    {condition}\n    -> b"


def test_long_lists_are_one_value_per_line():
    values = [f'"Entity number {i}"' for i in range(6)]
    out = format_source(HEAD + f"set listed = {{{', '.join(values)}}}\n")
    assert "set listed = {\n" + "".join(f"    {v},\n" for v in values) + "}\n" in out


def test_blank_lines_collapse_and_separate_groups():
    text = "decisions a < b\n\n\n\nfact x: integer\nfact y: integer\nset s = {1}\nrule R { x in s -> b }\n"
    assert format_source(text) == ("decisions a < b\n\nfact x: integer\nfact y: integer\n\nset s = {1}\n\n"
                                   "rule R {\n    x in s -> b\n}\n")


def test_metadata_in_fixed_order_and_suspensions():
    text = ('decisions a < b\ndated by d\nfact d: date\nrule R { until 2026-01-01 cite "c" effective 2025-01-01 '
            'title "t" true -> b }\nsuspension S { suspends R until 2025-02-01 effective 2025-01-15 }\n')
    out = format_source(text)
    assert ('rule R {\n    title "t"\n    cite "c"\n    effective 2025-01-01\n    until 2026-01-01\n'
            '    true -> b\n}\n\nsuspension S {\n    effective 2025-01-15\n    until 2025-02-01\n    suspends R\n}\n'
            ) in out


def test_comments_inside_a_condition_keep_it_broken_and_in_order():
    text = HEAD + "rule R {\n  p and # first\n  # second\n  q -> b # third\n}\n"
    out = format_source(text)
    assert out.endswith("rule R {\n    p  # first\n    # second\n    and q\n    -> b  # third\n}\n")
    assert comment_texts(out) == ["# first", "# second", "# third"]


def test_fmt_off_keeps_text_byte_for_byte():
    kept = "rule K {x=1->b}   \n  set   s={1,2}\n"
    text = HEAD + "rule A {x=2->b}\n# fmt: off\n" + kept + "# fmt: on\nrule Z {x=3->b}\n"
    out = format_source(text)
    assert "# fmt: off\n" + kept + "# fmt: on\n" in out
    assert "rule A {\n    x = 2 -> b\n}" in out and "rule Z {\n    x = 3 -> b\n}" in out


def test_quickstart_keeps_the_design_card_verbatim():
    text = (ROOT / "policies" / "quickstart.xpol").read_text(encoding="utf-8")
    assert format_source(text) == text
    assert f"    {DESIGN_CARD}\n" in text
    assert DESIGN_CARD not in format_source(text.replace("# fmt: off\n", "").replace("# fmt: on\n", ""))


def test_syntax_errors_are_parse_errors():
    with pytest.raises(exportdsl.ParseError) as info:
        format_source("decisions a < b\nrule R { x = -> b }\n", "bad.xpol")
    assert info.value.diagnostics[0].code == "E100"


def test_output_that_changes_the_meaning_is_refused(monkeypatch):
    monkeypatch.setattr(fmt._Formatter, "format", lambda self: "decisions a < b\n")
    with pytest.raises(FormatError) as info:
        format_source(HEAD + "rule R { p -> b }\n", "x.xpol")
    assert info.value.diagnostics[0].code == "E403"
    monkeypatch.setattr(fmt._Formatter, "format", lambda self: self.text.replace("# gone\n", ""))
    with pytest.raises(FormatError, match="comment"):
        format_source(HEAD + "# gone\nrule R { p -> b }\n", "x.xpol")


# ---- properties on random policies ----------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_COMMENT_FORMS = [
    "  {text}\n",            # at the end of a line
    "\n{text}\n",            # on its own line
    "\n        {text}\n",    # on its own line, indented
    "\n\n{text}\n\n",        # between blank lines
]
_COMMENT_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12).map(
    lambda s: s.replace("fmt:", "fmt"))


@st.composite
def commented_policies(draw) -> tuple[policygen.PolicySpec, str, list[str]]:
    """A random policy with comments inserted between tokens (also inside conditions and lists)."""
    spec = draw(policygen.policies())
    text = spec.text
    strings = [m.span() for m in _STRING.finditer(text)]
    spots = [i for i, ch in enumerate(text) if ch in " \n" and not any(a <= i < b for a, b in strings)]
    chosen = sorted(draw(st.lists(st.sampled_from(spots), min_size=1, max_size=10, unique=True)))
    pieces, texts, last = [], [], 0
    for k, spot in enumerate(chosen):
        comment = f"# c{k} {draw(_COMMENT_TEXT)}".rstrip()
        pieces += [text[last:spot], draw(st.sampled_from(_COMMENT_FORMS)).format(text=comment)]
        texts.append(comment)
        last = spot
    pieces.append(text[last:])
    return spec, "".join(pieces), texts


def _without_trailing_comment(line: str) -> str:
    return re.sub(r"  # c\d+.*$", "", line)


def test_fmt_is_idempotent_and_keeps_the_tree_and_every_comment():
    stats = Counter()

    @settings(max_examples=300, deadline=None)
    @given(commented_policies())
    def check(case):
        _, text, comments = case
        out = format_source(text)
        assert format_source(out) == out, text
        assert exportdsl.parse(out).decls == exportdsl.parse(text).decls
        assert comment_texts(out) == comments
        for line in out.split("\n"):
            code = _without_trailing_comment(line)
            # Only a line holding a single operand, which cannot be broken, may pass the limit.
            operand = re.sub(r"^ *(and |or )?", "", code)
            assert len(code) <= fmt.WIDTH or (" and " not in operand and " or " not in operand), line
        stats["examples"] += 1
        stats["comments in rules"] += bool(re.search(r"^rule [^}]*# c\d", out, re.MULTILINE))
        stats["broken conditions"] += bool(re.search(r"^ +(and|or) ", out, re.MULTILINE))
        stats["groups"] += bool(re.search(r"\($", out, re.MULTILINE))
        stats["lists"] += bool(re.search(r"(=|in|any|all|enum) \{$", out, re.MULTILINE))

    check()
    for key in ("comments in rules", "broken conditions", "groups", "lists"):
        assert stats[key] >= 0.03 * stats["examples"], stats


def test_formatted_policy_decides_the_same():
    @settings(max_examples=150, deadline=None)
    @given(commented_policies(), st.data())
    def check(case, data):
        spec, text, _ = case
        before, after = exportdsl.compile(text), exportdsl.compile(format_source(text))
        for _ in range(5):
            tx = data.draw(policygen.transactions(spec), label="transaction")
            assert before.decide(tx) == after.decide(tx)

    check()


def test_semantic_diff_of_formatting_is_empty():
    @settings(max_examples=60, deadline=None)
    @given(commented_policies())
    def check(case):
        _, text, _ = case
        result = exportdsl.diff(exportdsl.compile(text), exportdsl.compile(format_source(text)))
        assert result.complete and not result.regions and not result.structural

    check()


# ---- command line ----------------------------------------------------------------------------------------

UGLY = "decisions a<b\nfact x: integer\nrule R {x=1->b}\n"
PRETTY = "decisions a < b\n\nfact x: integer\n\nrule R {\n    x = 1 -> b\n}\n"


def test_policies_are_formatted(capsys):
    code, out, err = run(["fmt", "--check", str(ROOT / "policies")], capsys)
    assert (code, out, err) == (0, "", "")


def test_fmt_rewrites_files_in_place(tmp_path, capsys):
    path = tmp_path / "p.xpol"
    path.write_text(UGLY, encoding="utf-8")
    code, out, err = run(["fmt", str(path)], capsys)
    assert (code, out) == (0, "") and f"reformatted {path}" in err
    assert path.read_text(encoding="utf-8") == PRETTY
    assert run(["fmt", str(path)], capsys) == (0, "", "")   # already formatted: nothing to say


def test_check_names_the_files_that_would_change_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    ugly, pretty = tmp_path / "sub" / "ugly.xpol", tmp_path / "pretty.xpol"
    ugly.write_text(UGLY, encoding="utf-8")
    pretty.write_text(PRETTY, encoding="utf-8")
    (tmp_path / ".hidden" / "skipped.xpol").write_text(UGLY, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(UGLY, encoding="utf-8")
    code, out, err = run(["fmt", "--check", str(tmp_path)], capsys)
    assert (code, out, err) == (1, f"would reformat {ugly}\n", "")
    assert ugly.read_text(encoding="utf-8") == UGLY
    assert run(["fmt", "--check", str(pretty)], capsys) == (0, "", "")


def test_diff_prints_a_unified_diff_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "p.xpol"
    path.write_text(UGLY, encoding="utf-8")
    code, out, err = run(["fmt", "--diff", str(path)], capsys)
    assert code == 1 and err == ""
    lines = out.split("\n")
    assert lines[0] == f"--- {path}\t(original)" and lines[1] == f"+++ {path}\t(formatted)"
    assert "-rule R {x=1->b}" in lines and "+    x = 1 -> b" in lines
    assert path.read_text(encoding="utf-8") == UGLY
    path.write_text(PRETTY, encoding="utf-8")
    assert run(["fmt", "--diff", str(path)], capsys) == (0, "", "")


def test_standard_input_to_standard_output(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(UGLY))
    assert run(["fmt", "-"], capsys) == (0, PRETTY, "")
    monkeypatch.setattr(sys, "stdin", io.StringIO(UGLY))
    assert run(["fmt", "--check", "-"], capsys) == (1, "would reformat <stdin>\n", "")


def test_syntax_error_is_a_diagnostic_and_other_files_are_still_formatted(tmp_path, capsys):
    bad, good = tmp_path / "bad.xpol", tmp_path / "good.xpol"
    bad.write_text("decisions a < b\nrule R { x = -> b }\n", encoding="utf-8")
    good.write_text(UGLY, encoding="utf-8")
    code, out, err = run(["fmt", str(bad), str(good)], capsys)
    assert code == 2 and out == ""
    assert f"{bad}:2:14: error[E100]: unexpected '->'" in err and "^^" in err and "Traceback" not in err
    assert good.read_text(encoding="utf-8") == PRETTY
    assert bad.read_text(encoding="utf-8") == "decisions a < b\nrule R { x = -> b }\n"


def test_missing_path_and_bad_usage(tmp_path, capsys):
    code, _, err = run(["fmt", str(tmp_path / "nope.xpol")], capsys)
    assert code == 2 and "error[E401]" in err
    code, _, err = run(["fmt"], capsys)
    assert code == 2 and "error[E402]" in err


def test_refusal_writes_nothing(tmp_path, monkeypatch, capsys):
    path = tmp_path / "p.xpol"
    path.write_text(UGLY, encoding="utf-8")
    monkeypatch.setattr(fmt._Formatter, "format", lambda self: "decisions a < b\n")
    code, _, err = run(["fmt", str(path)], capsys)
    assert code == 2 and "error[E403]" in err
    assert path.read_text(encoding="utf-8") == UGLY
