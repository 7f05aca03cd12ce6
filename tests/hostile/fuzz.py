"""Mutation fuzz of the reference policies (issue 9): mutants of ``policies/*.xpol`` must fail only
with ``exportdsl.Error`` (registered codes), and the mutants that compile must decide alike in the
reference interpreter and the compiled evaluator.

Mutations (Hypothesis strategies over the text): delete, duplicate, swap and insert tokens and
characters; splice keywords anywhere; glue a keyword to the next name; insert bytes (controls,
NUL, escape, bidi overrides, line separators, a BOM, a lone surrogate); numbers with huge digits
or exponents; deep nesting. For each mutant: ``fmt`` and ``compile`` (parse, check and compile,
as ``exportdsl check`` does before it lints), and for mutants that compile, ``lint`` (small budget) and a differential evaluation on random valid facts
drawn from the policy's fact types and the literals of its text.

``tests/test_fuzz.py`` runs a fixed, derandomized budget in ``make test``
(``EXPORTDSL_FUZZ_EXAMPLES`` raises it). The long run:

    python tests/hostile/fuzz.py --count 20000 [--out DIR] [--seed N]

prints how many mutants ran and compiled, and every failure with its traceback summary; each
failing mutant is saved to ``DIR`` (default ``fuzz-failures/``).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import re
import sys
import traceback
from collections import Counter
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import exportdsl
from exportdsl.compose import resolve
from exportdsl.errors import CODES
from exportdsl.fmt import format_source
from exportdsl.lint import Budget, lint
from exportdsl.types import COUNTRY_CODES, Kind

REPO = Path(__file__).resolve().parents[2]
POLICIES = sorted((REPO / "policies").glob("*.xpol"))
TEXTS = {path: path.read_text(encoding="utf-8") for path in POLICIES}
GRAMMAR = (REPO / "grammar" / "exportdsl.lark").read_text(encoding="utf-8")
KEYWORDS = sorted(set(re.findall(r'"([a-z]+)"', GRAMMAR)))
PUNCTUATION = ["{", "}", "(", ")", ",", ":", "=", "!=", "<", "<=", ">", ">=", "->", "%", "#", '"', "\\", "-",
               "+", ".", "\n", "\t", "*", "[", "]"]
HOSTILE_CHARS = ["\x00", "\x1b", "\x07", "\x7f", "\x85", "\u202e", "\u2066", "\u2028", "\u2029", "\ufeff",
                 "\udcff", "\r", "\u00a0", "\u200b", "\U0001f600", "é", "\t", "\x0c", "\x0b"]
HUGE_NUMBERS = ["9" * 5000, "1e999999999", "1e-999999999", "0." + "0" * 5000 + "1", "1" + "0" * 400 + "%",
                "-" + "9" * 100, "99999999999999999999999999999.5%", "1E+400", "0.1e5%", "1_000", "0x10"]
#: Tokens of a policy: strings, words, and single characters of punctuation.
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*|\d[\d.]*%?|->|[<>!]=|\S|\n')
#: Lint budget per mutant: small, the fuzz is about crashes, not findings. Counted in search nodes
#: and rule pairs, not seconds, so that a mutant lints the same way on a loaded machine.
LINT_BUDGET = Budget(max_nodes=500, max_seconds=600.0, max_pairs=5_000)


# ---- mutations ----------------------------------------------------------------------------------

def _splice(text: str, at: int, piece: str, drop: int = 0) -> str:
    return text[:at] + piece + text[at + drop:]


@st.composite
def _token_mutation(draw, text: str) -> str:
    spans = [m.span() for m in _TOKEN.finditer(text)]
    if not spans:
        return text
    start, end = draw(st.sampled_from(spans))
    op = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "replace"]))
    if op == "delete":
        return _splice(text, start, "", end - start)
    if op == "duplicate":
        return _splice(text, start, text[start:end] + " ")
    if op == "swap":
        later = [s for s in spans if s[0] >= end]
        if not later:
            return text
        s2, e2 = draw(st.sampled_from(later[:5]))
        return text[:start] + text[s2:e2] + text[end:s2] + text[start:end] + text[e2:]
    piece = draw(st.sampled_from(KEYWORDS + PUNCTUATION + [text[a:b] for a, b in spans[:200]]))
    if op == "insert":
        return _splice(text, start, piece + " ")
    return _splice(text, start, piece, end - start)


@st.composite
def _char_mutation(draw, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    op = draw(st.sampled_from(["delete", "duplicate", "insert", "hostile"]))
    if op == "delete":
        return _splice(text, at, "", 1)
    if op == "duplicate":
        return _splice(text, at, text[at:at + draw(st.integers(1, 8))])
    if op == "insert":
        return _splice(text, at, draw(st.characters(codec="utf-8") | st.sampled_from(PUNCTUATION)))
    return _splice(text, at, draw(st.sampled_from(HOSTILE_CHARS)) * draw(st.sampled_from([1, 1, 2, 100])))


@st.composite
def _keyword_mutation(draw, text: str) -> str:
    """Splice a keyword anywhere (inside a word too), or glue a keyword to the name after it."""
    if draw(st.booleans()):
        return _splice(text, draw(st.integers(0, len(text))), draw(st.sampled_from(KEYWORDS)))
    glued = [m.span(1) for m in re.finditer(r"\b(?:%s)(\s+)(?=\S)" % "|".join(KEYWORDS), text)]
    if not glued:
        return text
    start, end = draw(st.sampled_from(glued))
    return _splice(text, start, "", end - start)


@st.composite
def _number_mutation(draw, text: str) -> str:
    numbers = [m.span() for m in re.finditer(r"(?<![\w.-])\d+(?:\.\d+)?%?", text)]
    piece = draw(st.sampled_from(HUGE_NUMBERS))
    if not numbers or draw(st.integers(0, 4)) == 0:
        return _splice(text, draw(st.integers(0, len(text))), piece)
    start, end = draw(st.sampled_from(numbers))
    return _splice(text, start, piece, end - start)


@st.composite
def _nesting_mutation(draw, text: str) -> str:
    """Wrap a rule's condition in many parentheses or ``not``s, or open many and never close."""
    depth = draw(st.sampled_from([10, 40, 63, 64, 65, 200, 5000]))
    arrows = [m.start() for m in re.finditer(r"->", text)]
    bodies = [m.end() for m in re.finditer(r"\brule\s+\w+\s*\{[^}]*?\n\s*(?=[^\s]+[^\n]*->)", text)]
    kind = draw(st.sampled_from(["parens", "nots", "open"]))
    if kind == "open" or not arrows or not bodies:
        return _splice(text, draw(st.integers(0, len(text))), "(" * depth)
    start = draw(st.sampled_from(bodies))
    end = next((a for a in arrows if a > start), None)
    if end is None:
        return text
    if kind == "parens":
        return text[:start] + "(" * depth + text[start:end] + ")" * depth + " " + text[end:]
    return text[:start] + "not (" * depth + text[start:end] + ")" * depth + " " + text[end:]


