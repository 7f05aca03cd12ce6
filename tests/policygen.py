"""Hypothesis strategies: random well-typed policies, and valid or broken transactions for them.

A generated policy declares facts of every type (some optional, with defaults), named sets,
named conditions (each may use earlier ones), and rules with random nested conditions, random
decisions, ``overrides`` (any other rules), ``applies(...)`` of earlier rules and, when the policy
is ``dated by`` a date fact, random effective/until dates and a suspension. Every
literal comes from a small per-fact pool, and transactions draw mostly from the same pools, so
that comparisons hit their boundaries and rules actually fire.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from hypothesis import strategies as st

from exportdsl.parser import MAX_NESTING

GRAMMAR = (Path(__file__).resolve().parent.parent / "grammar" / "exportdsl.lark").read_text(encoding="utf-8")
#: Every keyword of the grammar; enum values spelled like one are written quoted.
KEYWORDS = frozenset(re.findall(r'"([a-z]+)"', GRAMMAR))
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

SCALAR_KINDS = ("bool", "integer", "number", "percent", "date", "country", "string", "enum")
SET_ELEMENTS = ("enum", "string", "country")
ORDERED = ("integer", "number", "percent", "date")

INTEGER_POOL = ["0", "1", "2", "-3", "10", "1000"]
NUMBER_POOL = ["0", "1", "0.1", "0.25", "-2.75", "301.5", "1000", "0.3", "0.30000000000000004"]
PERCENT_POOL = ["0", "0.1", "0.099", "0.3", "25", "50", "99.99", "100"]
DATE_POOL = ["2024-02-29", "2025-04-03", "2025-04-04", "2025-04-05", "2025-12-31", "2026-01-01",
             "2026-11-10", "2026-11-11"]
COUNTRY_POOL = ["CN", "US", "HK", "MO", "TW", "JP", "DE", "KP", "IR", "NO", "GB", "XK"]
STRING_POOL = ["", "Acme", "acme", "Example Defense Corp.", 'q"uote', "back\\slash", "tab\there", "中文", "x y",
               "line\nbreak"]
ENUM_NAMES = ["civil", "military", "wmd", "dual_use", "x", "Y2", "Nd", "Dy", "all", "any", "in", "dual use",
              "métal", "9lives"]


def quote(text: str) -> str:
    """A policy string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def name_literal(value: str) -> str:
    """An enum value or country code as written: bare when it can be, else quoted."""
    if _IDENT.match(value) and value not in KEYWORDS:
        return value
    return quote(value)


@dataclass
class Fact:
    name: str
    kind: str                   # a scalar kind, or "set"
    element: str | None = None  # for sets: enum, string or country
    values: tuple = ()          # enum values (of the fact, or of the set's elements)
    default: str | None = None  # default literal, None when required

    @property
    def scalar(self) -> str:
        """The kind of one value (the element kind for sets)."""
        return self.element if self.kind == "set" else self.kind

    def type_text(self) -> str:
        def scalar_text(kind):
            if kind == "enum":
                return "enum {" + ", ".join(name_literal(v) for v in self.values) + "}"
            return kind
        if self.kind == "set":
            return "set of " + scalar_text(self.element)
        return scalar_text(self.kind)

    def pool(self) -> list[str]:
        """The raw values (not literals) this fact's literals are drawn from."""
        return {
            "integer": INTEGER_POOL, "number": NUMBER_POOL, "percent": PERCENT_POOL, "date": DATE_POOL,
            "country": COUNTRY_POOL, "string": STRING_POOL, "enum": list(self.values), "bool": ["true", "false"],
        }[self.scalar]

    def literal(self, raw: str) -> str:
        """A raw pool value written as a literal of this fact's (element) type."""
        kind = self.scalar
        if kind == "percent":
            return raw + "%"
        if kind == "string":
            return quote(raw)
        if kind in ("enum", "country"):
            return name_literal(raw)
        return raw


@dataclass
class PolicySpec:
    text: str
    facts: list[Fact]
    decisions: list[str]
    sets: dict[str, str] = field(default_factory=dict)  # set name -> the fact it was written for

    @property
    def required(self) -> list[Fact]:
        return [f for f in self.facts if f.default is None]


# ---- policies -----------------------------------------------------------------------------------

