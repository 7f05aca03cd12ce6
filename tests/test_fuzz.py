"""Mutation fuzz of the reference policies, on a fixed budget (see ``tests/hostile/fuzz.py``).

Mutants fail only with ``exportdsl.Error`` carrying registered codes in ``fmt``, ``compile``
(parse and check included) and ``lint``; the mutants that compile decide alike in the interpreter and
the compiled evaluator. The budget is derandomized (the same mutants every run);
``EXPORTDSL_FUZZ_EXAMPLES=20000`` runs more.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

_SPEC = importlib.util.spec_from_file_location("hostile_fuzz", Path(__file__).parent / "hostile" / "fuzz.py")
fuzz = importlib.util.module_from_spec(_SPEC)
sys.modules["hostile_fuzz"] = fuzz
_SPEC.loader.exec_module(fuzz)

EXAMPLES = int(os.environ.get("EXPORTDSL_FUZZ_EXAMPLES", "200"))


def test_mutants_fail_only_with_our_errors_and_the_backends_agree():
    stats = Counter()

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None)
    @given(fuzz.mutants(), st.data())
    def run(mutant, data):
        fuzz.check_mutant(*mutant, data, stats)

    run()
    # The mutants reach both sides: some compile (and are evaluated), most do not.
    assert stats["compiled"] >= EXAMPLES // 10, stats
    assert stats["mutants"] - stats["compiled"] >= EXAMPLES // 10, stats
    assert stats["decided"] > 0, stats


def test_each_mutation_changes_the_text():
    @settings(max_examples=60, derandomize=True, deadline=None, database=None)
    @given(st.sampled_from(fuzz.MUTATIONS), st.sampled_from(fuzz.POLICIES), st.data())
    def run(mutation, path, data):
        text = fuzz.TEXTS[path]
        mutated = data.draw(mutation(text))
        assert isinstance(mutated, str)
        if mutated != text:
            changed.add(mutation.__name__)

    changed: set[str] = set()
    run()
    assert changed == {m.__name__ for m in fuzz.MUTATIONS}


def test_a_crash_is_a_failure_and_a_known_one_is_counted():
    stats = Counter()

    def boom():
        raise ValueError("x")

    try:
        fuzz._run("compile", boom, stats)
    except fuzz.FuzzFailure as exc:
        assert "compile: ValueError" in str(exc)
    else:
        raise AssertionError("a ValueError passed the fuzz's check")
    assert fuzz._run("compile", lambda: 42, stats) == 42
    glued = fuzz.TEXTS[fuzz.POLICIES[0]].replace("decisions ", "decisions", 1)
    fuzz._run("fmt", lambda: fuzz.format_source(glued, "x.xpol"), stats)  # known (or fixed): never a failure
