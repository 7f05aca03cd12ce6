"""STUDY CODE (issue 13 options (a) and (b)): variants of a loaded policy's generated ``_decide``.

* :func:`c_checked` -- option (a): the generated function with its whole fact-checking prologue
  replaced by one call of the C validator ``_xpolcheck.check(facts, _SPEC)`` and a tuple
  unpacking; ``None`` means the slow way (``_slow(facts)``: the reference validator, which raises
  the exact error or decides a non-canonical transaction). The rule logic is unchanged text.
* :func:`trusted` -- option (b): the prologue removed; facts are assumed canonical JSON values of
  exact types. Only what the rules need is still done: a date is turned into its code, a set into
  its mask, and a Decimal number sets ``d`` (the exact variant decides); nothing is checked.

Both are compiled into the policy's own generated namespace (``decide.__globals__``) under new
names, so they share its constants, bit tables, date cache and the exact/slow functions. Nothing of
exportdsl is modified.
"""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _xpolcheck  # noqa: E402

from exportdsl.backends import fact_checks  # noqa: E402
from exportdsl.backends.float_cuts import float_value  # noqa: E402
from exportdsl.backends.python import _Codegen  # noqa: E402
from exportdsl.combining import decisive_conditions  # noqa: E402
from exportdsl.types import COUNTRY_CODES, Kind  # noqa: E402

KIND_CODE = {Kind.BOOL: 0, Kind.INTEGER: 1, Kind.NUMBER: 2, Kind.PERCENT: 3, Kind.DATE: 4, Kind.COUNTRY: 5,
             Kind.STRING: 6, Kind.ENUM: 7, Kind.SET: 8}
_NUMBER_BOUNDS = (fact_checks._DECIMAL_TINY, fact_checks._DECIMAL_HUGE, -fact_checks._DECIMAL_HUGE,
                  -fact_checks._DECIMAL_TINY)
_PERCENT_BOUNDS = (fact_checks._DECIMAL_TINY, Decimal(100))
_PROLOGUE_START = "    try:\n        if type(facts) is not dict: {slow}\n"
_PROLOGUE_END = "    except _EvaluationError: raise\n    except Exception: {slow}\n"
_SLOW = "return _slow(facts)"
_SLOW_RESULT = "return _result((*_slow(facts), _owner, facts))"


def _gen(policy) -> _Codegen:
    pir = policy._ir
    return _Codegen(pir, decisive_conditions(pir), exact=False, ids=True, prefix="K")


def _default(gen, fact):
    """The value a missing optional fact has before its check (a set's: its mask), as the prologue."""
    if fact.required:
        return None
    if fact.type.kind is Kind.SET:
        return gen.mask_of(fact.name, fact.default)
    if fact.type.kind in (Kind.NUMBER, Kind.PERCENT) and fact.default.__class__ is not int:
        as_float = float_value(fact.default)
        return fact.default if as_float is None else as_float
    return fact.default


def build_spec(policy, decimal_layout: bool | None = None):
    """The C validator's spec of a loaded policy (its generated namespace's tables). With
    ``decimal_layout`` (default: the environment variable XPOL_DECIMAL_LAYOUT=1), Decimals are read
    through _decimal's private object layout where the extension verifies it, instead of
    ``__sizeof__`` and Decimal comparisons."""
    if decimal_layout is None:
        decimal_layout = os.environ.get("XPOL_DECIMAL_LAYOUT") == "1"
    ns = policy.decide.__globals__
    gen = _gen(policy)
    entries = []
    for name, fact in policy._ir.facts.items():
        kind = fact.type.kind
        table = extra = None
        bounds = ()
        if kind is Kind.ENUM:
            table = frozenset(fact.type.values)
        elif kind is Kind.COUNTRY:
            table = COUNTRY_CODES
        elif kind is Kind.DATE:
            table, extra = ns["_DATES"], ns["_new_date"]
        elif kind is Kind.SET:
            table_name, other, _ = gen.masks[name]
            table = ns[table_name]
            extra = other if fact.type.element.kind is Kind.STRING else None
        elif kind is Kind.NUMBER:
            bounds = _NUMBER_BOUNDS
        elif kind is Kind.PERCENT:
            bounds = _PERCENT_BOUNDS
        entries.append((name, KIND_CODE[kind], fact.required, _default(gen, fact), table, extra, bounds))
    extra = (True,) if decimal_layout else ()
    return _xpolcheck.make_spec(Decimal, fact_checks._DECIMAL_SMALL, tuple(entries), *extra)


