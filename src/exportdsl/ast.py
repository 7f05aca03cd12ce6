"""Syntax tree of a policy as written: declarations, rules and conditions with spans and comments."""

from __future__ import annotations

import attrs

from .operators import CompareOp, LiteralKind, Quantifier
from .source import Span


def _span():
    # Positions never take part in equality: parse(fmt(x)) == x relies on it.
    return attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen(slots=True)
class Node:
    """Base of every syntax node; ``span`` locates it in the source."""

    span: Span | None = _span()


@attrs.frozen(slots=True)
class Ident(Node):
    """A name as written (fact, set, condition, rule id, decision)."""

    name: str


@attrs.frozen(slots=True)
class Literal(Node):
    """A literal value as written: its lexical kind and its text (``0.1%``, ``2025-12-01``, ``"Acme"``)."""

    kind: LiteralKind
    text: str


@attrs.frozen(slots=True)
class SetLiteral(Node):
    """``{a, b, c}``."""

    items: tuple[Literal, ...]


@attrs.frozen(slots=True)
class SetName(Node):
    """A reference to a named set in a set position (``end_use in defense``)."""

    name: str


SetRef = SetLiteral | SetName


# ---- conditions ------------------------------------------------------------------

@attrs.frozen(slots=True)
class Compare(Node):
    """``fact OP value``."""

    fact: Ident
    op: CompareOp
    value: Literal


@attrs.frozen(slots=True)
class InSet(Node):
    """``fact in S`` or ``fact not in S``."""

    fact: Ident
    values: SetRef
    negated: bool = False


@attrs.frozen(slots=True)
class Contains(Node):
    """``fact contains v``, ``fact contains any S``, ``fact contains all S`` or ``fact contains any not in S``
    on a set-valued fact."""

    fact: Ident
    quantifier: Quantifier | None   # None: ``contains v`` with a single value
    values: SetRef | Literal


@attrs.frozen(slots=True)
class IsEmpty(Node):
    """``fact is empty`` or ``fact is not empty``."""

    fact: Ident
    negated: bool = False


@attrs.frozen(slots=True)
class Ref(Node):
    """A bare name in a condition: a bool fact or a named condition."""

    name: str


@attrs.frozen(slots=True)
class Applies(Node):
    """``applies(R1, R2)``: one of the named rules applies (its dates and suspensions included)."""

    rules: tuple[Ident, ...]


@attrs.frozen(slots=True)
class BoolConst(Node):
    """``true`` or ``false`` as a condition."""

    value: bool


@attrs.frozen(slots=True)
class Not(Node):
    """``not X``."""

    operand: "Expr"


@attrs.frozen(slots=True)
class And(Node):
    """``X and Y and ...`` (two or more operands)."""

    operands: tuple["Expr", ...]


@attrs.frozen(slots=True)
class Or(Node):
    """``X or Y or ...`` (two or more operands)."""

    operands: tuple["Expr", ...]


Expr = Compare | InSet | Contains | IsEmpty | Ref | Applies | BoolConst | Not | And | Or


# ---- declarations ------------------------------------------------------------------

@attrs.frozen(slots=True)
class TypeExpr(Node):
    """A type as written: a scalar name, an enum's values, or ``set of`` an element type."""

    name: str | None = None                       # bool, integer, number, percent, date, country, string
    enum_values: tuple[Literal, ...] | None = None
    element: "TypeExpr | None" = None             # for ``set of``


@attrs.frozen(slots=True)
class PolicyDecl(Node):
    """``policy "name" version "v"``."""

    name: str
    version: str | None = None


@attrs.frozen(slots=True)
class DecisionsDecl(Node):
    """``decisions a < b < c``: least severe first."""

    names: tuple[Ident, ...]


@attrs.frozen(slots=True)
class DefaultDecl(Node):
    """``default d``: the decision when no rule applies."""

    decision: Ident


@attrs.frozen(slots=True)
class DatedDecl(Node):
    """``dated by fact``: the date fact that rules' effective/until dates refer to."""

    fact: Ident


@attrs.frozen(slots=True)
class FactDecl(Node):
    """``fact name: type`` with an optional ``= default`` (which makes the fact optional)."""

    name: Ident
    type: TypeExpr
    default: Literal | SetLiteral | None = None


@attrs.frozen(slots=True)
class SetDecl(Node):
    """``set name = {...}``."""

    name: Ident
    members: SetLiteral


@attrs.frozen(slots=True)
class ConditionDecl(Node):
    """``condition name = EXPR``."""

    name: Ident
    body: Expr


@attrs.frozen(slots=True)
class RuleDecl(Node):
    """``rule ID { title "..." cite "..." effective D until D  CONDITION -> DECISION }``."""

    id: Ident
    condition: Expr
    decision: Ident
    title: str | None = None
    cite: str | None = None
    effective: Literal | None = None
    until: Literal | None = None
    overrides: tuple[Ident, ...] = ()


@attrs.frozen(slots=True)
class ExtendsDecl(Node):
    """``extends "base.xpol"``: this policy starts from everything the base declares."""

    path: str


@attrs.frozen(slots=True)
class SuspensionDecl(Node):
    """``suspension ID { suspends R1, R2  effective D  until D }``: rules off within a date window."""

    id: Ident
    rules: tuple[Ident, ...]
    title: str | None = None
    cite: str | None = None
    effective: Literal | None = None
    until: Literal | None = None


Decl = (PolicyDecl | DecisionsDecl | DefaultDecl | DatedDecl | FactDecl | SetDecl | ConditionDecl | RuleDecl
        | ExtendsDecl | SuspensionDecl)


@attrs.frozen(slots=True)
class Comment(Node):
    """A ``# ...`` comment, kept for the formatter."""

    text: str


@attrs.frozen(slots=True)
class Module(Node):
    """A whole policy file: its declarations in source order, and its comments."""

    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = attrs.field(default=(), eq=False)
    #: After ``extends`` is resolved: the text of every file of the chain, this one first, then its
    #: base, and so on (empty before resolving, or for a module that extends nothing).
    chain: tuple = attrs.field(default=(), eq=False, repr=False)
    #: Warnings about the text itself (W15x diagnostics), found while parsing.
    warnings: tuple = attrs.field(default=(), eq=False, repr=False)
