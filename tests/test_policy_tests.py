"""Authors' YAML policy tests (``exportdsl test``, ``exportdsl.testing``): every bad test is reported
with its file and line and the good ones still run; hostile YAML (aliases, NaN, deep nesting,
duplicate keys, huge or special files) is refused quickly with a clear error.
"""

from __future__ import annotations

import json
import os
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exportdsl import UsageError, testing
from exportdsl.cli import main
from exportdsl.errors import CODES
from exportdsl.yaml_input import MAX_BYTES, MAX_DEPTH, YamlProblem, parse_yaml, read_yaml

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "policies" / "quickstart.xpol"
SHIPMENT = {"ship_date": "2025-12-01", "origin": "CN", "export_from": "JP", "re_content": "0.1%",
            "end_use": "military", "elements": ["Nd"], "end_user": "Acme"}
HEADER = f"policy: {QUICKSTART}\ndefaults: {json.dumps(SHIPMENT)}\ntests:\n"
GOOD = "  - name: design card\n    facts: {}\n    expect: deny\n    rules: [Q1]\n"


def write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---- every bad test reported, with its line; the good ones run ----------------------------------

BAD_TESTS = [
    # (test text, line of the problem within the test (1 = its first line), words of the message)
    ("  - name: rules as text\n    facts: {}\n    expect: deny\n    rules: Q1\n", 4,
     "'rules' must be a list of rule ids"),
    ("  - name: rules as a mapping\n    facts: {}\n    expect: deny\n    rules: {Q1: true}\n", 4,
     "'rules' must be a list of rule ids"),
    ("  - name: expect as a list\n    facts: {}\n    expect: [deny]\n", 3, "'expect' must be a decision name"),
    ("  - name: a code that is no code\n    facts: {end_use: army}\n    error: E33\n", 3,
     "'E33' is not a diagnostic code; did you mean 'E303'?"),
    ("  - name: misspelt key\n    facts: {}\n    expcet: deny\n", 3, "unknown key 'expcet'; did you mean 'expect'?"),
    ("  - name: misspelt decision\n    facts: {}\n    expect: dney\n", 3, "did you mean 'deny'?"),
    ("  - name: misspelt rule\n    facts: {}\n    expect: deny\n    rules: [Q11]\n", 4,
     "rule 'Q11' is not a rule of the policy; did you mean 'Q1'?"),
    ("  - name: both\n    facts: {}\n    expect: deny\n    error: E303\n", 1, "both 'expect' and 'error'"),
    ("  - name: neither\n    facts: {}\n", 1, "needs 'expect' (a decision) or 'error'"),
    ("  - name: no facts\n    expect: deny\n", 1, "needs 'facts'"),
    ("  - name: facts as a list\n    facts: [CN]\n    expect: deny\n", 2, "'facts' must be a mapping"),
    ("  - name: rules with an error\n    facts: {end_use: army}\n    error: E303\n    rules: [Q1]\n", 4,
     "'rules' goes with 'expect'"),
    ("  - name: a registered-looking code\n    facts: {}\n    error: E399\n", 3, "'E399' is not a diagnostic code"),
    ("  - 42\n", 1, "a test is a mapping"),
    ("  - name: a rule twice\n    facts: {}\n    expect: deny\n    rules: [Q1, Q1]\n", 4, "names a rule twice"),
]


@pytest.mark.parametrize("bad, offset, words", BAD_TESTS, ids=[b[0].split("\n")[0][4:] for b in BAD_TESTS])
def test_a_bad_test_is_reported_with_its_line_and_the_others_run(tmp_path, bad, offset, words):
    path = write(tmp_path, HEADER + GOOD + bad + GOOD)
    suite = testing.load_suite(path)
    assert [t.name for t in suite.tests] == ["design card", "design card"]
    assert suite.not_run == 1
    assert [d.code for d in suite.problems] and {d.code for d in suite.problems} == {"E306"}
    first_line = HEADER.count("\n") + GOOD.count("\n") + 1
    messages = [d.message for d in suite.problems]
    assert any(m.startswith(f"{path}:{first_line + offset - 1}: test #2: ") and words in m for m in messages), messages
    assert all(r.passed for r in testing.run_suite(suite))


def test_every_bad_test_of_a_file_is_reported_and_the_cli_exits_2(tmp_path, capsys):
    path = write(tmp_path, HEADER + GOOD + "".join(b for b, _, _ in BAD_TESTS) + GOOD)
    code, out, err = run(["test", path], capsys)
    assert code == 2
    for number in range(2, 2 + len(BAD_TESTS)):
        assert f": test #{number}: " in err
    assert f"2 passed, 0 failed, {len(BAD_TESTS)} not run" in out
    assert "Traceback" not in err