@st.composite
def facts_strategy(draw) -> list[Fact]:
    count = draw(st.integers(1, 6))
    facts = []
    for i in range(count):
        kind = draw(st.sampled_from(SCALAR_KINDS + ("set",) * 3))
        element = draw(st.sampled_from(SET_ELEMENTS)) if kind == "set" else None
        values: tuple = ()
        if "enum" in (kind, element):
            values = tuple(draw(st.lists(st.sampled_from(ENUM_NAMES), min_size=1, max_size=5, unique=True)))
        fact = Fact(f"f{i}_{kind}", kind, element, values)
        if draw(st.integers(0, 3)) == 0:
            fact.default = draw(default_literal(fact))
        facts.append(fact)
    return facts


def default_literal(fact: Fact):
    if fact.kind == "set":
        return st.lists(st.sampled_from(fact.pool()), max_size=3).map(
            lambda raws: "{" + ", ".join(fact.literal(r) for r in raws) + "}")
    return st.sampled_from(fact.pool()).map(fact.literal)


def set_literal(draw, fact: Fact, max_size: int = 3) -> str:
    raws = draw(st.lists(st.sampled_from(fact.pool()), max_size=max_size))
    return "{" + ", ".join(fact.literal(r) for r in raws) + "}"


class _Exprs:
    """Random conditions over the declared facts, sets and (earlier) named conditions."""

    def __init__(self, draw, spec: PolicySpec, conditions: list[str]):
        self.draw, self.spec, self.conditions = draw, spec, conditions

    def set_ref(self, fact: Fact) -> str:
        names = [s for s, owner in self.spec.sets.items() if owner == fact.name]
        if names and self.draw(st.booleans()):
            return self.draw(st.sampled_from(names))
        return set_literal(self.draw, fact)

    def predicate(self) -> str:
        draw = self.draw
        choice = draw(st.integers(0, 9))
        if choice == 0:
            return draw(st.sampled_from(["true", "false"]))
        if choice == 1 and self.conditions:
            return draw(st.sampled_from(self.conditions))
        fact = draw(st.sampled_from(self.spec.facts))
        lit = lambda: fact.literal(draw(st.sampled_from(fact.pool())))  # noqa: E731
        n = fact.name
        if fact.kind == "bool":
            return draw(st.sampled_from([n, f"{n} = true", f"{n} = false", f"{n} != true", f"{n} != false"]))
        if fact.kind == "set":
            form = draw(st.integers(0, 5))
            if form == 0:
                return f"{n} contains {lit()}"
            if form == 5:
                return f"{n} contains any not in {self.set_ref(fact)}"
            if form == 1:
                return f"{n} contains any {self.set_ref(fact)}"
            if form == 2:
                return f"{n} contains all {self.set_ref(fact)}"
            return f"{n} is empty" if form == 3 else f"{n} is not empty"
        ops = ["=", "!="] + (["<", "<=", ">", ">="] if fact.kind in ORDERED else [])
        form = draw(st.integers(0, 3))
        if form == 0:
            return f"{n} in {self.set_ref(fact)}"
        if form == 1:
            return f"{n} not in {self.set_ref(fact)}"
        return f"{n} {draw(st.sampled_from(ops))} {lit()}"

    def expr(self, budget: int, room: int = min(64, MAX_NESTING)) -> tuple[str, int]:
        """(text, nesting depth as the parser counts it: and/or/not levels), the depth at most ``room``."""
        draw = self.draw
        form = draw(st.integers(0, 9)) if budget > 0 and room > 0 else 0
        if form <= 3:
            text = self.predicate()
            if draw(st.integers(0, 5)) == 0:
                text = f"({text})"
            return text, 0
        if form <= 6:
            joiner = " and " if form <= 4 else " or "
            parts = [self.expr(budget - 1, room - 1) for _ in range(draw(st.integers(2, 3)))]
            return joiner.join(f"({t})" for t, _ in parts), 1 + max(d for _, d in parts)
        text, depth = self.expr(budget - 1, room - 1)
        if form <= 8:
            return f"not ({text})", depth + 1
        # A long run of nots (exercises the compiled evaluator's splitting of deep expressions).
        count = draw(st.integers(1, room - depth))
        return "not " * count + f"({text})", depth + count


