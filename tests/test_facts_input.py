"""Reading facts files (exportdsl.facts_input) and `exportdsl eval` streaming over them: line
splitting, encodings, duplicated keys, nesting and number bounds, file kinds, size bounds, and
bounded memory on a large JSON Lines file."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from exportdsl import Error, UsageError
from exportdsl.cli import main
from exportdsl.facts_input import MAX_LINE_BYTES, MAX_NESTING, loads_facts, read_transactions, transactions
from exportdsl.semantics import NumberText

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "policies" / "quickstart.xpol")
SHIPMENT = {"ship_date": "2025-12-01", "origin": "CN", "export_from": "JP", "re_content": 0.1,
            "end_use": "military", "elements": ["Nd"], "end_user": "Acme"}
LINE = json.dumps(SHIPMENT)


def read(data: bytes) -> list[tuple[int, object]]:
    return list(transactions(io.BytesIO(data)))


def codes(value) -> list[str]:
    assert isinstance(value, Error), value
    return [d.code for d in value.diagnostics]


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# ---- line splitting -----------------------------------------------------------------------------

@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c"])
def test_lines_split_on_newline_only(separator):
    # str.splitlines() also splits on these: a good line was cut in two and the numbers shifted.
    first = json.dumps({**SHIPMENT, "end_user": f"Ac{separator}me"}, ensure_ascii=False)
    rows = read((first + "\n" + LINE + "\n").encode())
    assert [number for number, _ in rows] == [1, 2]
    assert rows[0][1]["end_user"] == f"Ac{separator}me"
    assert rows[1][1] == {**SHIPMENT, "re_content": Decimal("0.1")}


def test_crlf_line_endings_and_blank_lines_keep_their_numbers():
    data = ("\r\n" + LINE + "\r\n\r\n  \r\n" + LINE + "\r\n").encode()
    rows = read(data)
    assert [number for number, _ in rows] == [2, 5]
    assert all(isinstance(value, dict) for _, value in rows)


def test_bad_line_is_reported_with_its_number_and_later_lines_decided():
    rows = read((LINE + "\n{not json\n\n" + LINE + "\n").encode())
    assert [number for number, _ in rows] == [1, 2, 4]
    assert codes(rows[1][1]) == ["E305"] and "column 2" in rows[1][1].diagnostics[0].message
    assert isinstance(rows[2][1], dict)


def test_bad_first_line_still_reads_the_other_lines():
    rows = read(("{\"origin\": \n" + LINE + "\n").encode())
    assert [number for number, _ in rows] == [1, 2]
    assert codes(rows[0][1]) == ["E305"] and isinstance(rows[1][1], dict)


def test_one_object_over_several_lines_and_arrays():
    pretty = json.dumps(SHIPMENT, indent=2)
    assert read(pretty.encode()) == [(1, {**SHIPMENT, "re_content": Decimal("0.1")})]
    rows = read(("\n" + json.dumps([SHIPMENT, SHIPMENT], indent=2) + "\n").encode())
    assert [number for number, _ in rows] == [1, 2]
    one_line = read(json.dumps([SHIPMENT, SHIPMENT, SHIPMENT]).encode())
    assert [number for number, _ in one_line] == [1, 2, 3]


def test_bad_array_names_the_line_of_the_error():
    text = "[\n" + LINE + ",\n" + LINE[:-1] + ",,}\n]\n"
    rows = read(text.encode())
    assert len(rows) == 1 and rows[0][0] == 3 and codes(rows[0][1]) == ["E305"]


# ---- encodings ----------------------------------------------------------------------------------

def test_utf8_byte_order_mark_is_skipped():
    assert read(b"\xef\xbb\xbf" + LINE.encode() + b"\n") == [(1, {**SHIPMENT, "re_content": Decimal("0.1")})]
    rows = read(b"\xef\xbb\xbf" + LINE.encode() + b"\n" + LINE.encode() + b"\n")
    assert [number for number, _ in rows] == [1, 2]


def test_non_utf8_line_is_e305_with_its_line_and_others_decided():
    rows = read(LINE.encode() + b'\n{"end_user": "\xff\xfe"}\n' + LINE.encode() + b"\n")
    assert [number for number, _ in rows] == [1, 2, 3]
    assert codes(rows[1][1]) == ["E305"] and "UTF-8" in rows[1][1].diagnostics[0].message
    assert isinstance(rows[2][1], dict)


def test_utf16_file_is_an_error_not_a_crash():
    rows = read(LINE.encode("utf-16"))
    assert rows and all(isinstance(value, Error) for _, value in rows)


# ---- duplicated keys, nesting, numbers ------------------------------------------------------------

def test_duplicated_fact_is_an_error_naming_it():
    with pytest.raises(Exception) as info:
        loads_facts('{"origin": "cn", "re_content": 5, "origin": "CN"}')
    assert info.value.diagnostic.code == "E307" and "'origin'" in info.value.diagnostic.message
    rows = read(b'{"origin": "cn", "origin": "CN"}\n' + LINE.encode() + b"\n")
    assert codes(rows[0][1]) == ["E307"] and isinstance(rows[1][1], dict)


def test_duplicated_key_in_a_nested_object_names_the_fact():
    rows = read(b'{"elements": [{"a": 1, "a": 2}], "origin": "CN"}\n')
    assert codes(rows[0][1]) == ["E307"]
    assert "'a'" in rows[0][1].diagnostics[0].message and "'elements'" in rows[0][1].diagnostics[0].message


def test_duplicated_fact_in_one_array_element_rejects_that_element_only():
    text = "[" + LINE + ', {"origin": "CN", "origin": "US"}, ' + LINE + "]"
    rows = read(text.encode())
    assert [number for number, _ in rows] == [1, 2, 3]
    assert isinstance(rows[0][1], dict) and codes(rows[1][1]) == ["E307"] and isinstance(rows[2][1], dict)


@pytest.mark.parametrize("depth", [MAX_NESTING, 1_000, 100_000])
def test_deep_nesting_rejects_that_line_only(depth):
    deep = '{"origin": ' + "[" * depth + "]" * depth + "}"
    rows = read((LINE + "\n" + deep + "\n" + LINE + "\n").encode())
    assert [number for number, _ in rows] == [1, 2, 3]
    assert codes(rows[1][1]) == ["E308"]
    assert isinstance(rows[0][1], dict) and isinstance(rows[2][1], dict)


def test_nesting_up_to_the_limit_is_read():
    value = loads_facts('{"a": ' + "[" * (MAX_NESTING - 1) + "]" * (MAX_NESTING - 1) + "}")
    assert isinstance(value["a"], list)


@pytest.mark.parametrize("text", ["1" * 4301, "1" * 20_000, "1e999999999999999999999", "1." + "5" * 5000])
def test_long_or_huge_numbers_stay_text(text):
    value = loads_facts('{"n": ' + text + "}")["n"]
    assert isinstance(value, NumberText) and value.text == text


def test_numbers_are_exact_decimals():
    value = loads_facts('{"a": 0.1, "b": 1e5, "c": 12, "d": 1e999999999}')
    assert value == {"a": Decimal("0.1"), "b": Decimal("1e5"), "c": 12, "d": Decimal("1e999999999")}
    assert type(value["c"]) is int


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(constant):
    rows = read(('{"re_content": ' + constant + "}\n").encode())
    assert codes(rows[0][1]) == ["E305"]


# ---- files and bounds -----------------------------------------------------------------------------

def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "facts.fifo"
    os.mkfifo(fifo)
    with pytest.raises(UsageError) as info:
        list(read_transactions(str(fifo)))
    assert [d.code for d in info.value.diagnostics] == ["E404"] and "facts.fifo" in str(info.value)


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null", "."])
def test_devices_and_folders_are_refused(path):
    with pytest.raises(UsageError) as info:
        list(read_transactions(path))
    assert [d.code for d in info.value.diagnostics] == ["E404"]


def test_dev_zero_on_the_command_line_exits_2(capsys):
    code, out, err = run(["eval", QUICKSTART, "--facts", "/dev/zero"], capsys)
    assert code == 2 and "E404" in err and "/dev/zero" in err


def test_over_long_line_is_e405_after_the_lines_before_it(tmp_path):
    path = tmp_path / "f.jsonl"
    with open(path, "w") as out:
        out.write(LINE + "\n")
        out.write('{"end_user": "' + "x" * MAX_LINE_BYTES + '"}\n')
        out.write(LINE + "\n")
    rows = list(read_transactions(str(path)))
    assert [number for number, _ in rows] == [1, 2]
    assert isinstance(rows[0][1], dict) and codes(rows[1][1]) == ["E405"]


def test_a_line_of_exactly_the_limit_is_read():
    filler = MAX_LINE_BYTES - len('{"end_user": ""}\n')
    rows = read(('{"end_user": "' + "x" * filler + '"}\n').encode())
    assert rows[0][1] == {"end_user": "x" * filler}


def test_empty_input_is_e305():
    with pytest.raises(UsageError) as info:
        read(b"\n \r\n\n")
    assert [d.code for d in info.value.diagnostics] == ["E305"]


class _Recorder(io.BytesIO):
    """A stream that counts how many lines were read from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.lines_read = 0

    def readline(self, *args):
        self.lines_read += 1
        return super().readline(*args)


