"""Benchmark of the semantic diff (``exportdsl.diff``) on the reference policies and on large generated ones.

Run:  python benchmarks/bench_diff.py              (a few minutes on 2 cores)
      python benchmarks/bench_diff.py --profile    (also profile the cases that meet their target)
      python benchmarks/bench_diff.py --only 500   (one case: april, 500 or 2000)

Cases and targets (issue 10):

1. April vs October 2025 of the reference policies (policies/cn-rare-earths-2025-{04,10}.xpol): < 0.5 s;
2. two generated 500-rule policies over the 17 facts of facts.md that differ in 5 % of their
   rules: regions and witnesses <= 1 s;
3. the same with 2,000 rules: regions and witnesses <= 5 s, the whole default text or JSON report
   from the command line (compiling included) <= 10 s, peak RSS <= 1 GB.

"Regions and witnesses" is the diff without the per-region extras (the always co-deciding rules,
and the outline conditions of reports of at most 200 regions): setup, keys, witnesses and their
check. On pairs of more than 1,500 rules, when the load average shows an idle core, worker
processes prove the always co-deciding rules while the keys are enumerated; the time the diff then
waits for them after the keys ("wait") is counted in regions and witnesses (conservatively), and
their CPU time and peak RSS are printed apart (their pages are shared with the diff's process
until written). The script prints the wall and CPU time of every stage (parse+check, compile, setup, keys,
witnesses, verify, always, outline, text and JSON rendering) of a run in a child process, and the
wall time, CPU time and peak RSS of ``exportdsl diff`` for the text and JSON reports, each in a
child process killed past its timeout (the report then says so instead of hanging).

The generated rules are shaped like the rare-earth rules (a seeded ``random.Random``, so every run
diffs the same policies): 3 to 6 conjuncts over the shipping date (``effective`` / ``until``),
countries (export_from / export_to / origin), the item form, the elements, the end use, percents
(re_content, cn_listed_ownership), battery energy, chip nodes, China-origin technologies and end
users, with decisions spread over the five non-default severities. The second policy changes 5 %
of the rules (a condition tightened, loosened or replaced, a decision or a date moved, a rule
added or removed).

Regions are keyed by the changed rules among the deciders (old decision, new decision, old
deciders ∩ C, new deciders ∩ C): 123 keys at 500 rules and 1,736 at 2,000, found by the SAT
search of ``diff/keyed.py`` (one region per key by construction; the check below verifies the
witnesses and random transactions against both versions). Keyed by every deciding rule instead,
the 200-rule pair alone had 305,558 outcome combinations.

For each case the script prints the wall and CPU time of the diff and of its stages, the peak
RSS, the number of regions (= keys found) and the changed rules, and MET / MISSED against the
target; for the keys stage also the work done, which no load changes: solver calls and the SAT
solver's propagations, decisions and conflicts (compare two versions by these on a shared machine,
where CPU times of the same run vary by half); then it checks the result (not timed): every
witness has its region's key in both versions, and on random transactions the outcome changes
exactly when one region matches, the one of its key. The machine may be shared: wall times are noisy, CPU times less so.

Baseline (measured in the same run, as every benchmark here): a hand-written loop that runs both
versions over 20,000 random transactions and collects the outcome pairs that differ, which is what a
reviewer without the diff would script. The script prints diff time / baseline time and how many of
the exact region keys the sampling saw (usually not all of them).

The generated cases run in a child process capped in time and memory. A missed target is followed
by a cProfile of a capped run.

Standard library only, besides exportdsl. Nothing under ``src/`` is modified.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
try:
    import exportdsl
except ImportError:  # run with a Python that does not have the package installed
    sys.path.insert(0, str(ROOT / "src"))
    import exportdsl

from exportdsl.diff import INVALID, Budget  # noqa: E402
from exportdsl.diff import diff as engine  # noqa: E402  (the engine on checked IR, as Stages wraps it)
from exportdsl.errors import EvaluationError  # noqa: E402

APRIL = ROOT / "policies" / "cn-rare-earths-2025-04.xpol"
OCTOBER = ROOT / "policies" / "cn-rare-earths-2025-10.xpol"

# ---- the 17 facts of facts.md ---------------------------------------------------------------

ITEMS = ["metal", "alloy", "target", "oxide", "compound", "magnet", "functional_material", "assembly",
         "technology", "line_technology", "equipment", "raw_material", "battery", "superhard", "other"]
FAMILIES = ["smco", "ndfeb", "other", "none"]
ELEMENTS = ["Sc", "Y", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"]
TECHS = ["mining", "separation", "metal_smelting", "magnet_manufacturing", "recycling"]
END_USES = ["civil", "military", "military_potential", "wmd", "terrorism", "logic_chips", "memory_chips",
            "chip_equipment", "ai_rnd", "humanitarian"]
DECISIONS = ["not_controlled", "allow_with_report", "license_required", "case_by_case", "deny", "prohibited"]

HEADER = f"""policy "generated-rare-earths" version "{{version}}"
decisions {" < ".join(DECISIONS)}
default not_controlled
dated by ship_date
fact ship_date: date
fact export_from: country
fact export_to: country
fact origin: country
fact item: enum {{{{{", ".join(ITEMS)}}}}}
fact magnet_family: enum {{{{{", ".join(FAMILIES)}}}}}
fact elements: set of enum {{{{{", ".join(ELEMENTS)}}}}}
fact re_content: percent
fact cn_re_tech: set of enum {{{{{", ".join(TECHS)}}}}}
fact battery_wh_per_kg: number
fact end_use: enum {{{{{", ".join(END_USES)}}}}}
fact logic_node_nm: number
fact memory_layers: integer
fact ai_military_potential: bool
fact end_user: string
fact end_user_military: bool
fact cn_listed_ownership: percent
"""

# Literal pools, as a rule writer would use them: a few dozen dates and countries, round thresholds.
DATES = [f"2025-{m:02d}-{d:02d}" for m in range(1, 13) for d in (1, 4, 8, 15)] + \
        [f"2026-{m:02d}-{d:02d}" for m in range(1, 13) for d in (1, 10, 11)]
COUNTRIES = ["CN", "HK", "MO", "TW", "US", "JP", "KR", "DE", "FR", "GB", "NL", "IN", "VN", "MY", "TH", "SG",
             "AU", "CA", "MX", "BR", "RU", "IR", "KP", "IL", "TR", "AE", "SA", "ZA", "PL", "IT"]
PERCENTS = ["0.1", "0.5", "1", "5", "10", "25", "50"]
WH_PER_KG = ["250", "300", "350", "400"]
NODES = ["7", "14", "16", "28"]
LAYERS = ["128", "200", "232", "256"]
END_USERS = ["Acme Motors Inc.", "Example Defense Corp.", "Dedrone by Axon", "Epirus, Inc.", "VSE Corporation",
             "Northwind Traders", "Contoso Magnetics", "Fabrikam Alloys"]
#: Severity weights: most rules require a licence, fewer deny, a few prohibit or only report.
DECISION_WEIGHTS = {"allow_with_report": 1, "license_required": 6, "case_by_case": 2, "deny": 2, "prohibited": 1}


def _subset(rng: random.Random, pool: list, low: int, high: int) -> list:
    return rng.sample(pool, rng.randint(low, min(high, len(pool))))


def _set(values, quote=False) -> str:
    return "{" + ", ".join(f'"{v}"' if quote else v for v in values) + "}"


def _conjunct(rng: random.Random, kind: str) -> str:
    if kind == "from":
        return rng.choice(["export_from = CN", "export_from = CN", "export_from != CN",
                           f"export_from in {_set(_subset(rng, COUNTRIES, 2, 5))}"])
    if kind == "to":
        return rng.choice(["export_to != CN", f"export_to in {_set(_subset(rng, COUNTRIES, 1, 6))}",
                           f"export_to not in {_set(_subset(rng, COUNTRIES, 1, 4))}"])
    if kind == "origin":
        return rng.choice(["origin = CN", "origin != CN", f"origin in {_set(_subset(rng, COUNTRIES, 1, 4))}"])
    if kind == "item":
        items = _subset(rng, ITEMS, 1, 5)
        return f"item = {items[0]}" if len(items) == 1 else f"item in {_set(items)}"
    if kind == "family":
        return f"magnet_family = {rng.choice(FAMILIES[:2])}"
    if kind == "elements":
        elements = _subset(rng, ELEMENTS, 1, 7)
        if len(elements) == 1:
            return f"elements contains {elements[0]}"
        quantifier = "all" if len(elements) <= 2 and rng.random() < 0.3 else "any"
        return f"elements contains {quantifier} {_set(elements)}"
    if kind == "end_use":
        uses = _subset(rng, END_USES, 1, 4)
        return f"end_use = {uses[0]}" if len(uses) == 1 else f"end_use {rng.choice(['in', 'in', 'not in'])} {_set(uses)}"
    if kind == "percent":
        return rng.choice([f"re_content >= {rng.choice(PERCENTS)}%", f"re_content > {rng.choice(PERCENTS)}%",
                           f"cn_listed_ownership >= {rng.choice(PERCENTS)}%"])
    if kind == "battery":
        return f"battery_wh_per_kg >= {rng.choice(WH_PER_KG)}"
    if kind == "chips":
        return rng.choice([f"logic_node_nm > 0 and logic_node_nm <= {rng.choice(NODES)}",
                           f"memory_layers >= {rng.choice(LAYERS)}", "ai_military_potential"])
    if kind == "tech":
        return rng.choice(["cn_re_tech is not empty", f"cn_re_tech contains any {_set(_subset(rng, TECHS, 1, 3))}"])
    if kind == "user":
        return rng.choice(["end_user_military", "not end_user_military",
                           f"end_user in {_set(_subset(rng, END_USERS, 1, 3), quote=True)}"])
    raise AssertionError(kind)


#: Conjunct kinds with weights: every rule reads direction, most read item and elements.
KINDS = ["from"] * 5 + ["item"] * 5 + ["elements"] * 4 + ["to"] * 2 + ["origin"] * 2 + ["end_use"] * 2 + \
        ["percent"] * 2 + ["family", "battery", "chips", "tech", "user"]


def random_rule(rng: random.Random, rid: str) -> dict:
    kinds = ["from"]
    size = rng.randint(3, 6)
    while len(kinds) < size:
        kind = rng.choice(KINDS)
        if kind not in kinds:
            kinds.append(kind)
    decision = rng.choices(list(DECISION_WEIGHTS), weights=list(DECISION_WEIGHTS.values()))[0]
    effective = rng.choice(DATES)
    later = [d for d in DATES if d > effective]
    until = rng.choice(later) if later and rng.random() < 0.2 else None
    return {"id": rid, "conjuncts": [_conjunct(rng, k) for k in kinds], "decision": decision,
            "effective": effective, "until": until}


def render(rules: list[dict], version: str) -> str:
    lines = [HEADER.format(version=version)]
    for rule in rules:
        dates = f"effective {rule['effective']}" + (f" until {rule['until']}" if rule["until"] else "")
        body = " and ".join(f"({c})" if " or " in c else c for c in rule["conjuncts"])
        lines.append(f"rule {rule['id']} {{ {dates} {body} -> {rule['decision']} }}")
    return "\n".join(lines) + "\n"


def mutate(rng: random.Random, rules: list[dict], fraction: float = 0.05) -> list[dict]:
    """A copy of the rules with ``fraction`` of them changed, removed, or added."""
    rules = [dict(r, conjuncts=list(r["conjuncts"])) for r in rules]
    count = max(1, round(len(rules) * fraction))
    next_id = len(rules)
    for index in rng.sample(range(len(rules)), count):
        rule = rules[index]
        what = rng.choices(["tighten", "loosen", "replace", "decision", "date", "remove", "add"],
                           weights=[3, 2, 3, 2, 3, 2, 2])[0]
        if what == "tighten":
            rule["conjuncts"].append(_conjunct(rng, rng.choice(KINDS)))
        elif what == "loosen" and len(rule["conjuncts"]) > 2:
            del rule["conjuncts"][rng.randrange(1, len(rule["conjuncts"]))]
        elif what == "replace":
            i = rng.randrange(len(rule["conjuncts"]))
            rule["conjuncts"][i] = _conjunct(rng, rng.choice(KINDS))
        elif what == "decision":
            rule["decision"] = rng.choice([d for d in DECISION_WEIGHTS if d != rule["decision"]])
        elif what == "date":
            rule["effective"] = rng.choice(DATES)
            if rule["until"] and rule["until"] <= rule["effective"]:
                rule["until"] = None
        elif what == "remove":
            rule["removed"] = True
        else:
            rules.append(random_rule(rng, f"G{next_id:04d}"))
            next_id += 1
    return [r for r in rules if not r.get("removed")]


def generated_pair(size: int, seed: int) -> tuple[str, str]:
    rng = random.Random(seed)
    rules = [random_rule(rng, f"G{i:04d}") for i in range(size)]
    return render(rules, "old"), render(mutate(rng, rules), "new")


# ---- checking a result (not timed) ------------------------------------------------------------

def _outcome(policy, tx):
    try:
        return policy.decide({k: v for k, v in tx.items() if k in policy.facts})
    except EvaluationError:
        return INVALID, (INVALID,)


def random_transaction(rng: random.Random) -> dict:
    return {
        "ship_date": rng.choice(DATES + ["2024-12-31", "2027-01-01"]),
        "export_from": rng.choice(COUNTRIES + ["CN"] * 10 + ["ZW"]),
        "export_to": rng.choice(COUNTRIES + ["ZW"]),
        "origin": rng.choice(COUNTRIES + ["CN"] * 5 + ["ZW"]),
        "item": rng.choice(ITEMS),
        "magnet_family": rng.choice(FAMILIES),
        "elements": _subset(rng, ELEMENTS, 0, 4),
        "re_content": rng.choice([0, 0.05, 0.1, 0.3, 1, 5, 10, 30, 50, 100]),
        "cn_re_tech": _subset(rng, TECHS, 0, 2),
        "battery_wh_per_kg": rng.choice([0, 250, 299.5, 300, 400]),
        "end_use": rng.choice(END_USES),
        "logic_node_nm": rng.choice([0, 5, 14, 16, 28]),
        "memory_layers": rng.choice([0, 128, 256, 300]),
        "ai_military_potential": rng.random() < 0.3,
        "end_user": rng.choice(END_USERS + ["Somebody Else Ltd"]),
        "end_user_military": rng.random() < 0.2,
        "cn_listed_ownership": rng.choice([0, 10, 49.99, 50, 100]),
    }


def _key(result, o, n):
    """The key of a changed transaction (None when the outcome is the same, rule order aside)."""
    if (o[0], set(o[1])) == (n[0], set(n[1])):
        return None
    changed = set(result.changed_rules)
    return (o[0], n[0], tuple(r for r in o[1] if r in changed), tuple(r for r in n[1] if r in changed))


def _matching(result, tx) -> list:
    """The regions a transaction lies in. Regions of the SAT engine decide membership through one
    shared key function: it runs once per transaction (not once per region: 1,736 regions x 100
    transactions took minutes), and ``Region.matches`` confirms the region found."""
    regions = result.regions
    keyer = regions[0].keyer if regions else None
    if keyer is None or any(r.keyer is not keyer for r in regions):
        return [r for r in regions if r.matches(tx)]
    from exportdsl.semantics import validate_facts
    declared = regions[0].declared
    key = keyer(validate_facts(declared, {k: v for k, v in tx.items() if k in declared}))
    hits = [r for r in regions if r.key == key]
    assert all(r.matches(tx) for r in hits)
    return hits


def check(old, new, result, samples: int) -> str:
    """Witnesses have their region's key; random transactions change iff exactly one region matches,
    the one of their key."""
    for region in result.regions:
        got = _key(result, _outcome(old, region.witness), _outcome(new, region.witness))
        if got != region.key:
            return f"WRONG witness of {region.key}: {got}"
    rng = random.Random(7)
    changed = 0
    for _ in range(samples):
        tx = random_transaction(rng)
        key = _key(result, _outcome(old, tx), _outcome(new, tx))
        hits = _matching(result, tx)
        if len(hits) != (key is not None) or (hits and hits[0].key != key):
            return f"WRONG on {tx}: key {key}, {len(hits)} region(s) match"
        changed += key is not None
    return f"ok ({len(result.regions)} witnesses; {samples} random transactions, {changed} changed)"


# ---- the hand-written baseline ------------------------------------------------------------------

def sampling_baseline(old, new, samples: int, seed: int = 11) -> tuple[float, set]:
    """What a reviewer would script by hand: run both versions over random transactions and collect
    the (old, new) outcome pairs that differ. Returns the time of the loop (the transactions are
    drawn beforehand) and the combinations it saw; it cannot tell what it did not sample."""
    rng = random.Random(seed)
    transactions = [random_transaction(rng) for _ in range(samples)]
    old_facts, new_facts = set(old.facts), set(new.facts)
    seen = set()
    started = time.perf_counter()
    for tx in transactions:
        try:
            o = old.decide({k: v for k, v in tx.items() if k in old_facts})
        except EvaluationError:
            o = (INVALID, (INVALID,))
        try:
            n = new.decide({k: v for k, v in tx.items() if k in new_facts})
        except EvaluationError:
            n = (INVALID, (INVALID,))
        if o != n:
            seen.add((o, n))
    return time.perf_counter() - started, seen


def baseline_line(seconds: float, result, old, new, samples: int) -> str:
    """The diff's time as a ratio of the sampling baseline's, and how much of the exact answer sampling saw."""
    base_seconds, seen = sampling_baseline(old, new, samples)
    keys = {r.key for r in result.regions}
    seen_keys = {_key(result, o, n) for o, n in seen} - {None}
    return (f"{samples:,} sampled transactions through both versions by hand in {base_seconds:.3f} s; "
            f"diff / baseline = {seconds / base_seconds:.2f}; sampling saw {len(seen_keys & keys)} of the "
            f"{len(keys)} region keys" + ("" if seen_keys <= keys else " (and some the diff lacks!)"))


# ---- timing -------------------------------------------------------------------------------------

class _Abort(Exception):
    """The wall-clock cap of a case ran out (the search budget does not cover merging and rendering)."""


#: The stages a generated case reports, in pipeline order: (label, what it covers).
STAGES = (
    ("parse+check", "parsing and checking both texts (exportdsl.compile minus compile)"),
    ("compile", "generating the compiled evaluators of both policies"),
    ("setup", "the diff before the search: lowering, CNF encoding, the changed rules"),
    ("keys", "the SAT enumeration of the keys (one model per region)"),
    ("witnesses", "a witness transaction per region, from its model"),
    ("verify", "every witness through both compiled evaluators"),
    ("always", "proving the always co-deciding rules of each region (in this process)"),
    ("wait", "waiting for the worker processes' always proofs after the keys (pairs of > 1,500 rules)"),
    ("outline", "outline conditions and sometimes co-deciding rules (on request, or <= 200 regions)"),
    ("text", "rendering the text report"),
    ("json", "rendering the JSON report"),
)


class Stages:
    """Wall and CPU time per stage, by wrapping the functions that do each one (src/ is untouched)."""

    def __init__(self):
        self.times: dict[str, list[float]] = {}
        #: per stage: the solver's work in it (calls and CaDiCaL's counters), which the load does not change
        self.work: dict[str, dict[str, int]] = {}

    def add(self, label: str, wall: float, cpu: float) -> None:
        entry = self.times.setdefault(label, [0.0, 0.0])
        entry[0] += wall
        entry[1] += cpu

    def wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - started, time.process_time() - cpu)
        setattr(owner, name, timed)

    def count_work(self, owner, name: str, label: str) -> None:
        """Also add up the solver calls and the SAT solver's counters (propagations, decisions,
        conflicts) of a ``KeySearch`` method: deterministic, so that two runs on a loaded machine
        compare by the work done and not only by noisy times."""
        original = getattr(owner, name)

        def counted(search, *args, **kwargs):
            calls, before = search.calls, _solver_counters(search)
            try:
                return original(search, *args, **kwargs)
            finally:
                entry = self.work.setdefault(label, {})
                after = {"solver calls": search.calls - calls}
                after.update((k, v - before.get(k, 0)) for k, v in _solver_counters(search).items())
                for key, value in after.items():
                    entry[key] = entry.get(key, 0) + value
        setattr(owner, name, counted)

    def install(self) -> None:
        from exportdsl.backends import python as compiled_backend   # Policy imports it when compiling
        from exportdsl.diff import assemble, keyed, regions, workers
        self.wrap(compiled_backend, "compile_policy", "compile")
        self.wrap(keyed.KeySearch, "keys", "keys")
        self.wrap(regions.Witnesses, "__call__", "witnesses")
        self.wrap(assemble, "check_witnesses", "verify")
        self.wrap(keyed.KeySearch, "always", "always")
        self.wrap(workers.Pool, "results", "wait")
        for name in ("outline", "sometimes"):
            self.wrap(keyed.KeySearch, name, "outline")
        self.count_work(keyed.KeySearch, "keys", "keys")

    def get(self, label: str) -> tuple[float, float]:
        wall, cpu = self.times.get(label, (0.0, 0.0))
        return round(wall, 3), round(cpu, 3)


def _solver_counters(search) -> dict[str, int]:
    """The SAT solvers' own counters so far (python-sat's ``accum_stats``; empty where it has none):
    the search's solver and those of the parts it split the key search into (``solver_stats``)."""
    stats = search.solver_stats() if hasattr(search, "solver_stats") else search.enc.solver.accum_stats() or {}
    return {key: stats[key] for key in ("propagations", "decisions", "conflicts") if key in stats}