@st.composite
def policies(draw) -> PolicySpec:
    facts = draw(facts_strategy())
    decisions = draw(st.lists(st.sampled_from(["allow", "review", "license_required", "deny", "ban"]),
                              min_size=2, max_size=4, unique=True))
    lines = []
    if draw(st.booleans()):
        lines.append(f'policy {quote("generated")} version {quote("1")}')
    lines.append("decisions " + " < ".join(decisions))
    if draw(st.booleans()):
        lines.append(f"default {draw(st.sampled_from(decisions))}")
    date_facts = [f for f in facts if f.kind == "date"]
    dated = date_facts and draw(st.booleans())
    if dated:
        lines.append(f"dated by {draw(st.sampled_from(date_facts)).name}")
    for fact in facts:
        line = f"fact {fact.name}: {fact.type_text()}"
        lines.append(line if fact.default is None else f"{line} = {fact.default}")
    spec = PolicySpec("", facts, decisions)
    for i, fact in enumerate(facts):
        if fact.kind != "bool" and draw(st.integers(0, 2)) == 0:
            name = f"s{i}"
            spec.sets[name] = fact.name
            lines.append(f"set {name} = {set_literal(draw, fact, 4)}")
    conditions: list[str] = []
    for i in range(draw(st.integers(0, 3))):
        # Named conditions nest inside each other and the rules once expanded: keep them shallower.
        text, _ = _Exprs(draw, spec, list(conditions)).expr(2, min(32, MAX_NESTING))
        lines.append(f"condition c{i} = {text}")
        conditions.append(f"c{i}")
    count = draw(st.integers(1, 6))
    for i in range(count):
        meta = []
        if draw(st.integers(0, 3)) == 0:
            meta.append(f"title {quote(f'rule {i}')}")
        if draw(st.integers(0, 3)) == 0:
            meta.append(f"cite {quote('No. ' + str(i))}")
        if dated:
            if draw(st.booleans()):
                meta.append(f"effective {draw(st.sampled_from(DATE_POOL))}")
            if draw(st.booleans()):
                meta.append(f"until {draw(st.sampled_from(DATE_POOL))}")
        others = [f"R{j}" for j in range(count) if j != i]
        if others and draw(st.integers(0, 4)) == 0:   # overrides may name later rules, even each other
            meta.append("overrides " + ", ".join(draw(st.lists(st.sampled_from(others), min_size=1, max_size=2,
                                                               unique=True))))
        meta = draw(st.permutations(meta)) if meta else []
        text, _ = _Exprs(draw, spec, conditions).expr(3)
        if i > 0 and draw(st.integers(0, 4)) == 0:     # applies() names earlier rules only (no cycle)
            named = draw(st.lists(st.sampled_from([f"R{j}" for j in range(i)]), min_size=1, max_size=2, unique=True))
            test = f"applies({', '.join(named)})"
            text = f"({text}) {draw(st.sampled_from(['and', 'or']))} {draw(st.sampled_from(['', 'not ']))}{test}"
        decision = draw(st.sampled_from(decisions))
        lines.append(f"rule R{i} {{ {' '.join(meta)} {text} -> {decision} }}")
    if dated and draw(st.integers(0, 3)) == 0:
        suspended = draw(st.lists(st.sampled_from([f"R{j}" for j in range(count)]), min_size=1, max_size=3,
                                  unique=True))
        effective = draw(st.one_of(st.none(), st.sampled_from(DATE_POOL)))   # a window needs a date
        until = draw(st.sampled_from(DATE_POOL) if effective is None else st.one_of(st.none(), st.sampled_from(DATE_POOL)))
        window = " ".join(f"{word} {date}" for word, date in (("effective", effective), ("until", until)) if date)
        lines.append(f"suspension S0 {{ suspends {', '.join(suspended)} {window} }}")
    spec.text = "\n".join(lines) + "\n"
    return spec


# ---- transactions ---------------------------------------------------------------------------------

def _decimal_forms(raw: str, low=None, high=None):
    """Equal and nearly equal values of a decimal text, as int, float, Decimal."""
    exact = Decimal(raw)
    forms = [st.just(exact), st.just(float(raw)), st.just(Decimal(raw + "000") if "." in raw else exact)]
    if "." not in raw:
        forms.append(st.just(int(raw)))
    for delta in (Decimal("1e-20"), Decimal("-1e-20")):
        near = exact + delta
        if (low is None or near >= low) and (high is None or near <= high):
            forms.append(st.just(near))
    return st.one_of(forms)


def scalar_values(fact: Fact, kind: str):
    """Valid values of one scalar kind, biased to the fact's literal pool."""
    pool = fact.pool()
    if kind == "bool":
        return st.booleans()
    if kind == "integer":
        ints = st.one_of(st.sampled_from([int(r) for r in pool]), st.integers(-5, 12), st.integers())
        return st.one_of(ints, ints.filter(lambda i: abs(i) < 2**53).map(float))
    if kind == "number":
        return st.one_of(
            st.sampled_from(pool).flatmap(_decimal_forms),
            st.integers(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**6, max_value=10**6),
        )
    if kind == "percent":
        in_range = st.decimals(min_value=0, max_value=100, allow_nan=False, allow_infinity=False)
        return st.one_of(
            st.sampled_from(pool).flatmap(lambda r: _decimal_forms(r, 0, 100)),
            st.sampled_from(pool).map(lambda r: r + "%"),
            in_range,
            in_range.map(lambda d: format(d, "f") + "%"),
            st.floats(min_value=0, max_value=100),
            st.integers(0, 100),
        )
    if kind == "date":
        dates = st.one_of(st.sampled_from(pool).map(datetime.date.fromisoformat), st.dates())
        return st.one_of(dates.map(lambda d: d.isoformat()), dates)
    if kind == "country":
        return st.sampled_from(pool)
    if kind == "string":
        return st.one_of(st.sampled_from(pool), st.text(max_size=6))
    if kind == "enum":
        return st.sampled_from(pool)
    raise AssertionError(kind)


