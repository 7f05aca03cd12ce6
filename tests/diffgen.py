"""Hypothesis strategies for PAIRS of policies (an old version and a mutated new one), for the diff tests.

Built on :mod:`policygen`: the facts, the per-fact literal pools, named-set literals and the random
conditions all come from there (``facts_strategy``, ``Fact.pool``/``literal``, ``_Exprs``). What this
module adds is a *structured* policy (:class:`PolicyModel`) that can be rendered to text and mutated
declaration by declaration, so that the second policy of a pair is the first one with a few edits:

* a rule's condition replaced, narrowed, widened or negated; its decision changed; its
  ``effective`` / ``until`` dates moved, added or dropped; rules added and removed;
* a named set gaining or losing members;
* less often: the default decision or the severity order changed, ``overrides`` and ``applies()``
  added, a suspension added or its window moved, a fact only the new version declares (with a
  rule that reads it), an enum (or set-of-enum) fact gaining a value;
* sometimes no edit at all (the two texts are identical).

Policies stay small (at most 6 facts and 8 rules) so that one diff takes milliseconds.
:func:`pair_transactions` draws transactions over the union of both versions' facts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from hypothesis import strategies as st

import policygen
from policygen import DATE_POOL, ENUM_NAMES, Fact, PolicySpec, _Exprs, quote

#: Mutation kinds, with weights (repeated names are drawn more often).
MUTATIONS = (
    ["condition"] * 6 + ["decision"] * 3 + ["dates"] * 3 + ["add_rule"] * 2 + ["remove_rule"] * 2
    + ["set_members"] * 3 + ["default"] + ["severity"] + ["overrides"] + ["applies"] + ["suspension"]
    + ["new_fact"] + ["enum_value"]
)

MAX_RULES = 8
#: Nesting depth a generated condition may use: the parser allows 64, and mutations wrap conditions
#: (``not (...)``, ``(...) and (...)``, ``applies`` conjuncts) a few more levels deep.
ROOM = 48


@dataclass
class RuleModel:
    id: str
    body: str                                  # condition text, as policygen writes it
    decision: str
    effective: str | None = None
    until: str | None = None
    meta: tuple[str, ...] = ()                 # title / cite clauses, already rendered
    overrides: tuple[str, ...] = ()
    applies: tuple[tuple[bool, str], ...] = ()  # extra conjuncts: (negated, rule id) -> [not] applies(R)

    def condition_text(self) -> str:
        if not self.applies:
            return self.body
        extra = [("not " if negated else "") + f"applies({rid})" for negated, rid in self.applies]
        return " and ".join([f"({self.body})", *extra])

    def render(self) -> str:
        meta = list(self.meta)
        if self.effective:
            meta.append(f"effective {self.effective}")
        if self.until:
            meta.append(f"until {self.until}")
        if self.overrides:
            meta.append("overrides " + ", ".join(self.overrides))
        return f"rule {self.id} {{ {' '.join(meta)} {self.condition_text()} -> {self.decision} }}"


@dataclass
class SuspensionModel:
    id: str
    rules: tuple[str, ...]
    effective: str | None
    until: str | None

    def render(self) -> str:
        parts = [f"suspends {', '.join(self.rules)}"]
        if self.effective:
            parts.append(f"effective {self.effective}")
        if self.until:
            parts.append(f"until {self.until}")
        return f"suspension {self.id} {{ {' '.join(parts)} }}"


@dataclass
class PolicyModel:
    decisions: list[str]
    facts: list[Fact]
    header: str | None = None                  # the optional ``policy "..." version "..."`` line
    default: str | None = None
    dated_by: str | None = None
    sets: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # name -> (fact name, raw members)
    conditions: list[tuple[str, str]] = field(default_factory=list)
    rules: list[RuleModel] = field(default_factory=list)
    suspensions: list[SuspensionModel] = field(default_factory=list)

    def fact(self, name: str) -> Fact:
        return next(f for f in self.facts if f.name == name)

    def text(self) -> str:
        lines = [self.header] if self.header else []
        lines.append("decisions " + " < ".join(self.decisions))
        if self.default:
            lines.append(f"default {self.default}")
        if self.dated_by:
            lines.append(f"dated by {self.dated_by}")
        for fact in self.facts:
            line = f"fact {fact.name}: {fact.type_text()}"
            lines.append(line if fact.default is None else f"{line} = {fact.default}")
        for name, (owner, members) in self.sets.items():
            fact = self.fact(owner)
            lines.append(f"set {name} = {{{', '.join(fact.literal(m) for m in members)}}}")
        lines += [f"condition {name} = {text}" for name, text in self.conditions]
        lines += [rule.render() for rule in self.rules]
        lines += [s.render() for s in self.suspensions]
        return "\n".join(lines) + "\n"

    def spec(self) -> PolicySpec:
        """The policygen view (for ``policygen.transactions`` and ``_Exprs``)."""
        return PolicySpec(self.text(), self.facts, list(self.decisions),
                          {name: owner for name, (owner, _) in self.sets.items()})

    def rule_ids(self) -> list[str]:
        return [r.id for r in self.rules]

    def next_rule_id(self) -> str:
        taken = set(self.rule_ids())
        i = len(taken)
        while f"R{i}" in taken:
            i += 1
        return f"R{i}"


@dataclass
class PolicyPair:
    old: PolicyModel
    new: PolicyModel
    mutations: list[str]
    old_text: str = ""
    new_text: str = ""

    def __post_init__(self):
        self.old_text, self.new_text = self.old.text(), self.new.text()

    def __repr__(self) -> str:  # what Hypothesis prints for a falsifying example
        return (f"PolicyPair(mutations={self.mutations!r})\n--- old\n{self.old_text}--- new\n{self.new_text}")

    @property
    def new_only_facts(self) -> list[Fact]:
        names = {f.name for f in self.old.facts}
        return [f for f in self.new.facts if f.name not in names]


# ---- building blocks ------------------------------------------------------------------------

def _raw_members(draw, fact: Fact, max_size: int = 4) -> list[str]:
    return draw(st.lists(st.sampled_from(fact.pool()), max_size=max_size))


def _expr(draw, model: PolicyModel, budget: int = 3, facts: list[Fact] | None = None,
          conditions: list[str] | None = None) -> str:
    spec = model.spec()
    if facts is not None:
        spec.facts = facts
        spec.sets = {n: o for n, o in spec.sets.items() if any(f.name == o for f in facts)}
    names = [n for n, _ in model.conditions] if conditions is None else conditions
    text, _ = _Exprs(draw, spec, names).expr(budget, room=ROOM)
    return text


def _predicate(draw, model: PolicyModel, facts: list[Fact] | None = None) -> str:
    return _expr(draw, model, 0, facts, conditions=[])


def _new_rule(draw, model: PolicyModel, rid: str) -> RuleModel:
    rule = RuleModel(rid, _expr(draw, model), draw(st.sampled_from(model.decisions)))
    if model.dated_by:
        if draw(st.booleans()):
            rule.effective = draw(st.sampled_from(DATE_POOL))
        if draw(st.booleans()):
            rule.until = draw(st.sampled_from(DATE_POOL))
    if draw(st.integers(0, 3)) == 0:
        rule.meta = (f"title {quote('rule ' + rid)}",)
    return rule


def _earlier_rules(model: PolicyModel, rule: RuleModel) -> list[str]:
    """Rules this one may name in applies(): those before it (no cycles)."""
    ids = model.rule_ids()
    return ids[:ids.index(rule.id)]


# ---- the first policy ---------------------------------------------------------------------------

@st.composite
def base_policies(draw, max_facts: int = 6, max_rules: int = 6, max_conditions: int = 3,
                  extras: bool = True) -> PolicyModel:
    """A random policy shaped like ``policygen.policies()``, kept as a structure (see the module doc)."""
    facts = draw(policygen.facts_strategy())[:max_facts]
    decisions = draw(st.lists(st.sampled_from(["allow", "review", "license_required", "deny", "ban"]),
                              min_size=2, max_size=4, unique=True))
    model = PolicyModel(decisions, facts)
    if draw(st.booleans()):
        model.header = f'policy {quote("generated")} version {quote("1")}'
    if draw(st.booleans()):
        model.default = draw(st.sampled_from(decisions))
    date_facts = [f for f in facts if f.kind == "date"]
    if date_facts and draw(st.booleans()):
        model.dated_by = draw(st.sampled_from(date_facts)).name
    for i, fact in enumerate(facts):
        if fact.kind != "bool" and draw(st.integers(0, 2)) == 0:
            model.sets[f"s{i}"] = (fact.name, _raw_members(draw, fact))
    for i in range(draw(st.integers(0, max_conditions))):
        model.conditions.append((f"c{i}", _expr(draw, model, 2)))
    for i in range(draw(st.integers(1, max_rules))):
        model.rules.append(_new_rule(draw, model, f"R{i}"))
    if extras and len(model.rules) > 1 and draw(st.integers(0, 4)) == 0:
        _add_overrides(draw, model)
    if extras and len(model.rules) > 1 and draw(st.integers(0, 4)) == 0:
        _add_applies(draw, model)
    if extras and model.dated_by and draw(st.integers(0, 4)) == 0:
        _add_suspension(draw, model)
    return model


# ---- mutations ----------------------------------------------------------------------------------

def _add_overrides(draw, model: PolicyModel) -> None:
    rule = draw(st.sampled_from(model.rules))
    others = [rid for rid in model.rule_ids() if rid != rule.id and rid not in rule.overrides]
    if others:
        rule.overrides += tuple(draw(st.lists(st.sampled_from(others), min_size=1, max_size=2, unique=True)))


def _add_applies(draw, model: PolicyModel) -> None:
    rule = draw(st.sampled_from(model.rules[1:]))
    target = draw(st.sampled_from(_earlier_rules(model, rule)))
    rule.applies += ((draw(st.booleans()), target),)


def _add_suspension(draw, model: PolicyModel) -> None:
    rules = tuple(draw(st.lists(st.sampled_from(model.rule_ids()), min_size=1, max_size=3, unique=True)))
    effective = draw(st.one_of(st.none(), st.sampled_from(DATE_POOL)))
    until = draw(st.sampled_from(DATE_POOL)) if effective is None else draw(
        st.one_of(st.none(), st.sampled_from(DATE_POOL)))
    model.suspensions.append(SuspensionModel(f"S{len(model.suspensions)}", rules, effective, until))


def _remove_rule(model: PolicyModel, rid: str) -> None:
    model.rules = [r for r in model.rules if r.id != rid]
    for rule in model.rules:
        rule.overrides = tuple(o for o in rule.overrides if o != rid)
        rule.applies = tuple(a for a in rule.applies if a[1] != rid)
    for s in model.suspensions:
        s.rules = tuple(r for r in s.rules if r != rid)
    model.suspensions = [s for s in model.suspensions if s.rules]


def _mutate(draw, model: PolicyModel, kind: str, change_default: bool = True) -> bool:
    """Apply one mutation in place; False when it does not apply to this policy."""
    rules = model.rules
    if kind == "condition":
        rule = draw(st.sampled_from(rules))
        how = draw(st.sampled_from(["replace", "narrow", "widen", "negate"]))
        if how == "replace":
            rule.body = _expr(draw, model)
        elif how == "narrow":
            rule.body = f"({rule.body}) and ({_predicate(draw, model)})"
        elif how == "widen":
            rule.body = f"({rule.body}) or ({_predicate(draw, model)})"
        else:
            rule.body = f"not ({rule.body})"
        return True
    if kind == "decision":
        rule = draw(st.sampled_from(rules))
        others = [d for d in model.decisions if d != rule.decision]
        rule.decision = draw(st.sampled_from(others))
        return True
    if kind == "dates":
        if not model.dated_by:
            return False
        rule = draw(st.sampled_from(rules))
        which = draw(st.sampled_from(["effective", "until"]))
        setattr(rule, which, draw(st.one_of(st.none(), st.sampled_from(DATE_POOL))))
        return True
    if kind == "add_rule":
        if len(rules) >= MAX_RULES:
            return False
        rule = _new_rule(draw, model, model.next_rule_id())
        position = draw(st.integers(0, len(rules)))
        if any(r.applies for r in rules[position:]):
            position = len(rules)    # keep applies() pointing backwards
        rules.insert(position, rule)
        return True
    if kind == "remove_rule":
        if len(rules) < 2:
            return False
        _remove_rule(model, draw(st.sampled_from(model.rule_ids())))
        return True
    if kind == "set_members":
        if not model.sets:
            return False
        name = draw(st.sampled_from(sorted(model.sets)))
        owner, members = model.sets[name]
        fact = model.fact(owner)
        if members and draw(st.booleans()):
            members = list(members)
            del members[draw(st.integers(0, len(members) - 1))]
        else:
            members = [*members, draw(st.sampled_from(fact.pool()))]
        model.sets[name] = (owner, members)
        return True
    if kind == "default":
        model.default = draw(st.sampled_from([d for d in model.decisions if d != (model.default or model.decisions[0])]))
        return True
    if kind == "severity":
        default = model.default or model.decisions[0]
        i = draw(st.integers(0, len(model.decisions) - 2))
        model.decisions[i], model.decisions[i + 1] = model.decisions[i + 1], model.decisions[i]
        if not change_default:
            model.default = default     # the implicit default is the least severe decision
        return True
    if kind == "overrides":
        if len(rules) < 2:
            return False
        _add_overrides(draw, model)
        return True
    if kind == "applies":
        if len(rules) < 2:
            return False
        _add_applies(draw, model)
        return True
    if kind == "suspension":
        if not model.dated_by:
            return False
        if model.suspensions and draw(st.booleans()):
            s = draw(st.sampled_from(model.suspensions))
            s.effective = draw(st.sampled_from(DATE_POOL))
            if s.until is not None:
                s.until = draw(st.one_of(st.none(), st.sampled_from(DATE_POOL)))
        else:
            _add_suspension(draw, model)
        return True
    if kind == "new_fact":
        if len(model.facts) >= 6 or len(rules) >= MAX_RULES:
            return False
        kind_ = draw(st.sampled_from(policygen.SCALAR_KINDS + ("set",)))
        element = draw(st.sampled_from(policygen.SET_ELEMENTS)) if kind_ == "set" else None
        values: tuple = ()
        if "enum" in (kind_, element):
            values = tuple(draw(st.lists(st.sampled_from(ENUM_NAMES), min_size=1, max_size=4, unique=True)))
        fact = Fact(f"f{len(model.facts)}_new_{kind_}", kind_, element, values)
        model.facts.append(fact)
        rule = RuleModel(model.next_rule_id(), _expr(draw, model, 1, facts=[fact], conditions=[]),
                         draw(st.sampled_from(model.decisions)))
        if draw(st.booleans()):
            rule.body = f"({rule.body}) and ({_predicate(draw, model)})"
        rules.append(rule)
        return True
    if kind == "enum_value":
        enums = [f for f in model.facts if "enum" in (f.kind, f.element)]
        if not enums:
            return False
        fact = draw(st.sampled_from(enums))
        fresh = [v for v in ENUM_NAMES if v not in fact.values]
        value = draw(st.sampled_from(fresh))
        fact.values = (*fact.values, value)
        if draw(st.booleans()):   # and a rule that reads the new value
            rule = draw(st.sampled_from(rules))
            test = (f"{fact.name} contains {fact.literal(value)}" if fact.kind == "set"
                    else f"{fact.name} = {fact.literal(value)}")
            rule.body = f"({rule.body}) or ({test})"
        return True
    raise AssertionError(kind)


@st.composite
def policy_pairs(draw, max_facts: int = 6, max_rules: int = 6, max_mutations: int = 3,
                 extras: bool = True, change_default: bool = True) -> PolicyPair:
    """(old, new): a random policy and a mutation of it (about 1 in 8: identical).

    ``change_default=False`` keeps the default decision (no ``default`` mutation, and a severity
    swap of the least severe decision keeps it explicitly).
    """
    old = draw(base_policies(max_facts=max_facts, max_rules=max_rules, extras=extras))
    new = copy.deepcopy(old)
    applied: list[str] = []
    kinds = MUTATIONS if extras else [m for m in MUTATIONS if m not in ("new_fact", "enum_value")]
    if not change_default:
        kinds = [m for m in kinds if m != "default"]
    if not (draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans())):   # 1 in 8: identical
        wanted = draw(st.integers(1, max_mutations))
        for _ in range(4 * wanted):          # a mutation that does not apply is drawn again
            if len(applied) == wanted:
                break
            kind = draw(st.sampled_from(kinds))
            if _mutate(draw, new, kind, change_default):
                applied.append(kind)
    return PolicyPair(old, new, applied)


# ---- transactions over the union of both versions' facts --------------------------------------------

@st.composite
def pair_transactions(draw, pair: PolicyPair) -> dict:
    """A transaction for the old policy (policygen), plus values for facts only the new one declares.

    Sometimes an enum value only the new version declares is put in (the old version must then
    reject the transaction, which the diff reports as ``<invalid>``).
    """
    tx = draw(policygen.transactions(pair.old.spec()))
    for fact in pair.new_only_facts:
        if fact.default is None or draw(st.booleans()):
            tx[fact.name] = draw(policygen.fact_values(fact))
    for fact in pair.new.facts:
        if fact.name not in tx:
            continue
        old_values = next((f.values for f in pair.old.facts if f.name == fact.name), fact.values)
        gained = [v for v in fact.values if v not in old_values]
        if gained and draw(st.integers(0, 2)) == 0:
            value = draw(st.sampled_from(gained))
            tx[fact.name] = [value] if fact.kind == "set" else value
    return tx