def _split(source: str, slow: str = _SLOW) -> tuple[str, str, str]:
    """(def line and any explain line, prologue, the rest) of a generated main function."""
    start = source.index(_PROLOGUE_START.format(slow=slow))
    end = source.index(_PROLOGUE_END.format(slow=slow)) + len(_PROLOGUE_END.format(slow=slow))
    return source[:start], source[start:end], source[end:]


def _install(policy, name: str, source: str):
    ns = policy.decide.__globals__
    code = compile(source, f"<study {name}>", "exec")
    exec(code, ns)  # noqa: S102 - the engine's own generated text, rewritten by this study
    return ns[name]


def c_checked_source(policy, source: str | None = None, slow: str = _SLOW, name: str = "_decide") -> str:
    head, _, rest = _split(policy.generated_source if source is None else source, slow)
    locals_ = ", ".join(f"f{i}" for i in range(len(policy._ir.facts)))
    prologue = ("    v = _xpol_check(facts, _XPOL_SPEC)\n"
                f"    if v is None: {slow}\n"
                f"    d, {locals_} = v\n")
    return head.replace(f"def {name}(", f"def {name}_c(") + prologue + rest


def c_checked(policy, decimal_layout: bool | None = None):
    """Option (a): the generated decide with the C validator in place of its prologue."""
    ns = policy.decide.__globals__
    ns["_xpol_check"], ns["_XPOL_SPEC"] = _xpolcheck.check, build_spec(policy, decimal_layout)
    return _install(policy, "_decide_c", c_checked_source(policy))


def evaluate_source(policy) -> str:
    """The generated evaluate variant's source (as compile_policy builds it on first use)."""
    pir = policy._ir
    return _Codegen(pir, decisive_conditions(pir), exact=False, ids=True, prefix="V", result=True).source("_evaluate")


def c_checked_evaluate(policy, probe, decimal_layout: bool | None = None):
    """Option (a) for ``evaluate``: its generated variant with the C validator (``probe``: any
    transaction, evaluated once so that the variant and its constants exist)."""
    policy.evaluate(probe)
    ns = policy.decide.__globals__
    ns["_xpol_check"], ns["_XPOL_SPEC"] = _xpolcheck.check, build_spec(policy, decimal_layout)
    source = c_checked_source(policy, evaluate_source(policy), _SLOW_RESULT, "_evaluate")
    return _install(policy, "_evaluate_c", source)


def trusted_source(policy) -> str:
    head, _, rest = _split(policy.generated_source)
    gen = _gen(policy)
    lines = ["    d = False"]
    for name, fact in policy._ir.facts.items():
        x, kind = gen.local[name], fact.type.kind
        if fact.required:
            lines.append(f"    {x} = facts[{name!r}]")
        else:
            lines.append(f"    {x} = facts.get({name!r}, _MISSING)")
        if kind is Kind.SET:
            table, other, _ = gen.masks[name]
            bit = f"{table}.get(e, {other})" if fact.type.element.kind is Kind.STRING else f"{table}[e]"
            convert = [f"m = 0", f"for e in {x}: m |= {bit}", f"{x} = m"]
            if fact.required:
                lines += ["    " + c for c in convert]
            else:
                lines += [f"    if {x} is _MISSING: {x} = {_default(gen, fact)!r}", "    else:"]
                lines += ["        " + c for c in convert]
            continue
        if not fact.required:
            lines.append(f"    if {x} is _MISSING: {x} = {_default(gen, fact)!r}")
        if kind is Kind.DATE:
            lines += [f"    try: {x} = _DATES[{x}]", f"    except KeyError: {x} = _new_date({x})"]
        elif kind in (Kind.NUMBER, Kind.PERCENT):
            lines.append(f"    if type({x}) is _Decimal: d = True")
    return head.replace("def _decide(", "def _decide_trusted(") + "\n".join(lines) + "\n" + rest


def trusted(policy):
    """Option (b): the generated decide with no checks (facts assumed canonical, exact types)."""
    return _install(policy, "_decide_trusted", trusted_source(policy))
