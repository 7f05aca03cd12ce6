"""Rule lookups: many plain rules decided by one table lookup per fact and row, not one test per atom.

With hundreds of rules, a per-atom query costs DuckDB one expression node per atom per 2,048-row
chunk (the 250-rule benchmark policy: ~5,400 nodes). Here each fact's values fall into a few
*classes* that no rule tells apart: the values between two thresholds of a number or a date, each
string literal the rules name (and every other string), each bitmask of a chunk of a set's
elements, true and false. A rule's condition, in disjunctive normal form over per-fact parts, is a
few *terms*; each term is one bit of a 64-bit word, the words of a tier holding its rules' terms.
For each fact and class a lookup list gives the words with the bits of the terms that the class
allows (every bit of a term that does not test the fact), so a row's word is the AND of its facts'
lookups, and a tier holds when one of its words is not 0. The lookup lists are computed here, from
``semantics``: each class is given to ``semantics.compare``, ``member``, ``set_test`` and
``is_empty`` (for numbers and dates by their place among the thresholds, as in
``semantics.date_code``), so the meaning stays the one of the interpreter.

Only rules that no rule overrides or names in ``applies(...)``, and whose conditions test facts
with classes, become terms (:func:`plan`); the others stay per-atom conditions, ORed into their
tier. The lookups are DuckDB's (``list_extract`` of a constant list of structs); Spark and
``exportdsl compile`` keep the per-atom query. Measured on the 250-rule benchmark policy, 2 M rows,
``--keep row_id --no-rules``, 2 threads, interleaved runs on a shared machine: 3.8-4.1 s of process
CPU against 5.7-6.2 s per atom (the process's start, ~1.6 s, included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import attrs
from sqlglot import exp

from ... import ir
from ...combining import overridden_by
from ...operators import CompareOp, Quantifier
from ...semantics import compare, is_empty, member, set_test
from ...types import Kind
from .conditions import compare_number, referenced_rules, tiers
from .facts import FactColumn, enum_index, maskable
from .nodes import cast, col, fn, ident, lit, num, or_, paren

#: Rules of a policy that must be plain (see the module docstring) for the lookups to be used:
#: below it, per-atom conditions cost less than the lookups' fixed work per row. Measured (generated
#: policies, 2 M rows, --keep row_id --no-rules, process CPU, best of 3 interleaved): 40 rules
#: 3.9 s by lookups against 3.2 s per atom; 100 rules 4.6 against 5.2; 150 rules 4.1 against 5.6.
MIN_RULES = 64
#: A rule whose condition has more terms than this stays a per-atom condition.
MAX_TERMS = 8
#: Beyond these, a policy keeps the per-atom query: the class tests made to build the tables, and
#: the tables' entries (classes times words, before merging); the benchmark's 250 rules make
#: about 100,000 tests and 8,000 entries.
MAX_CLASS_TESTS = 2_000_000
MAX_TABLE_ENTRIES = 200_000
#: Set elements per lookup: a set of more elements is looked up by chunks of at most this many bits.
CHUNK_BITS = 6
#: Terms per word: a BIGINT (measured: HUGEINT words, half as many, were no faster).
WORD_BITS = 64
#: Lookups are merged while their merged table has at most this many classes (:func:`_merged`).
MERGED_CLASSES = 64


class _Other:
    """The class of every string that no rule names."""

    def __repr__(self) -> str:
        return "<other>"


OTHER = _Other()


class _NotPlain(Exception):
    """A condition that lookups cannot decide (it names a rule, or tests a fact without classes)."""


@attrs.frozen(eq=False)
class Key:
    """One lookup: a fact (or a chunk of a set's bitmask) and its classes, in index order."""

    fact: str
    kind: str                     # bool | ordered | text | mask | length
    classes: tuple
    first_bit: int = 0            # mask: the chunk's first bit and its elements
    elements: tuple = ()
    thresholds: tuple = ()        # ordered: the sorted distinct thresholds (Decimals, or ISO dates)
    dates: bool = False

    def subset(self, index: int) -> frozenset:
        return frozenset(e for i, e in enumerate(self.elements) if index >> i & 1)


@attrs.frozen
class Plan:
    """Which rules the lookups decide, and the SQL pieces: key columns, words, tier tests, holds."""

    rules: frozenset                        # ids of the rules decided by lookups
    index_columns: tuple                    # (name, SQL): class indexes computed over the source columns
    keys: tuple                             # (name, SQL): each key's looked-up word(s)
    words: dict                             # word column name -> SQL expression (AND of lookups)
    tier_words: dict                        # decision -> word column names
    rule_bits: dict                         # rule id -> ((word column name, bits), ...)


def _ordered_value(kind: Kind, value):
    return value if kind is Kind.DATE else Decimal(value)


def _atoms(expr: ir.Expr, seen: set[int], out: list) -> None:
    """The atoms of a condition (Compare, Member, SetTest, IsEmpty); _NotPlain for ``applies(...)``."""
    if id(expr) in seen:
        return
    seen.add(id(expr))
    match expr:
        case ir.Named(name=name) if name.startswith("applies("):
            raise _NotPlain(name)
        case ir.Compare() | ir.Member() | ir.SetTest() | ir.IsEmpty():
            out.append(expr)
    for part in ir._compound_parts(expr):
        _atoms(part, seen, out)


def _keys(policy: ir.Policy, facts: Mapping[str, FactColumn], emptiness_only: set[str],
          atoms: Sequence) -> dict[str, list[Key]]:
    """The keys of each fact that has classes (a set may have several chunks)."""
    by_fact: dict[str, list] = {}
    for atom in atoms:
        by_fact.setdefault(atom.fact, []).append(atom)
    keys: dict[str, list[Key]] = {}
    for name, tests in by_fact.items():
        f = facts[name]
        kind = f.type.kind
        if kind is Kind.BOOL:
            keys[name] = [Key(name, "bool", (False, True))]
        elif kind in (Kind.INTEGER, Kind.NUMBER, Kind.PERCENT, Kind.DATE):
            if kind is not Kind.DATE and f.numeric is None:
                continue
            points = set()
            for atom in tests:
                points.update([atom.value] if isinstance(atom, ir.Compare) else atom.values)
            thresholds = tuple(sorted({_ordered_value(kind, p) for p in points}))
            keys[name] = [Key(name, "ordered", tuple(range(2 * len(thresholds) + 1)), thresholds=thresholds,
                              dates=kind is Kind.DATE)]
        elif kind in (Kind.ENUM, Kind.COUNTRY, Kind.STRING):
            literals = set()
            for atom in tests:
                if isinstance(atom, ir.Compare) and atom.op in (CompareOp.EQ, CompareOp.NE) \
                        and isinstance(atom.value, str):
                    literals.add(atom.value)
                elif isinstance(atom, ir.Member) and all(isinstance(v, str) for v in atom.values):
                    literals.update(atom.values)
                else:
                    break
            else:
                keys[name] = [Key(name, "text", tuple(sorted(literals)) + (OTHER,))]
        elif kind is Kind.SET and maskable(f.type) and f.raw is not None:
            if name in emptiness_only:
                keys[name] = [Key(name, "length", (0, 1))]
                continue
            elements = f.type.element.values
            count = max(1, -(-len(elements) // CHUNK_BITS))
            bounds = [len(elements) * i // count for i in range(count + 1)]     # chunks of even sizes
            keys[name] = [Key(name, "mask", tuple(range(1 << (end - start))), first_bit=start,
                              elements=tuple(elements[start:end]))
                          for start, end in zip(bounds, bounds[1:])]
    return keys


# ---- conditions in disjunctive normal form over (key, class predicate) literals ----------------

def _formula(expr: ir.Expr, negated: bool, keys: Mapping[str, list[Key]], memo: dict):
    """The condition as ("and"|"or", parts) / ("lit", key, predicate) / True / False, negations
    pushed to the literals; a shared sub-condition (conditions form a DAG) is translated once."""
    known = memo.get((id(expr), negated))
    if known is None:
        known = memo[(id(expr), negated)] = _translated(expr, negated, keys, memo)
    return known


def _translated(expr: ir.Expr, negated: bool, keys: Mapping[str, list[Key]], memo: dict):
    match expr:
        case ir.Const(value=value):
            return value != negated
        case ir.Not(operand=operand):
            return _formula(operand, not negated, keys, memo)
        case ir.And(operands=operands):
            return ("or" if negated else "and", [_formula(o, negated, keys, memo) for o in operands])
        case ir.Or(operands=operands):
            return ("and" if negated else "or", [_formula(o, negated, keys, memo) for o in operands])
        case ir.Named(name=name) if name.startswith("applies("):
            raise _NotPlain(name)
        case ir.Named(body=body):
            return _formula(body, negated, keys, memo)
        case ir.Compare() | ir.Member() | ir.SetTest() | ir.IsEmpty():
            if expr.fact not in keys:
                raise _NotPlain(expr.fact)
            return _atom(expr, negated, keys[expr.fact])
    raise _NotPlain(repr(expr))


def _literal(key: Key, test, negated: bool):
    return ("lit", key, (lambda c: not test(c)) if negated else test)


def _atom(atom, negated: bool, keys: list[Key]):
    key = keys[0]
    if key.kind == "bool":
        if isinstance(atom, ir.Compare):
            return _literal(key, lambda c: compare(atom.op, c, atom.value), negated)
        return _literal(key, lambda c: member(c, atom.values), negated)
    if key.kind == "ordered":
        code = {t: 2 * i + 1 for i, t in enumerate(key.thresholds)}

        def place(v):
            return code[v if key.dates else Decimal(v)]
        if isinstance(atom, ir.Compare):
            at = place(atom.value)
            return _literal(key, lambda c: compare(atom.op, c, at), negated)
        places = frozenset(place(v) for v in atom.values)
        return _literal(key, lambda c: member(c, places), negated)
    if key.kind == "text":
        if isinstance(atom, ir.Compare):     # = or != (else the fact has no key)
            return _literal(key, lambda c: compare(atom.op, c, atom.value) if c is not OTHER
                            else atom.op is CompareOp.NE, negated)
        return _literal(key, lambda c: c is not OTHER and member(c, atom.values), negated)
    if key.kind == "length":      # only ``is empty`` (an emptiness-only set)
        return _literal(key, lambda c: is_empty(frozenset(range(c))), negated)
    # a set's bitmask, by chunks: all = every chunk has its part; any = some chunk shares one
    if isinstance(atom, ir.IsEmpty):
        parts = [_literal(k, lambda c, k=k: is_empty(k.subset(c)), negated) for k in keys]
        return ("or" if negated else "and", parts)
    q, values = atom.quantifier, atom.values
    if q is Quantifier.ALL:
        parts = [_literal(k, lambda c, k=k: set_test(q, k.subset(c), values & frozenset(k.elements)), negated)
                 for k in keys if values & frozenset(k.elements)]
        return ("or" if negated else "and", parts)
    parts = [_literal(k, lambda c, k=k: set_test(q, k.subset(c), values), negated)
             for k in keys if q is Quantifier.ANY_OTHER or values & frozenset(k.elements)]
    return ("and" if negated else "or", parts)


def _dnf(formula, limit: int, memo: dict) -> list[tuple]:
    """The terms (tuples of distinct literals, ANDed) of a formula, ORed; _NotPlain beyond
    ``limit`` terms. ``memo``: the terms of each shared sub-formula, computed once."""
    if formula is True:
        return [()]
    if formula is False:
        return []
    if formula[0] == "lit":
        return [(formula,)]
    known = memo.get(id(formula))
    if known is not None:
        return known
    parts = [_dnf(p, limit, memo) for p in formula[1]]
    if formula[0] == "or":
        terms = [t for p in parts for t in p]
    else:
        terms = [()]
        for p in parts:
            terms = [tuple(dict.fromkeys(a + b)) for a in terms for b in p]
            if len(terms) > limit:
                raise _NotPlain("too many terms")
    if len(terms) > limit:
        raise _NotPlain("too many terms")
    memo[id(formula)] = terms
    return terms


def _allowed(term: tuple) -> dict[Key, frozenset] | None:
    """For each key a term tests, the classes it allows (None when some key allows none)."""
    tests: dict[Key, list] = {}
    for _, key, test in term:
        tests.setdefault(key, []).append(test)
    result = {}
    for key, preds in tests.items():
        allowed = frozenset(i for i, c in enumerate(key.classes) if all(p(c) for p in preds))
        if not allowed:
            return None
        if len(allowed) < len(key.classes):
            result[key] = allowed
    return result


# ---- the plan and its SQL ------------------------------------------------------------------

def plan(policy: ir.Policy, facts: Mapping[str, FactColumn], values: Mapping[str, exp.Expression],
         emptiness_only: set[str], prefix: str, min_rules: int | None = None) -> Plan | None:
    """The lookups of a policy's plain rules, or None when fewer than ``min_rules`` (default
    :data:`MIN_RULES`) are plain. ``values`` are the canonical value columns of the facts."""
    least = MIN_RULES if min_rules is None else min_rules
    referenced = referenced_rules(policy)
    overriders = overridden_by(policy)
    candidates, atoms = [], []
    for rule in policy.rules:
        if rule.id in referenced or overriders[rule.id]:
            continue
        found: list = []
        try:
            _atoms(rule.condition, set(), found)
        except _NotPlain:
            continue
        candidates.append(rule)
        atoms.extend(found)
    if len(candidates) < least or not candidates:
        return None
    keys = _keys(policy, facts, emptiness_only, atoms)
    terms: dict[str, list[dict]] = {}
    formulas: dict = {}
    dnfs: dict[str, list[tuple]] = {}
    for rule in candidates:
        try:
            dnfs[rule.id] = _dnf(_formula(rule.condition, False, keys, formulas), MAX_TERMS, {})
        except _NotPlain:
            continue
    # bounded work for any policy: the class tests that the terms make, and the tables' size
    tests = sum(len(key.classes) for dnf in dnfs.values() for term in dnf for _, key, _ in term)
    words_needed = -(-sum(len(dnf) for dnf in dnfs.values()) // WORD_BITS) + len(policy.decisions)
    entries = sum(len(k.classes) for ks in keys.values() for k in ks) * words_needed
    if len(dnfs) < least or not dnfs or tests > MAX_CLASS_TESTS or entries > MAX_TABLE_ENTRIES:
        return None
    terms = {rule_id: [a for a in (_allowed(t) for t in dnf) if a is not None] for rule_id, dnf in dnfs.items()}
    # bits: the terms of each tier in rule order, 64 to a word
    words: list[tuple[str, list[dict]]] = []      # (decision, the classes each bit's term allows)
    rule_bits: dict[str, dict[int, int]] = {}
    tier_words: dict[str, list[int]] = {}
    for decision, rules in tiers(policy):
        for rule in rules:
            for allowed in terms.get(rule.id, ()):
                if not words or words[-1][0] != decision or len(words[-1][1]) == WORD_BITS:
                    words.append((decision, []))
                    tier_words.setdefault(decision, []).append(len(words) - 1)
                w = len(words) - 1
                mine = rule_bits.setdefault(rule.id, {})
                mine[w] = mine.get(w, 0) | 1 << len(words[-1][1])
                words[-1][1].append(allowed)
    index_columns, lookups = [], []
    for n, key in enumerate(k for ks in keys.values() for k in ks):
        if not any(key in allowed for _, bits in words for allowed in bits):
            continue
        table = [tuple(_word(bits, key, i) for _, bits in words) for i in range(len(key.classes))]
        if key.kind == "text":        # computed where DuckDB sees the column's dictionary
            index_columns.append((f"{prefix}i{n}", _text_index(key, facts[key.fact].value)))
            lookups.append((col(f"{prefix}i{n}"), table))
        else:
            lookups.append(_index(key, facts[key.fact], values[key.fact], table))
    full = tuple((1 << len(bits)) - 1 for _, bits in words)
    key_columns, word_parts = [], {w: [] for w in range(len(words))}
    for n, (index, table) in enumerate(_merged(lookups)):
        used = [w for w in range(len(words)) if any(row[w] != full[w] for row in table)]
        if not used:
            continue
        name = f"{prefix}k{n}"
        key_columns.append((name, _lookup([[row[w] for w in used] for row in table], index, len(used))))
        for j, w in enumerate(used):
            word_parts[w].append(col(name) if len(used) == 1 else fn("struct_extract", col(name), lit(f"w{j}")))
    names = [f"{prefix}w{w}" for w in range(len(words))]
    word_columns = {names[w]: _bitwise_and(word_parts[w]) if word_parts[w] else _bigint(full[w])
                    for w in range(len(words))}
    return Plan(frozenset(terms), tuple(index_columns), tuple(key_columns), word_columns,
                {d: tuple(names[w] for w in ws) for d, ws in tier_words.items()},
                {r: tuple((names[w], b) for w, b in bits.items()) for r, bits in rule_bits.items()})


def _merged(lookups: list[tuple[exp.Expression, list[tuple]]]) -> list[tuple[exp.Expression, list[tuple]]]:
    """Lookups with few classes merged into one over the pairs of classes (index a * |b| + b, the
    words ANDed), smallest first, while a merged table has at most :data:`MERGED_CLASSES` rows:
    measured, a lookup costs DuckDB more than the arithmetic of its index."""
    pending = sorted(lookups, key=lambda entry: len(entry[1]))
    done = []
    while len(pending) > 1 and len(pending[0][1]) * len(pending[1][1]) <= MERGED_CLASSES:
        (ia, ta), (ib, tb) = pending[0], pending[1]
        index = exp.Add(this=exp.Mul(this=paren(ia), expression=exp.Literal.number(len(tb))), expression=paren(ib))
        table = [tuple(x & y for x, y in zip(ra, rb)) for ra in ta for rb in tb]
        pending = sorted(pending[2:] + [(index, table)], key=lambda entry: len(entry[1]))
    return done + pending


def _bitwise_and(parts: list[exp.Expression]) -> exp.Expression:
    result = parts[0]
    for part in parts[1:]:
        result = exp.BitwiseAnd(this=result, expression=part)
    return result


def _word(bits: list[dict], key: Key, index: int) -> int:
    """The word of one class of a key: bit t set when term t allows the class (or does not test the key)."""
    word = 0
    for t, allowed in enumerate(bits):
        if key not in allowed or index in allowed[key]:
            word |= 1 << t
    return word


def _signed(word: int) -> int:
    return word - (1 << WORD_BITS) if word >= 1 << (WORD_BITS - 1) else word


def _bigint(word: int) -> exp.Expression:
    return cast(num(_signed(word)), "BIGINT")


def _text_index(key: Key, value: exp.Expression) -> exp.Expression:
    """A text key's class index: the literal's place among the key's literals, or the last (other)."""
    literals = key.classes[:-1]
    if not literals:
        return exp.Literal.number(0)
    return fn("coalesce", enum_index(literals, value), exp.Literal.number(len(literals)))


def _index(key: Key, f: FactColumn, value: exp.Expression, table):
    """(the class index expression of a key, 0-based; the lookup table), merging adjacent classes
    of a number or a date that every word treats alike (fewer thresholds to compare with)."""
    if key.kind == "bool":
        return cast(value, "INTEGER"), table
    if key.kind == "length":
        return cast(exp.NEQ(this=value, expression=exp.Literal.number(0)), "INTEGER"), table
    if key.kind == "mask":
        shifted = exp.BitwiseRightShift(this=value, expression=exp.Literal.number(key.first_bit)) \
            if key.first_bit else value
        return exp.BitwiseAnd(this=paren(shifted), expression=exp.Literal.number((1 << len(key.elements)) - 1)), table
    # ordered: class c is 2i for a value between thresholds i-1 and i, 2i + 1 for threshold i;
    # a boundary between classes c and c + 1 is "value >= t" (c even) or "value > t" (c odd)
    kept, bounds = [table[0]], []
    for c in range(1, len(table)):
        if table[c] != kept[-1]:
            t = key.thresholds[(c - 1) // 2]
            bounds.append((CompareOp.GE if c % 2 else CompareOp.GT, t))
            kept.append(table[c])
    tests = []
    for op, t in bounds:
        if f.type.kind is Kind.DATE:
            test = exp.GTE(this=value, expression=cast(lit(t), "DATE")) if op is CompareOp.GE \
                else exp.GT(this=value, expression=cast(lit(t), "DATE"))
        else:
            test = compare_number(value, f.numeric, op, t)
        tests.append(cast(paren(test), "INTEGER"))
    if not tests:
        return exp.Literal.number(0), kept
    index = tests[0]
    for t in tests[1:]:
        index = exp.Add(this=index, expression=t)
    return index, kept


def _lookup(table: list[list[int]], index: exp.Expression, fields: int) -> exp.Expression:
    """``list_extract([row per class], index + 1)``: BIGINTs for one word, else structs w0, w1, ..."""
    if fields == 1:
        items = exp.Array(expressions=[num(_signed(row[0])) for row in table])
        typed = cast(items, "BIGINT[]")
    else:
        items = exp.Array(expressions=[exp.Struct(expressions=[
            exp.PropertyEQ(this=ident(f"w{j}"), expression=num(_signed(v))) for j, v in enumerate(row)])
            for row in table])
        typed = cast(items, "STRUCT(" + ", ".join(f"w{j} BIGINT" for j in range(fields)) + ")[]")
    return fn("list_extract", paren(typed), exp.Add(this=paren(index), expression=exp.Literal.number(1)))


def tier_test(plan_: Plan, decision: str, words: Mapping[str, exp.Expression]) -> exp.Expression:
    """A tier holds by lookups: one of its words is not 0 (``words``: each word's expression)."""
    return or_(*(exp.NEQ(this=paren(words[w]), expression=exp.Literal.number(0))
                 for w in plan_.tier_words.get(decision, ())))


def holds(plan_: Plan, rule_id: str, words: Mapping[str, exp.Expression]) -> exp.Expression:
    """A rule decided by lookups holds: a word has one of its terms' bits."""
    return or_(*(exp.NEQ(this=paren(exp.BitwiseAnd(this=words[w], expression=_bigint(b))),
                         expression=exp.Literal.number(0)) for w, b in plan_.rule_bits.get(rule_id, ())))


__all__ = ["CHUNK_BITS", "MAX_TERMS", "MIN_RULES", "Key", "Plan", "holds", "plan", "tier_test"]
