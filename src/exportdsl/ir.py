"""The checked meaning of a policy: typed facts, resolved names, desugared conditions and rules."""

from __future__ import annotations

from .records import field, record

from .operators import CompareOp, Quantifier
from .semantics import MISSING
from .source import Span
from .types import FactType


def _span():
    return field(default=None, eq=False, repr=False, kw_only=True)


@record
class Expr:
    """Base of every IR condition node."""

    span: Span | None = _span()


@record
class Const(Expr):
    """A constant truth value."""

    value: bool


@record
class Compare(Expr):
    """``fact OP value`` with a canonical value (bool facts: ``fact = true``)."""

    fact: str
    op: CompareOp
    value: object


@record
class Member(Expr):
    """``fact in values`` (``not in`` is ``Not(Member)``); ``set_name`` when written as a named set."""

    fact: str
    values: frozenset
    set_name: str | None = None


@record
class SetTest(Expr):
    """``fact contains any/all values`` on a set-valued fact (``contains v`` is ``any {v}``)."""

    fact: str
    quantifier: Quantifier
    values: frozenset
    set_name: str | None = None


@record
class IsEmpty(Expr):
    """``fact is empty``."""

    fact: str


@record(cache_hash=True)
class Not(Expr):
    """Negation."""

    operand: Expr


@record(cache_hash=True)
class And(Expr):
    """Conjunction of two or more operands."""

    operands: tuple[Expr, ...]


@record(cache_hash=True)
class Or(Expr):
    """Disjunction of two or more operands."""

    operands: tuple[Expr, ...]


@record(eq=False)
class Named(Expr):
    """A named condition, inlined where it is used; the name is kept for explanations.

    The checker lowers each named condition once and reuses the same object wherever it is named,
    so conditions form a DAG, not a tree: a chain of conditions that each use the previous one twice
    doubles the tree at every step. Hashing and equality therefore work on the DAG: the hash is
    computed once and kept, and equality compares each pair of shared nodes once
    (:func:`same_condition`), so neither is exponential in the chain's length.
    """

    name: str
    body: Expr
    _hash: int | None = field(default=None, init=False, repr=False)

    def __hash__(self) -> int:
        cached = self._hash
        if cached is None:
            cached = hash((Named, self.name, self.body))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __eq__(self, other) -> bool:
        if self is other:
            return True
        if not isinstance(other, Named):
            return NotImplemented
        return same_condition(self, other)

    def __ne__(self, other) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal


def _compound_parts(node: Expr) -> tuple:
    """The sub-conditions of a node (operands, operand or body); () for a leaf."""
    if isinstance(node, (And, Or)):
        return node.operands
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, Named):
        return (node.body,)
    return ()


def same_condition(a: Expr, b: Expr) -> bool:
    """Structural equality of two conditions that may share sub-conditions, each pair of nodes
    compared at most once (without recursion)."""
    seen: set[tuple[int, int]] = set()
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y or (id(x), id(y)) in seen:
            continue
        seen.add((id(x), id(y)))
        if type(x) is not type(y):
            return False
        if isinstance(x, Named):
            if x.name != y.name or (x._hash is not None and y._hash is not None and x._hash != y._hash):
                return False
        elif isinstance(x, (And, Or)):
            if len(x.operands) != len(y.operands):
                return False
        elif not isinstance(x, Not):
            if x != y:        # a leaf: record equality of its fields
                return False
            continue
        stack.extend(zip(_compound_parts(x), _compound_parts(y)))
    return True


@record
class Fact:
    """A declared fact: name, type, and its default (``MISSING`` for a required fact)."""

    name: str
    type: FactType
    default: object = MISSING
    span: Span | None = _span()

    @property
    def required(self) -> bool:
        """True when a transaction must carry this fact."""
        return self.default is MISSING


@record
class NamedSet:
    """A named set: its members as written (typed where used)."""

    name: str
    members: tuple[str, ...]
    span: Span | None = _span()
    literals: tuple = field(default=(), eq=False, repr=False)  # the ast.Literal members, for re-checking


@record
class Rule:
    """A rule: id, metadata, the condition as written (``when``) and the full ``condition`` incl. dates."""

    id: str
    decision: str
    when: Expr
    condition: Expr
    title: str | None = None
    cite: str | None = None
    effective: str | None = None
    until: str | None = None
    overrides: tuple[str, ...] = ()
    suspended_by: tuple[str, ...] = ()
    span: Span | None = _span()


@record
class Suspension:
    """Rules that do not apply while the ``dated by`` fact is within ``[effective, until]``."""

    id: str
    rules: tuple[str, ...]
    effective: str | None = None
    until: str | None = None
    title: str | None = None
    cite: str | None = None
    span: Span | None = _span()


@record
class Policy:
    """A checked policy: decisions least severe first, the default, facts, sets, conditions, rules."""

    name: str | None
    version: str | None
    decisions: tuple[str, ...]
    default: str
    facts: dict[str, Fact] = field(eq=False)
    rules: tuple[Rule, ...]
    sets: dict[str, NamedSet] = field(factory=dict, eq=False)
    conditions: dict[str, Expr] = field(factory=dict, eq=False)
    dated_by: str | None = None
    suspensions: dict[str, Suspension] = field(factory=dict, eq=False)

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def severity(self, decision: str) -> int:
        """Index of a decision in the severity order (0 = least severe)."""
        return self.decisions.index(decision)
