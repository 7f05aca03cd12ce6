"""Syntax tree of a policy as written: declarations, rules and conditions with spans and comments."""

from __future__ import annotations

from .records import field, record

from .operators import CompareOp, LiteralKind, Quantifier
from .source import Span


def _span():
    # Positions never take part in equality: parse(fmt(x)) == x relies on it.
    return field(default=None, eq=False, repr=False, kw_only=True)


@record
class Node:
    """Base of every syntax node; ``span`` locates it in the source."""

    span: Span | None = _span()


@record
class Ident(Node):
    """A name as written (fact, set, condition, rule id, decision)."""

    name: str


@record
class Literal(Node):
    """A literal value as written: its lexical kind and its text (``0.1%``, ``2025-12-01``, ``"Acme"``)."""

    kind: LiteralKind
    text: str


@record
class SetLiteral(Node):
    """``{a, b, c}``."""

    items: tuple[Literal, ...]


@record
class SetName(Node):
    """A reference to a named set in a set position (``end_use in defense``)."""

    name: str


SetRef = SetLiteral | SetName


# ---- conditions ------------------------------------------------------------------

@record
class Compare(Node):
    """``fact OP value``."""

    fact: Ident
    op: CompareOp
    value: Literal


@record
class InSet(Node):
    """``fact in S`` or ``fact not in S``."""

    fact: Ident
    values: SetRef
    negated: bool = False


@record
class Contains(Node):
    """``fact contains v``, ``fact contains any S``, ``fact contains all S`` or ``fact contains any not in S``
    on a set-valued fact."""

    fact: Ident
    quantifier: Quantifier | None   # None: ``contains v`` with a single value
    values: SetRef | Literal


@record
class IsEmpty(Node):
    """``fact is empty`` or ``fact is not empty``."""

    fact: Ident
    negated: bool = False


@record
class Ref(Node):
    """A bare name in a condition: a bool fact or a named condition."""

    name: str


@record
class Applies(Node):
    """``applies(R1, R2)``: one of the named rules applies (its dates and suspensions included)."""

    rules: tuple[Ident, ...]


@record
class BoolConst(Node):
    """``true`` or ``false`` as a condition."""

    value: bool


@record
class Not(Node):
    """``not X``."""

    operand: "Expr"


@record
class And(Node):
    """``X and Y and ...`` (two or more operands)."""

    operands: tuple["Expr", ...]


@record
class Or(Node):
    """``X or Y or ...`` (two or more operands)."""

    operands: tuple["Expr", ...]


Expr = Compare | InSet | Contains | IsEmpty | Ref | Applies | BoolConst | Not | And | Or


# ---- declarations ------------------------------------------------------------------

@record
class TypeExpr(Node):
    """A type as written: a scalar name, an enum's values, or ``set of`` an element type."""

    name: str | None = None                       # bool, integer, number, percent, date, country, string
    enum_values: tuple[Literal, ...] | None = None
    element: "TypeExpr | None" = None             # for ``set of``


@record
class PolicyDecl(Node):
    """``policy "name" version "v"``."""

    name: str
    version: str | None = None


@record
class DecisionsDecl(Node):
    """``decisions a < b < c``: least severe first."""

    names: tuple[Ident, ...]


@record
class DefaultDecl(Node):
    """``default d``: the decision when no rule applies."""

    decision: Ident


@record
class DatedDecl(Node):
    """``dated by fact``: the date fact that rules' effective/until dates refer to."""

    fact: Ident


@record
class FactDecl(Node):
    """``fact name: type`` with an optional ``= default`` (which makes the fact optional)."""

    name: Ident
    type: TypeExpr
    default: Literal | SetLiteral | None = None


@record
class SetDecl(Node):
    """``set name = {...}``."""

    name: Ident
    members: SetLiteral


@record
class ConditionDecl(Node):
    """``condition name = EXPR``."""

    name: Ident
    body: Expr


@record
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


@record
class ExtendsDecl(Node):
    """``extends "base.xpol"``: this policy starts from everything the base declares."""

    path: str


@record
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


@record
class Comment(Node):
    """A ``# ...`` comment, kept for the formatter."""

    text: str


@record
class Module(Node):
    """A whole policy file: its declarations in source order, and its comments."""

    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = field(default=(), eq=False)
    #: After ``extends`` is resolved: the text of every file of the chain, this one first, then its
    #: base, and so on (empty before resolving, or for a module that extends nothing).
    chain: tuple = field(default=(), eq=False, repr=False)
    #: Warnings about the text itself (W15x diagnostics), found while parsing.
    warnings: tuple = field(default=(), eq=False, repr=False)
