"""How the compiled evaluator's generated code reads and checks each fact (a mixin of its generator).

The main function reads each fact of an exact ``dict`` into a local and checks it inline against
its canonical form, exact built-in types only; anything else takes the slow way (the reference
validator, :func:`exportdsl.semantics.validate_facts`). Some facts are read into a code that the
rules test more cheaply than the value itself:

* a set fact becomes a bit mask (:func:`exportdsl.semantics.set_mask`);
* a date fact becomes its place among the dates the rules compare it with
  (:func:`exportdsl.semantics.date_code`), found with one dict lookup that also stands for its
  validation (only valid dates are ever stored there), so that ``ship_date >= 2025-10-09`` is an
  int comparison instead of a string one.
"""

from __future__ import annotations

import functools
from decimal import Decimal

from .. import ir
from ..semantics import date_code, set_mask
from ..types import COUNTRY_CODES, Kind
from .float_cuts import float_value

_NUMERIC = (Kind.NUMBER, Kind.PERCENT)
#: The fast path takes ints, floats and Decimals within these bounds (well inside what validation
#: accepts); anything larger, smaller or longer is checked by validate_facts.
_FAST_INT = 10**18
#: Ints within +-_COMPACT_INT are checked against it first: CPython 3.11 specialises a comparison of
#: two one-digit ints (below 2**30), not one with 10**18 (measured: about 180 instructions per check).
_COMPACT_INT = 2**30 - 1
#: The largest finite float: a float within +-_MAX_FLOAT is finite (NaN compares false).
_MAX_FLOAT = 1.7976931348623157e308
_FAST_EXPONENT = 30
_FAST_DIGITS = 30
_DECIMAL_HUGE = Decimal(f"1e{_FAST_EXPONENT}")
_DECIMAL_TINY = Decimal(f"1e-{_FAST_EXPONENT}")


def _small_decimal_size() -> int:
    """The ``__sizeof__`` of a Decimal whose coefficient is stored inside the object, where that
    size tells: CPython's C ``decimal`` keeps up to 4 words (76 digits) there and reports a larger
    size for a longer coefficient, so one ``__sizeof__`` call bounds the digits (far below
    validation's limit; a short Decimal kept in a larger allocation just takes the slow way). 0 where
    the sizes do not tell (then the generated code measures ``str``)."""
    small = Decimal(1).__sizeof__()
    if Decimal("9" * 76).__sizeof__() == small and Decimal("9" * 77).__sizeof__() > small:
        return small
    return 0


#: See :func:`_small_decimal_size`.
_DECIMAL_SMALL = _small_decimal_size()


class _StrSubclass(str):
    """A key of another type than ``str`` (for :func:`exact_str_key_sizes`)."""


#: Dicts of up to this many keys are told apart by their size (see :func:`exact_str_key_sizes`); a
#: policy with more facts has the generated code check each key's type instead.
KEY_SIZES_UP_TO = 4096