MUTATIONS = [_token_mutation, _token_mutation, _char_mutation, _keyword_mutation, _number_mutation,
             _nesting_mutation]


@st.composite
def mutants(draw) -> tuple[Path, str]:
    """(reference policy, its text after one to four mutations)."""
    path = draw(st.sampled_from(POLICIES))
    text = TEXTS[path]
    for _ in range(draw(st.integers(1, 4))):
        text = draw(draw(st.sampled_from(MUTATIONS))(text))
    return path, text


# ---- valid facts for a policy that compiles ---------------------------------------------------

def _literals(text: str):
    numbers = sorted({Decimal(n) for n in re.findall(r"(?<![\w.])\d{1,12}(?:\.\d{1,12})?(?![\w.])", text)})
    dates = set()
    for raw in re.findall(r"\b\d{4}-\d{2}-\d{2}\b", text):
        try:
            day = datetime.date.fromisoformat(raw)
        except ValueError:
            continue
        dates.update(day + datetime.timedelta(days=d) for d in (-1, 0, 1) if datetime.date.min < day < datetime.date.max)
    strings = sorted(set(re.findall(r'"([^"\\\n]{0,40})"', text)))
    return numbers, sorted(dates), strings


def _value(ftype, literals):
    numbers, dates, strings = literals
    kind = ftype.kind
    if kind is Kind.BOOL:
        return st.booleans()
    if kind is Kind.INTEGER:
        pool = [int(n) for n in numbers if n == n.to_integral_value()]
        return st.one_of(st.integers(-5, 10**6), *([st.sampled_from(pool)] if pool else []))
    if kind is Kind.NUMBER:
        return st.one_of(st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**9, max_value=10**9,
                                     places=3), *([st.sampled_from(numbers)] if numbers else []))
    if kind is Kind.PERCENT:
        pool = [n for n in numbers if n <= 100]
        return st.one_of(st.decimals(min_value=0, max_value=100, places=3),
                         *([st.sampled_from(pool)] if pool else []))
    if kind is Kind.DATE:
        return st.one_of(st.dates(), *([st.sampled_from(dates)] if dates else [])).map(datetime.date.isoformat)
    if kind is Kind.COUNTRY:
        return st.sampled_from(sorted(COUNTRY_CODES))
    if kind is Kind.STRING:
        return st.one_of(st.text(max_size=5), *([st.sampled_from(strings)] if strings else []))
    if kind is Kind.ENUM:
        return st.sampled_from(ftype.values) if ftype.values else st.nothing()
    return st.lists(_value(ftype.element, literals), max_size=4)


def valid_facts(policy: exportdsl.Policy, text: str):
    """Random values of the policy's fact types, biased to the literals of its text."""
    literals = _literals(text)
    return st.fixed_dictionaries({name: _value(ftype, literals) for name, ftype in policy.facts.items()})


# ---- the properties -------------------------------------------------------------------------------

#: Crashes already known and owned by another area: (stage, exception type, function where it is
#: raised, what and who). They are counted, not failed, until the owner's fix is merged; then the
#: entry goes.
#: Crashes known and not fixed yet: (stage, exception type, function in the traceback, what). Empty: the
#: glued-keyword crashes of fmt are fixed (keywords end at a word boundary, E100).
KNOWN_FAILURES: list[tuple[str, str, str, str]] = []

