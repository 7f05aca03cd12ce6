"""What the language server and the studio know about a buffer, without a server: analysis
(diagnostics of unsaved text, extends, confinement, positions), symbols and completion."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exportdsl.errors import CheckError
from exportdsl.lsp.analysis import analyze, fix_of, offset_of, position_of
from exportdsl.lsp.completion import complete
from exportdsl.lsp.symbols import SymbolIndex
from exportdsl.source import Source

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "policies"


def test_a_nul_in_an_extends_path_is_an_error_not_a_crash(tmp_path):
    # regression: Path.resolve() raised ValueError (embedded null byte) out of compose.resolve
    text = 'extends "a\x00b.xpol"\ndecisions a < b\n'
    analysis = analyze(text, str(tmp_path / "p.xpol"))
    assert [d.code for d in analysis.diagnostics] == ["E104"]
    assert analysis.diagnostics[0].span.start == text.index('"a')


def test_confine_refuses_a_base_outside_before_reading_it(tmp_path):
    (tmp_path / "inside").mkdir()
    (tmp_path / "base.xpol").write_text("decisions a < b\n", encoding="utf-8")
    (tmp_path / "inside" / "link.xpol").symlink_to(tmp_path / "base.xpol")
    for target in ("../base.xpol", str(tmp_path / "base.xpol"), "link.xpol"):
        text = f'extends "{target}"\nfact x: bool\nrule R {{ x -> b }}\n'
        confined = analyze(text, str(tmp_path / "inside" / "p.xpol"), confine=(tmp_path / "inside").resolve())
        assert [d.code for d in confined.diagnostics] == ["E421"], target
        free = analyze(text, str(tmp_path / "inside" / "p.xpol"))
        assert free.policy is not None, target


def test_base_errors_are_moved_to_the_extends_line(tmp_path):
    shutil.copy(POLICIES / "cn-rare-earths-2025-04.xpol", tmp_path)
    with (tmp_path / "cn-rare-earths-2025-04.xpol").open("a", encoding="utf-8") as base:
        base.write("\nrule Z { nope -> deny }\n")
    text = (POLICIES / "cn-rare-earths-2025-10.xpol").read_text(encoding="utf-8")
    analysis = analyze(text, str(tmp_path / "cn-rare-earths-2025-10.xpol"))
    ((diag, own),) = analysis.own_diagnostics()
    assert not own and diag.span.start == text.index('"cn-rare-earths-2025-04.xpol"')
    assert diag.message.startswith("in ") and "cn-rare-earths-2025-04.xpol:" in diag.message


@given(st.text(alphabet=st.sampled_from("ab\n\U0001F600é\t"), max_size=40), st.data())
def test_positions_round_trip_with_utf16_columns(text, data):
    source = Source("<t>", text)
    offset = data.draw(st.integers(0, len(text)))
    line, character = position_of(source, offset)
    assert offset_of(source, line, character) == offset
    prefix = text[text.rfind("\n", 0, offset) + 1:offset]
    assert character == len(prefix.encode("utf-16-le")) // 2


def test_fix_of_reads_the_did_you_mean_help():
    text = (POLICIES / "quickstart.xpol").read_text(encoding="utf-8").replace("end_use in defense", "end_use in defence")
    (diag,) = analyze(text, str(POLICIES / "quickstart.xpol")).diagnostics
    assert (diag.code, fix_of(diag)) == ("E202", "defense")


@pytest.fixture(scope="module")
def october():
    path = POLICIES / "cn-rare-earths-2025-10.xpol"
    return SymbolIndex(analyze(path.read_text(encoding="utf-8"), str(path), lint=False))


def test_every_use_of_a_name_points_at_a_declaration(october):
    # differential: each occurrence's declaration is the one the checked IR knows
    policy = october.analysis.policy
    known = {"fact": set(policy.facts), "set": set(policy.sets), "condition": set(policy.conditions),
             "rule": {r.id for r in policy.rules}, "decision": set(policy.decisions),
             "suspension": set(policy.suspensions)}
    assert october.occurrences
    for occ in october.occurrences:
        assert occ.name in known[occ.kind], occ
        declared = october.definition(occ.kind, occ.name)
        assert declared is not None and declared.declaration
        assert declared.span.source.text[declared.span.start:declared.span.end] == occ.name


def test_completion_contexts(october):
    labels = lambda before: {c.label for c in complete(october, before)}  # noqa: E731
    assert labels("    x -> ") == set(october.analysis.policy.decisions)
    assert "CN" in labels("condition c = export_to = ") and "deny" not in labels("condition c = export_to = ")
    assert labels("  item in {metal, ") == set(october.analysis.policy.facts["item"].type.values)
    assert labels("  elements contains any {") == set(october.analysis.policy.facts["elements"].type.element.values)
    assert labels("  applies(O6, ") == {r.id for r in october.analysis.policy.rules}
    assert "defence_end_uses" in labels("  end_use not in ")
    assert {"true", "false"} == labels("  end_user_military = ")
    assert labels("  re_content >= ") == set()           # no values to propose for a percent
    snippets = [c for c in complete(october, "") if c.snippet]
    assert len(snippets) == 1 and snippets[0].label == "rule"


def test_a_missing_extra_is_named():
    from exportdsl.errors import UsageError
    from exportdsl.lsp.command import needs_extra

    with pytest.raises(UsageError) as raised:
        needs_extra("lsp", "json", "exportdsl_no_such_module")
    (diag,) = raised.value.diagnostics
    assert diag.code == "E420" and "exportdsl_no_such_module" in diag.message and "json" not in diag.message
    assert diag.help == "pip install 'exportdsl[lsp]'"
    needs_extra("lsp", "json")   # present: nothing raised