@functools.cache
def exact_str_key_sizes() -> frozenset | None:
    """The ``__sizeof__`` values of a ``dict`` whose keys are all exact ``str``, where that size tells.

    A dict key that is a ``str`` subclass may lie in its ``__hash__`` and ``__eq__`` and be found by
    the lookup of a declared fact name, while the reference validator reads it as its base value, an
    unknown fact. CPython keeps a dict whose keys are all exact ``str`` in a table of smaller entries
    (turned into the general table for good once another key comes in), so its size tells, in one
    call, that no key can lie. The sizes are those of dicts built as callers build them (a key at a
    time, as ``json.loads`` does; presized; copied) with up to :data:`KEY_SIZES_UP_TO` keys, less
    every size the same dicts have with one key of another type; a dict whose size is not listed
    takes the slow way (correct, only slower). None where the sizes do not tell (the generated code
    then checks each key). Computed on first use (about 10 ms), not at import.
    """
    try:
        found = []
        for first in ("k", _StrSubclass("k")):
            keys = [first, *(f"k{i}" for i in range(1, KEY_SIZES_UP_TO))]
            sizes: set[int] = set()
            grown: dict = {}
            for key in keys:
                grown[key] = 0
                sizes.add(grown.__sizeof__())
            n = 1
            while n <= KEY_SIZES_UP_TO:
                for m in (n, n * 2 // 3, n * 2 // 3 + 1, n * 3 // 4):
                    if 0 < m <= KEY_SIZES_UP_TO:
                        built = dict.fromkeys(frozenset(keys[:m]))
                        sizes.update((built.__sizeof__(), built.copy().__sizeof__(), dict(built).__sizeof__()))
                n *= 2
            found.append(sizes)
        exact = frozenset(found[0] - found[1]) | {{}.__sizeof__()}
        if ({"k": 0}.__sizeof__() in exact and {_StrSubclass("k"): 0}.__sizeof__() not in exact
                and {"k": 0, 1: 0}.__sizeof__() not in exact):
            return exact
    except Exception:  # noqa: BLE001 - an interpreter without these sizes: check each key instead
        pass
    return None


#: The sub-conditions of a condition node (a named condition's body included).
sub_conditions = ir._compound_parts


def each_node(conditions):
    """Every node under some conditions, each once (named conditions may form a DAG)."""
    seen: set[int] = set()
    stack = list(conditions)
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            yield node
            stack.extend(sub_conditions(node))


def date_thresholds(facts, conditions) -> tuple[str, ...]:
    """Every date that a condition compares a date fact with, sorted: the places of
    :func:`exportdsl.semantics.date_code` (one list for all the date facts of a policy)."""
    dates: set[str] = set()
    for node in each_node(conditions):
        if isinstance(node, ir.Compare) and facts[node.fact].type.kind is Kind.DATE:
            dates.add(node.value)
        elif isinstance(node, ir.Member) and facts[node.fact].type.kind is Kind.DATE:
            dates.update(node.values)
    return tuple(sorted(dates))


class FactChecks:
    """Source lines that read and check facts, for the generator (:class:`.python._Codegen`), whose
    ``policy``, ``decisive``, ``exact``, ``slow``, ``to_exact``, ``local``, ``masks``, ``dates``,
    ``namespace``, ``prefix``, ``const``, ``literal`` and ``set_literal`` they use."""

    def read_fact(self, fact: ir.Fact) -> list[str]:
        """The fact's value into its local: a KeyError for a missing required fact, else its default."""
        x = self.local[fact.name]
        if fact.required:
            return [f"{x} = facts[{fact.name!r}]"]
        if fact.type.kind is Kind.SET:       # its default is a mask: put in place after the check
            return [f"{x} = facts.get({fact.name!r}, _MISSING)", f"if {x} is not _MISSING: n += 1"]
        return [f"{x} = facts.get({fact.name!r}, _MISSING)",
                f"if {x} is _MISSING: {x} = {self.default_literal(fact)}",
                "else: n += 1"]

    def check_keys(self) -> list[str]:
        """After the count of keys is checked: every key is an exact ``str`` (see
        :func:`exact_str_key_sizes`), so that no key found by a fact's name can be another one."""
        sizes = exact_str_key_sizes() if len(self.policy.facts) <= KEY_SIZES_UP_TO else None
        if sizes is not None:
            return [f"if facts.__sizeof__() not in {self.const(sizes)}: {self.slow}"]
        return ["for k in facts:", f"    if type(k) is not str: {self.slow}"]

    def check_fact(self, fact: ir.Fact, x: str) -> list[str]:
        kind, slow = fact.type.kind, self.slow
        if kind is Kind.BOOL:
            return [f"if {x} is not True and {x} is not False: {slow}"]
        if kind is Kind.INTEGER:
            return [f"if type({x}) is not int: {slow}", *self.int_range(x)]
        if kind in _NUMERIC:
            return self.check_number(kind, x)
        if kind is Kind.DATE:
            # Its code: a dict lookup, which holds valid dates only; a new date is checked (a
            # ValueError the slow way) and remembered. The local then holds the code.
            return [f"if type({x}) is not str: {slow}", f"try: {x} = _DATES[{x}]",
                    f"except KeyError: {x} = _new_date({x})"]
        if kind is Kind.COUNTRY:
            return [f"if type({x}) is not str or {x} not in _COUNTRIES: {slow}"]
        if kind is Kind.STRING:
            return [f"if type({x}) is not str: {slow}"]
        if kind is Kind.ENUM:
            return [f"if type({x}) is not str or {x} not in {self.set_literal(frozenset(fact.type.values))}: {slow}"]
        if kind is Kind.SET:
            lines = self.check_set(fact.name, fact.type.element, x)
            if fact.required:
                return lines
            return [f"if {x} is _MISSING: {x} = {self.default_literal(fact)}", "else:"] + ["    " + line for line in lines]
        raise AssertionError(kind)

    def set_bits(self, name: str, fact: ir.Fact) -> tuple[str, int, int]:
        """A set fact's mask encoding (:func:`exportdsl.semantics.set_mask`): the name of its bits
        table, its ``other`` bit and the mask of every bit. An enum set has a bit per declared value;
        a set of strings or countries a bit per value the rules name, and one for all the others."""
        element = fact.type.element
        if element.kind is Kind.ENUM:
            universe = list(element.values)
        else:
            named: set = set()
            for node in each_node(self.decisive.values()):
                if isinstance(node, ir.SetTest) and node.fact == name:
                    named.update(node.values)
            universe = sorted(named)
        bits = {value: 1 << i for i, value in enumerate(universe)}
        other = 1 << len(universe)
        if element.kind is Kind.COUNTRY:       # every valid code listed: an unknown one is a KeyError
            bits = {code: bits.get(code, other) for code in sorted(COUNTRY_CODES)}
        table = f"_{self.prefix}B{self.local[name]}"
        self.namespace[table] = bits
        return table, other, (other << 1) - 1

    def local_value(self, name: str, value):
        """What the generated code holds in a fact's local for a canonical value: a set's mask, a
        date's code, else the value itself (for code that reads canonical facts directly)."""
        if name in self.masks:
            return self.mask_of(name, value)
        if self.policy.facts[name].type.kind is Kind.DATE:
            return date_code(value, self.dates)
        return value

    def mask_of(self, fact: str, values) -> int:
        """The mask of some values of a set fact (values the rules name, or a default's elements)."""
        table, other, _ = self.masks[fact]
        return set_mask(values, self.namespace[table], other)

    def check_set(self, name: str, element, x: str) -> list[str]:
        """A set fact: a list, tuple, set or frozenset of exact ``str`` elements, each one valid,
        read into its mask (:func:`exportdsl.semantics.set_mask`).

        Each element's class is checked before anything hashes or compares it, and its bit is
        added right after: the mask holds exactly the elements checked, whatever the caller does
        to its list meanwhile. An element that is not valid is a KeyError (the slow way).
        """
        slow = self.slow
        table, other, _ = self.masks[name]
        bit = f"{table}.get(e, {other})" if element.kind is Kind.STRING else f"{table}[e]"
        return [f"c = type({x})",
                f"if c is not list and c is not tuple and c is not frozenset and c is not set: {slow}",
                "m = 0",
                f"for e in {x}:",
                f"    if type(e) is not str: {slow}",
                f"    m |= {bit}",
                f"{x} = m"]

    def int_range(self, x: str) -> list[str]:
        """An exact int within the fast range: first the compact range (specialised comparisons)."""
        return [f"if not {x} > {-_COMPACT_INT} or not {x} < {_COMPACT_INT}:",
                f"    if not {x} > {-_FAST_INT} or not {x} < {_FAST_INT}: {self.slow}"]

    def check_number(self, kind: Kind, x: str) -> list[str]:
        """Exact ints, floats and Decimals within what :func:`validate_facts` accepts.

        Every finite float is within validation's bounds (at most 17 digits, magnitude between
        5e-324 and 2e308), so a float needs only to be finite (and in 0..100 for a percent). An int
        or a Decimal takes the fast way only within a narrower range, so that the fast path never
        accepts a value that validation would refuse; values outside it take the slow way. A valid
        Decimal sets ``d``: once every fact is checked, the exact variant of the rules decides (the
        float variant compares floats) with the checked locals.
        """
        slow = self.slow
        # Comparisons written one by one, each followed by its jump: CPython 3.11 specialises those
        # (a chained comparison it does not); `not x >= lo` is true for NaN.
        if kind is Kind.PERCENT:
            float_range = f"not {x} >= 0.0 or not {x} <= 100.0"
            int_check = [f"    if not {x} >= 0 or not {x} <= 100: {slow}"]
        else:
            float_range = f"not {x} >= {-_MAX_FLOAT!r} or not {x} <= {_MAX_FLOAT!r}"
            int_check = ["    " + line for line in self.int_range(x)]
        lines = [f"c = type({x})",
                 "if c is float:",
                 f"    if {float_range}: {slow}",
                 "elif c is int:",
                 *int_check]
        # A Decimal: few digits (see _DECIMAL_SMALL), and zero or a magnitude within the fast range,
        # by as few comparisons as the common case allows (a positive value in range: two). A NaN
        # raises InvalidOperation (the slow way); an infinity is out of range; a zero, even -0 or
        # 0E-500, is falsy and accepted (validation accepts every zero).
        tiny, high = self.const(_DECIMAL_TINY), self.const(Decimal(100) if kind is Kind.PERCENT else _DECIMAL_HUGE)
        if kind is Kind.PERCENT:
            magnitude = f"(not {tiny} <= {x} <= {high} and {x})"
        else:
            minus_tiny, low = self.const(-_DECIMAL_TINY), self.const(-_DECIMAL_HUGE)
            magnitude = f"(not {tiny} <= {x} < {high} and not {low} < {x} <= {minus_tiny} and {x})"
        digits = (f"{x}.__sizeof__() != {_DECIMAL_SMALL}" if _DECIMAL_SMALL
                  else f"len(str({x})) > {_FAST_DIGITS}")
        lines.append(f"elif c is not _Decimal or {digits} or {magnitude}: {slow}")
        lines.append("else: d = True")
        return lines

    def default_literal(self, fact: ir.Fact) -> str:
        """The default as the local value of a fact left out (a number's is checked like a given one:
        a float where one means the default exactly, else a Decimal, which the exact variant decides)."""
        default = fact.default
        if fact.type.kind in _NUMERIC and default.__class__ is not int:
            as_float = float_value(default)
            return self.literal(default if as_float is None else as_float)
        if fact.type.kind is Kind.SET:
            return repr(self.mask_of(fact.name, default))
        return self.literal(default)