def test_json_lines_are_read_one_at_a_time():
    stream = _Recorder(((LINE + "\n") * 1000).encode())
    rows = transactions(stream)
    assert next(rows)[0] == 1 and next(rows)[0] == 2
    assert stream.lines_read <= 3


def test_eval_on_a_pipe_answers_each_line_before_the_next_is_written():
    # A writer that sends one line and waits for its result before sending the next: only an
    # evaluator that neither reads ahead nor holds its output back answers it.
    proc = subprocess.Popen([sys.executable, "-m", "exportdsl", "eval", QUICKSTART, "--facts", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answers = []
    try:
        for facts in (SHIPMENT, {**SHIPMENT, "origin": "JP"}):
            proc.stdin.write(json.dumps(facts) + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 120)
            assert ready, "no answer while the writer waits"
            answers.append(proc.stdout.readline())
        proc.stdin.close()
        assert proc.stdout.read() == ""
        proc.wait(timeout=120)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    assert answers == ["-:1: deny  (Q1)\n", "-:2: not_controlled\n"] and proc.returncode == 0


_PEAK_RSS = """
import resource, sys
from exportdsl.cli import main
code = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, code, file=sys.stderr)
"""


def _peak_rss_kib(tmp_path, facts: Path) -> tuple[int, list[str]]:
    """The peak RSS of ``eval --format json`` over ``facts`` (KiB), and its output lines."""
    output = tmp_path / "out.txt"
    with open(output, "w") as out:
        proc = subprocess.run([sys.executable, "-c", _PEAK_RSS, "eval", QUICKSTART, "--facts", str(facts),
                               "--format", "json"], stdout=out, stderr=subprocess.PIPE, text=True, timeout=600)
    peak, code = proc.stderr.split()[-2:]
    assert code == "2"  # one bad line in each file
    return int(peak), output.read_text().splitlines()


def test_eval_memory_stays_flat_on_a_large_json_lines_file(tmp_path):
    bad = json.dumps({**SHIPMENT, "origin": "cn"}) + "\n"
    small = tmp_path / "small.jsonl"
    small.write_text(LINE + "\n" + bad)
    large = tmp_path / "large.jsonl"
    count = 60_000  # about 10 MB
    with open(large, "w") as out:
        for index in range(count):
            out.write(bad if index == count // 2 else json.dumps({**SHIPMENT, "end_user": f"user {index}"}) + "\n")
    size_mib = large.stat().st_size / 2**20
    assert size_mib > 8
    large_peak, lines = _peak_rss_kib(tmp_path, large)
    small_peak, _ = _peak_rss_kib(tmp_path, small)
    growth_mib = (large_peak - small_peak) / 1024
    # Reading the file whole (the old reader) grows by several times its size; streaming by ~nothing.
    assert growth_mib < size_mib / 2, (growth_mib, size_mib)
    assert len(lines) == count and json.loads(lines[count // 2])["error"][0]["code"] == "E303"
    last = json.loads(lines[-1])
    assert {k: last[k] for k in ("line", "decision", "rules")} == {"line": count, "decision": "deny", "rules": ["Q1"]}
    assert last["policy"]["name"] == "quickstart" and last["policy"]["hash"].startswith("sha256:")


def test_after_a_bad_first_line_the_next_good_line_is_not_held_back():
    stream = _Recorder(("{bad\n" + (LINE + "\n") * 1000).encode())
    rows = transactions(stream)
    assert codes(next(rows)[1]) == ["E305"]
    assert next(rows) == (2, {**SHIPMENT, "re_content": Decimal("0.1")})
    assert stream.lines_read <= 3


def test_indented_object_with_an_empty_object_line_is_one_transaction():
    text = json.dumps({"origin": "CN", "extra": [{}], "elements": []}, indent=2)
    assert "\n    {}\n" in text
    assert read(text.encode()) == [(1, {"origin": "CN", "extra": [{}], "elements": []})]