@pytest.mark.parametrize("text, words", [
    ("tests: []\n", "needs 'policy'"),
    (f"policy: {QUICKSTART}\n", "needs 'tests'"),
    (f"policy: {QUICKSTART}\ntests: {{a: 1}}\n", "'tests' must be a list of tests"),
    (f"policy: {QUICKSTART}\ntests: []\nexpect: deny\n", "unknown key 'expect'"),
    (f"policy: {QUICKSTART}\ndefaults: [1]\ntests: []\n", "'defaults' must be a mapping"),
    ("- a\n", "a test file is a mapping"),
    ("", "a test file is a mapping"),
    ("policy: /etc/passwd\ntests: []\n", "must name a .xpol policy file"),
    ("policy: nowhere.xpol\ntests: []\n", "is not a policy file"),
])
def test_a_bad_file_is_one_error(tmp_path, text, words):
    with pytest.raises(UsageError) as caught:
        testing.load_suite(write(tmp_path, text))
    assert {d.code for d in caught.value.diagnostics} == {"E306"}
    assert words in str(caught.value)


def test_the_policy_path_is_read_only_when_it_is_a_regular_xpol_file(tmp_path):
    os.mkfifo(tmp_path / "fifo.xpol")
    with pytest.raises(UsageError, match="is not a policy file"):
        testing.load_suite(write(tmp_path, "policy: fifo.xpol\ntests: []\n"))


# ---- hostile YAML -------------------------------------------------------------------------------

ALIAS_BOMB = "\n".join(
    [f"policy: {QUICKSTART}", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(ord('b') + i)}: &{chr(ord('b') + i)} [" + ",".join([f"*{chr(ord('a') + i)}"] * 9) + "]"
       for i in range(8)]
    + ["tests: []", ""]
)


@pytest.mark.parametrize("text, code, words", [
    (ALIAS_BOMB, "E306", "anchors (&a) are not allowed"),
    (HEADER + "  - {name: x, facts: {re_content: *x}, expect: deny}\n", "E306", "aliases (*x) are not allowed"),
    (HEADER + "  - {name: x, facts: {re_content: .nan}, expect: deny}\n", "E306", ".nan is not a finite number"),
    (HEADER + "  - {name: x, facts: {re_content: -.inf}, expect: deny}\n", "E306", "-.inf is not a finite number"),
    (HEADER + "  - {name: x, facts: {re_content: !!float nan}, expect: deny}\n", "E306", "not a finite number"),
    (HEADER + "  - {name: x, facts: {re_content: " + "9" * 5000 + "}, expect: deny}\n", "E320",
     "a number longer than"),
    (HEADER + "  - {name: x, facts: {re_content: 1}, expect: deny}\n" + "  - x: " + "[" * 5000 + "]" * 5000 + "\n",
     "E320", f"nested deeper than {MAX_DEPTH} levels"),
    (HEADER + "  - {name: x, facts: {a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}, expect: deny}\n",
     "E320", f"nested deeper than {MAX_DEPTH} levels"),
    (HEADER + "  - name: x\n    facts: {}\n    expect: deny\n    expect: not_controlled\n", "E306",
     "t.yaml:7: duplicate key 'expect'"),
    (HEADER.replace("tests:", "<<: {a: 1}\ntests:"), "E306", "merge keys (<<) are not allowed"),
    (HEADER + "  - {name: x, facts: {1: 2}, expect: deny}\n", "E306", "a mapping key must be text"),
    (HEADER + "  - {name: x, facts: {end_user: !!python/object/apply:os.system [true]}, expect: deny}\n", "E306",
     "could not determine a constructor"),
    (HEADER + "  - {name: x, facts: {end_user: \x07}, expect: deny}\n", "E306", "U+0007 is not allowed"),
    (HEADER + "\n---\n" + HEADER, "E306", "expected a single document"),
])
def test_hostile_yaml_is_refused_with_a_clear_error(tmp_path, text, code, words):
    with pytest.raises(UsageError) as caught:
        testing.load_suite(write(tmp_path, text))
    assert [d.code for d in caught.value.diagnostics] == [code]
    assert words in str(caught.value)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    path = write(tmp_path, HEADER + "#" + "x" * MAX_BYTES + "\n")
    with pytest.raises(UsageError) as caught:
        testing.load_suite(path)
    assert [d.code for d in caught.value.diagnostics] == ["E320"] and "limit" in str(caught.value)