def _limit_memory(megabytes: int) -> None:
    import resource
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def child(size: int, cap: float, profile_run: bool, memory_mb: int) -> None:
    """One generated case in this (child) process: prints ``RESULT {json}`` and, with --profile-run, a profile."""
    import json
    import resource
    import signal
    _limit_memory(memory_mb)
    old_text, new_text = generated_pair(size, seed=size)
    stages = Stages()
    stages.install()
    started, cpu = time.perf_counter(), time.process_time()
    old = exportdsl.compile(old_text, f"<generated {size} old>")
    new = exportdsl.compile(new_text, f"<generated {size} new>")
    compiled = stages.get("compile")
    stages.add("parse+check", time.perf_counter() - started - compiled[0], time.process_time() - cpu - compiled[1])

    def on_alarm(signum, frame):
        raise _Abort()
    signal.signal(signal.SIGALRM, on_alarm)
    profiler = cProfile.Profile() if profile_run else None
    outcome, result = "done", None
    started, cpu = time.perf_counter(), time.process_time()
    signal.setitimer(signal.ITIMER_REAL, cap)
    try:
        if profiler:
            profiler.enable()
        result = engine(old.ir, new.ir, budget=Budget(max_seconds=cap / 2),   # the rest: rendering
                        evaluators=(old.decide, new.decide))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        for fmt, render_report in (("text", lambda: result.to_text()),
                                   ("json", lambda: json.dumps(result.to_json(), indent=2))):
            began, began_cpu = time.perf_counter(), time.process_time()
            render_report()
            stages.add(fmt, time.perf_counter() - began, time.process_time() - began_cpu)
    except _Abort:
        outcome = f"aborted by the {cap:g} s cap"
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    except MemoryError:
        outcome = f"out of memory (cap {memory_mb} MB)"
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        if profiler:
            profiler.disable()
        signal.setitimer(signal.ITIMER_REAL, 0)
    inner = [stages.get(label) for label in ("keys", "witnesses", "verify", "always", "wait", "outline")]
    stages.add("setup", seconds - sum(w for w, _ in inner), cpu - sum(c for _, c in inner))
    workers_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {"size": size, "rules": [len(old.rules), len(new.rules)], "outcome": outcome,
              "seconds": round(seconds, 3), "cpu_s": round(cpu, 3),
              "workers_cpu_s": round(workers_cpu.ru_utime + workers_cpu.ru_stime, 3),
              "workers_peak_rss_mb": workers_cpu.ru_maxrss // 1024,
              "stages": {label: stages.get(label) for label, _ in STAGES if label in stages.times},
              "work": stages.work,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}
    if result is not None:
        report.update(regions=len(result.regions), complete=result.complete, engine=result.engine,
                      changed_rules=len(result.changed_rules), nodes=result.nodes)
        if not profile_run and result.complete:
            report["check"] = check(old, new, result, 300 if size <= 500 else 100)
            report["baseline"] = baseline_line(seconds, result, old, new, 20_000)
    print("RESULT " + json.dumps(report), flush=True)
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(r"exportdsl", 22)
        stats.sort_stats("tottime").print_stats(12)
        print(out.getvalue(), flush=True)