def fact_values(fact: Fact):
    if fact.kind != "set":
        return scalar_values(fact, fact.kind)
    elements = st.lists(scalar_values(fact, fact.element), max_size=4)
    return st.one_of(elements, elements.map(tuple), elements.map(set), elements.map(frozenset))


@st.composite
def transactions(draw, spec: PolicySpec) -> dict:
    tx = {}
    for fact in spec.facts:
        if fact.default is not None and draw(st.integers(0, 2)) == 0:
            continue
        tx[fact.name] = draw(fact_values(fact))
    return tx


#: Bad values for each kind, with the code they must be reported with.
BAD_VALUES = {
    "bool": [(1, "E302"), (0, "E302"), ("true", "E302"), (None, "E302"), ([True], "E302")],
    "integer": [(1.5, "E302"), ("1", "E302"), (True, "E302"), (None, "E302"), (float("nan"), "E303"),
                ([1], "E302")],
    "number": [("1", "E302"), (True, "E302"), (None, "E302"), (float("inf"), "E303"),
               (Decimal("NaN"), "E303"), ({"x": 1}, "E302")],
    "percent": [(100.5, "E303"), (-1, "E303"), ("5", "E302"), (True, "E302"), ("101%", "E303"),
                ("abc%", "E302"), (Decimal("-0.001"), "E303"), (float("nan"), "E303")],
    "date": [("2025-02-30", "E303"), ("2025-1-1", "E303"), (20250101, "E302"),
             (datetime.datetime(2025, 1, 1), "E302"), (None, "E302")],
    "country": [("cn", "E303"), ("UK", "E303"), ("CHN", "E303"), (86, "E302"), (None, "E302")],
    "string": [(42, "E302"), (None, "E302"), (True, "E302"), (["x"], "E302"), (b"x", "E302")],
    "enum": [("zz_not_a_value", "E303"), ("", "E303"), (1, "E302"), (None, "E302")],
}
BAD_SETS = [("x", "E302"), (None, "E302"), ({"a": 1}, "E302"), (3, "E302")]


def bad_value(fact: Fact):
    """(value, code) of a value the fact must reject."""
    if fact.kind == "set":
        element_bad = [([v], code) for v, code in BAD_VALUES[fact.element]
                       if v is not None and not isinstance(v, (list, dict))]
        return st.sampled_from(BAD_SETS + element_bad)
    return st.sampled_from(BAD_VALUES[fact.kind])


@st.composite
def broken_transactions(draw, spec: PolicySpec) -> tuple[object, list[str]]:
    """A transaction with one or more faults, and the codes (a multiset) it must be rejected with."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([[], "facts", None, 5, [("f0", 1)], 1.5])), ["E305"]
    tx = draw(transactions(spec))
    expected: list[str] = []
    faults = draw(st.lists(st.sampled_from(["missing", "unknown", "bad"]), min_size=1, max_size=3))
    touched: set[str] = set()
    for fault in faults:
        if fault == "missing":
            candidates = [f for f in spec.required if f.name not in touched]
            if not candidates:
                continue
            fact = draw(st.sampled_from(candidates))
            touched.add(fact.name)
            tx.pop(fact.name, None)
            expected.append("E301")
        elif fault == "unknown":
            name = draw(st.sampled_from(["zz", "f0", "F0_bool", "origin", "f1_x", ""]))
            if name in tx or any(f.name == name for f in spec.facts):
                continue
            tx[name] = draw(st.sampled_from([1, "x", None]))
            expected.append("E304")
        else:
            candidates = [f for f in spec.facts if f.name not in touched]
            if not candidates:
                continue
            fact = draw(st.sampled_from(candidates))
            touched.add(fact.name)
            value, code = draw(bad_value(fact))
            tx[fact.name] = value
            expected.append(code)
    if not expected:
        tx["zz_unknown"] = 1
        expected.append("E304")
    return tx, expected