def test_a_file_at_the_size_limit_is_read(tmp_path):
    text = HEADER + GOOD
    path = write(tmp_path, text + "#" * (MAX_BYTES - len(text.encode()) - 1) + "\n")
    assert path.stat().st_size == MAX_BYTES
    assert len(testing.load_suite(path).tests) == 1


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_only_regular_files_are_read(tmp_path, capsys, special):
    if special == "fifo":
        special = tmp_path / "t.yaml"
        os.mkfifo(special)
    # A FIFO with no writer would block an open() for reading forever; it is refused at once.
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("code", main(["test", str(special)])), daemon=True)
    thread.start()
    thread.join(30)
    assert outcome.get("code") == 2
    assert "E401" in capsys.readouterr().err


def test_special_files_in_a_folder_are_skipped_and_named_ones_refused(tmp_path):
    os.mkfifo(tmp_path / "p.xpol")
    os.mkfifo(tmp_path / "t.yaml")
    assert testing.discover([str(tmp_path)]) == ([], [])
    with pytest.raises(UsageError, match="not a regular file"):
        testing.discover([str(tmp_path / "p.xpol")])


def test_a_folder_is_not_read_as_a_file(tmp_path):
    with pytest.raises(UsageError, match="E401.*not a regular file|not a regular file"):
        testing.load_suite(tmp_path)


def test_not_utf8_is_an_error_with_the_line(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_bytes(HEADER.encode() + b"  - {name: \xff}\n")
    with pytest.raises(UsageError, match=r"t.yaml:4: not UTF-8"):
        testing.load_suite(path)


# ---- values ------------------------------------------------------------------------------------

def test_scalars_follow_yaml_1_2_and_numbers_are_exact():
    data = parse_yaml("a: [0.1, NO, yes, 2025-12-01, 12:30, 0x1F, 0o17, true, ~, 1e3, -5, 1_000]\n").data
    assert data["a"] == [Decimal("0.1"), "NO", "yes", "2025-12-01", "12:30", 31, 15, True, None,
                         Decimal("1e3"), -5, "1_000"]
    assert isinstance(data["a"][0], Decimal)


def test_unquoted_dates_and_norway_work_in_a_test(tmp_path, capsys):
    text = (f"policy: {QUICKSTART}\ndefaults: {{ship_date: 2025-12-01, origin: NO, export_from: CN, "
            "re_content: 0, end_use: civil, elements: [Dy], end_user: Acme}\ntests:\n"
            "  - {name: heavy rare earths leave China, facts: {}, expect: license_required, rules: [Q2]}\n")
    code, out, err = run(["test", write(tmp_path, text)], capsys)
    assert (code, out.strip(), err) == (0, "1 passed, 0 failed", "")


def test_the_lines_of_a_document_point_at_each_value():
    document = parse_yaml("a: 1\nb:\n  - x\n  - {c: [1,\n      2]}\n")
    assert document.line_of(["a"]) == 1
    assert document.line_of(["b", 1, "c", 1]) == 5
    assert document.line_of(["b", 7]) == 3  # the nearest parent: the list, which starts on line 3
    assert document.key_line(["b", 1], "c") == 4


def test_a_failure_shows_untrusted_text_escaped(tmp_path, capsys):
    text = HEADER + '  - name: "evil \\e[2J\\u202e name"\n    facts: {end_user: "x\\e]0;t\\a"}\n    expect: deny\n' \
        '    rules: [Q2]\n'
    code, out, _ = run(["test", write(tmp_path, text)], capsys)
    assert code == 1 and "FAIL" in out
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "evil \\x1b[2J\\u202e name" in out


# Text made of YAML's punctuation, so that most examples reach the parser's corners.
_YAML_TEXT = st.lists(st.sampled_from(list("[]{}:,-?&*!|>'\"#%@`~ \n\t.0123456789eE+") +
                                     ["a", "NO", "nan", ".inf", "<<", "\u202e", "\x85", "\ufeff", "\x00"]),
                      max_size=60).map("".join)


@given(_YAML_TEXT)
def test_any_text_is_read_or_refused_with_a_yaml_problem(text):
    try:
        parse_yaml(text)
    except YamlProblem as exc:
        assert exc.message and (exc.line is None or exc.line >= 1)


@given(_YAML_TEXT)
def test_any_test_file_is_loaded_or_refused_with_a_registered_code(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("suite")
    path = folder / "t.yaml"
    path.write_text(HEADER + "  - " + text + "\n", encoding="utf-8")
    try:
        suite = testing.load_suite(path)
    except UsageError as exc:
        assert all(d.code in CODES for d in exc.diagnostics)
    else:
        assert all(d.code == "E306" for d in suite.problems)
        testing.run_suite(suite)


def test_read_yaml_reads_a_regular_file(tmp_path):
    assert read_yaml(write(tmp_path, "a: [x]\n")).data == {"a": ["x"]}