def run_child(size: int, cap: float, profile_run: bool = False, memory_mb: int = 6000) -> tuple[dict, str]:
    import json
    import subprocess
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", str(size), "--cap", str(cap),
            "--memory", str(memory_mb)] + (["--profile-run"] if profile_run else [])
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=cap + 120)
    except subprocess.TimeoutExpired:   # the cap covers the diff; checking and the baseline come after it
        return {"size": size, "outcome": f"child timed out after {cap + 120:g} s (a loaded machine?)"}, ""
    lines = done.stdout.splitlines()
    report = next((json.loads(line[7:]) for line in lines if line.startswith("RESULT ")), None)
    if report is None:
        report = {"size": size, "outcome": f"child died (exit {done.returncode}): {done.stderr.strip()[-300:]}"}
    rest = "\n".join(line for line in lines if not line.startswith("RESULT "))
    return report, rest


def timed(old, new, repeat: int) -> tuple[float, object]:
    engine(old.ir, new.ir)                       # warm-up (imports, caches of the process)
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = engine(old.ir, new.ir, budget=Budget(max_seconds=300))
        best = min(best, time.perf_counter() - started)
    return best, result


def profile(old, new, lines: int = 20) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    engine(old.ir, new.ir, budget=Budget(max_seconds=300))
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"exportdsl", lines)
    return out.getvalue()