class FuzzFailure(AssertionError):
    """A mutant that made a stage fail other than with a registered exportdsl.Error."""


def _our_error(stage: str, exc: BaseException) -> None:
    if not isinstance(exc, exportdsl.Error):
        raise FuzzFailure(f"{stage}: {type(exc).__name__}: {str(exc)[:300]}") from exc
    codes = [d.code for d in exc.diagnostics]
    if not codes or any(code not in CODES for code in codes):
        raise FuzzFailure(f"{stage}: exportdsl.Error with unregistered codes {codes}") from exc
    str(exc)  # renders


def known_failure(stage: str, exc: BaseException) -> str | None:
    """The KNOWN_FAILURES entry that ``exc`` (raised by ``stage``) is, or None."""
    functions = {frame.name for frame in traceback.extract_tb(exc.__traceback__)}
    for known_stage, kind, function, what in KNOWN_FAILURES:
        if stage == known_stage and type(exc).__name__ == kind and function in functions:
            return what
    return None


def _run(stage: str, call, stats: Counter):
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - every exception is judged
        known = known_failure(stage, exc)
        if known:
            stats[f"known: {known}"] += 1
            return None
        _our_error(stage, exc)
        return None


def check_mutant(path: Path, text: str, data, stats: Counter) -> None:
    """Every stage fails only with a registered exportdsl.Error; compiled mutants decide alike."""
    name = str(path)
    stats["mutants"] += 1
    _run("fmt", lambda: format_source(text, name), stats)
    policy = _run("compile", lambda: exportdsl.compile(text, name), stats)  # parse, check, compile
    if policy is None:
        return
    stats["compiled"] += 1
    findings = _run("lint", lambda: lint(policy.ir, resolve(policy.ast), budget=LINT_BUDGET), stats)
    if findings is not None and any(d.code not in CODES for d in findings):
        raise FuzzFailure(f"lint: unregistered codes {[d.code for d in findings]}")
    facts = data.draw(valid_facts(policy, text), label="facts")
    compiled = _outcome(lambda: policy.decide(facts))
    interpreted = _outcome(lambda: policy.interpret(facts))
    if compiled != interpreted:
        raise FuzzFailure(f"differential: compiled {compiled} != interpreter {interpreted} on {facts!r}")
    stats["decided" if compiled[0] == "decision" else "rejected facts"] += 1


def _outcome(call):
    try:
        return ("decision", call())
    except exportdsl.Error as exc:
        return ("error", sorted({d.code for d in exc.diagnostics}))
    except Exception as exc:  # noqa: BLE001
        raise FuzzFailure(f"evaluate: {type(exc).__name__}: {str(exc)[:300]}") from exc


# ---- the long run ------------------------------------------------------------------------------------

def _summary(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    frames = traceback.extract_tb(cause.__traceback__)[-3:]
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))
    return f"{exc} [{where}]"


def long_run(count: int, out: Path, seed: int | None) -> int:
    """Run ``count`` mutants, keep going past failures, save each failing mutant; exit 1 on a failure."""
    stats: Counter = Counter()
    failures: dict[str, tuple[str, Path]] = {}

    @settings(max_examples=count, deadline=None, database=None, derandomize=seed is None,
              suppress_health_check=list(HealthCheck))
    @given(mutants(), st.data())
    def run(mutant, data):
        path, text = mutant
        try:
            check_mutant(path, text, data, stats)
        except FuzzFailure as exc:
            summary = _summary(exc)
            signature = re.sub(r"'[^']*'|\d+", "_", str(exc).split(":")[0] + ":" + str(exc).split(":")[1])
            stats["failures"] += 1
            if signature not in failures:
                out.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
                saved = out / f"{path.stem}-{digest}.xpol"
                saved.write_text(text, encoding="utf-8", errors="surrogatepass")
                failures[signature] = (summary, saved)
                print(f"FAILURE {saved}: {summary}", flush=True)
        if stats["mutants"] % 250 == 0:
            print(f"... {stats['mutants']} mutants, {stats['compiled']} compiled, {stats['failures']} failures",
                  flush=True)

    if seed is not None:
        from hypothesis import seed as hypothesis_seed
        run = hypothesis_seed(seed)(run)
    run()
    print(f"{stats['mutants']} mutants ran, {stats['compiled']} compiled "
          f"({stats['decided']} decided, {stats['rejected facts']} rejected their facts), "
          f"{stats['failures']} failed ({len(failures)} distinct)")
    for summary, saved in failures.values():
        print(f"  {saved}: {summary}")
    for key, number in sorted(stats.items()):
        if key.startswith("known: "):
            print(f"  known, not counted as failures: {number} x {key[7:]}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="how many mutants (default 1000)")
    parser.add_argument("--out", type=Path, default=Path("fuzz-failures"), help="where failing mutants are saved")
    parser.add_argument("--seed", type=int, help="a random seed (default: derandomized)")
    args = parser.parse_args(argv)
    return long_run(args.count, args.out, args.seed)


if __name__ == "__main__":
    sys.exit(main())