def _verdict(met: bool, seconds: float, target: float) -> str:
    return f"{'MET' if met else 'MISSED'}  ({seconds:.3f} s vs {target:g} s)"


def case_april(always_profile: bool) -> bool:
    old, new = exportdsl.load(APRIL), exportdsl.load(OCTOBER)
    target = 0.5
    print(f"\n== April vs October 2025 (reference policies)  ({len(old.rules)} vs {len(new.rules)} rules; "
          f"target < {target:g} s)")
    seconds, result = timed(old, new, 5)
    met = seconds < target and result.complete
    print(f"   time          {seconds:8.3f} s   (best of 5; engine {result.engine}, {result.nodes} search nodes)")
    print(f"   regions       {len(result.regions):8d}")
    print(f"   lower bound   {result.lower_bound:8d}   regions <= 3 x bound: "
          f"{'yes' if len(result.regions) <= 3 * result.lower_bound else 'NO'}")
    print(f"   target        {_verdict(met, seconds, target)}")
    print(f"   check         {check(old, new, result, 2000)}")
    print(f"   baseline      {baseline_line(seconds, result, old, new, 20_000)}")
    if not met or always_profile:
        print("\n".join("      " + line for line in profile(old, new).splitlines()))
    return met


def cli_report(size: int, fmt: str, timeout: float = 120.0) -> dict:
    """The whole report of a generated pair from the command line (``exportdsl diff --format FMT``),
    in a child process: its wall and CPU time, peak RSS (its own, from ``wait4``) and exit status,
    compiling included; a child that outlives ``timeout`` is killed and reported as such. The child
    writes and reuses byte code as in a normal installation, even where the environment sets
    ``PYTHONDONTWRITEBYTECODE`` (as bench_eval's and bench_screen's children do)."""
    import os
    import signal
    import subprocess
    import tempfile
    old_text, new_text = generated_pair(size, seed=size)
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / "old.xpol", Path(folder) / "new.xpol"]
        for path, text in zip(paths, (old_text, new_text)):
            path.write_text(text, encoding="utf-8")
        with open(Path(folder) / "stderr.txt", "w+", encoding="utf-8") as errors:
            started = time.perf_counter()
            process = subprocess.Popen([sys.executable, "-m", "exportdsl", "diff", *map(str, paths), "--format", fmt,
                                        "-o", str(Path(folder) / f"report.{fmt}")],
                                       stdout=subprocess.DEVNULL, stderr=errors,
                                       env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() - started > timeout:
                    process.send_signal(signal.SIGKILL)
                    pid, status, usage = os.wait4(process.pid, 0)
                    process.returncode = -9
                    return {"outcome": f"killed after {timeout:g} s", "wall": time.perf_counter() - started,
                            "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss // 1024, "exit": None}
                time.sleep(0.02)
            wall = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            errors.seek(0)
            tail = errors.read()[-300:]
    return {"outcome": "done", "wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss // 1024,
            "exit": process.returncode, "stderr": tail}


def case_generated(size: int, targets: dict, cap: float, always_profile: bool) -> bool:
    target = targets["regions"]
    print(f"\n== generated {size} rules, 5 % changed  (targets: regions and witnesses <= {target:g} s"
          + (f", whole CLI report <= {targets['cli']:g} s, peak RSS <= 1 GB" if "cli" in targets else "")
          + f"; run in a child process capped at {cap:g} s)")
    report, _ = run_child(size, cap)
    done = report["outcome"] == "done"
    stages = report.get("stages", {})
    # regions and witnesses: the diff without the per-region extras (always co-deciding rules, outlines)
    extras = [stages.get(label, (0.0, 0.0)) for label in ("always", "outline")]
    core = report.get("seconds", float("inf")) - sum(w for w, _ in extras)
    core_cpu = report.get("cpu_s", float("inf")) - sum(c for _, c in extras)
    met = done and report.get("complete", False) and core <= target and report.get("peak_rss_mb", 0) <= 1024
    if done:
        print(f"   diff          {report['seconds']:8.3f} s wall, {report['cpu_s']:.3f} s CPU   (engine {report['engine']}; "
              f"{report.get('nodes')} SAT calls / search nodes; peak RSS {report['peak_rss_mb']} MB)")
        if report.get("workers_cpu_s"):
            print(f"   workers       {report['workers_cpu_s']:8.3f} s CPU in worker processes (always proofs), "
                  f"peak RSS {report['workers_peak_rss_mb']} MB each (pages shared with the diff's process)")
        print(f"   regions and witnesses {core:8.3f} s wall, {core_cpu:.3f} s CPU   (the diff minus always and outline)")
        print(f"   regions       {report['regions']:8d}   (= the keys the enumeration found, one region per key; "
              f"changed rules: {report['changed_rules']})")
        print(f"   complete      {'yes' if report['complete'] else 'NO (budget ran out)'}")
    else:
        print(f"   diff          > {report.get('seconds', cap):.1f} s: {report['outcome']}")
    print(f"   target        {_verdict(met, core, target)}")
    print("   stages        (wall s / CPU s)")
    for label, meaning in STAGES:
        if label in stages:
            wall, cpu = stages[label]
            print(f"      {label:<12} {wall:7.3f} / {cpu:7.3f}   {meaning}")
    for label, work in report.get("work", {}).items():
        print(f"   {label} work     " + ", ".join(f"{value:,} {name}" for name, value in work.items())
              + "   (the solver's counters in this process: the same on an idle or a loaded machine)")
    if "check" in report:
        print(f"   check         {report['check']}")
    if "baseline" in report:
        print(f"   baseline      {report['baseline']}")
    if "cli" in targets:
        for fmt in ("text", "json"):
            run = cli_report(size, fmt, timeout=max(60.0, 6 * targets["cli"]))
            ok = run["outcome"] == "done" and run["wall"] <= targets["cli"] and run["rss"] <= 1024 and run["exit"] == 1
            met = met and ok
            print(f"   CLI --format {fmt:<5} {run['wall']:7.3f} s wall, {run['cpu']:.3f} s CPU (workers included), "
                  f"peak RSS {run['rss']} MB, "
                  f"exit {run['exit']}: {'MET' if ok else 'MISSED'}"
                  + ("" if run["outcome"] == "done" else f" ({run['outcome']})")
                  + (f"; stderr: {run['stderr'].strip()}" if run.get("exit") not in (0, 1, None) else ""))
        parse = stages.get("parse+check", (0.0, 0.0))
        if done and parse[0]:
            whole = parse[0] + stages.get("compile", (0.0, 0.0))[0] + report["seconds"] + stages.get("text", (0.0, 0.0))[0]
            print(f"   parse+check   {parse[0]:.3f} s of the {whole:.3f} s the in-process stages of a text report take "
                  f"({100 * parse[0] / whole:.0f} %)")
    if not met or always_profile:
        report, text = run_child(size, min(cap, 30.0), profile_run=True)
        print(f"   cProfile of a run capped at {min(cap, 30.0):g} s ({report['outcome']}):")
        print("\n".join("      " + line for line in text.splitlines() if line.strip()))
    return met


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", action="store_true", help="profile every case, not only missed ones")
    parser.add_argument("--only", choices=["april", "500", "2000"], help="run one case")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cap", type=float, default=30.0, help=argparse.SUPPRESS)
    parser.add_argument("--memory", type=int, default=6000, help=argparse.SUPPRESS)
    parser.add_argument("--profile-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.cap, args.profile_run, args.memory)
        return 0
    print(f"exportdsl {exportdsl.__version__}, Python {sys.version.split()[0]}")
    started = time.perf_counter()
    results = {}
    if args.only in (None, "april"):
        results["april < 0.5 s"] = case_april(args.profile)
    for size, targets, cap in ((500, {"regions": 1.0}, 60.0), (2000, {"regions": 5.0, "cli": 10.0}, 120.0)):
        if args.only in (None, str(size)):
            results[f"{size} rules"] = case_generated(size, targets, cap, args.profile)
    print(f"\nsummary ({time.perf_counter() - started:.0f} s): "
          + ", ".join(f"{k}: {'MET' if v else 'MISSED'}" for k, v in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
