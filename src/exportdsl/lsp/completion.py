"""What may be typed at the cursor: names, values after an operator, decisions after ``->``, snippets.

:func:`complete` reads the text before the cursor on its line (and whether the cursor is inside a
``{...}``) and offers, by context:

- after ``->``: the declared decisions;
- after ``FACT =`` (``!=``, ``<`` ...) or inside ``FACT in {``: the fact's enum values, country
  codes, or ``true``/``false``; after ``FACT contains`` (``any``/``all`` ``{``): element values;
- after ``in`` / ``not in`` / ``contains any``: the named sets;
- inside ``applies(``, after ``overrides`` or ``suspends``: rule ids;
- elsewhere: facts, named conditions and sets, keywords, and a snippet for a new rule.
"""

from __future__ import annotations

import re

import attrs

from .. import ast
from ..types import COUNTRY_CODES, Kind
from .symbols import SymbolIndex, type_text

KEYWORDS = ("and", "or", "not", "in", "contains", "any", "all", "is", "empty", "applies", "true", "false",
            "rule", "fact", "set", "condition", "suspension", "title", "cite", "effective", "until",
            "overrides", "suspends", "decisions", "default", "dated", "by", "policy", "version", "extends")

#: The snippet for a new rule (LSP snippet syntax: tab stops ``$1``, placeholders ``${2:text}``).
RULE_SNIPPET = 'rule ${1:R1} {\n  title "${2:what the rule controls}"\n  cite "${3:the legal source}"\n  ${4:condition} -> ${5:decision}\n}'

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_AFTER_ARROW = re.compile(r"->\s*\w*$")
_AFTER_COMPARE = re.compile(rf"({_NAME})\s*(?:=|!=|<=|>=|<|>)\s*[\w\"]*$")
_IN_SET_LITERAL = re.compile(rf"({_NAME})\s+(?:not\s+)?(in|contains\s+(?:any\s+|all\s+)?(?:not\s+in\s+)?)\s*\{{[^}}]*$")
_AFTER_CONTAINS = re.compile(rf"({_NAME})\s+contains\s+\w*$")
_AFTER_IN = re.compile(rf"({_NAME})\s+(?:not\s+)?in\s+\w*$|contains\s+(?:any|all)\s+(?:not\s+in\s+)?\w*$")
_RULE_LIST = re.compile(r"(applies\s*\([^)]*|\b(?:overrides|suspends)\s+[\w,\s]*)$")


@attrs.frozen
class Completion:
    """One proposal: the text shown (``label``), what kind of thing it is, and what it inserts."""

    label: str
    kind: str                      # fact, set, condition, rule, decision, value, keyword, snippet
    detail: str | None = None
    snippet: str | None = None     # insert this LSP snippet instead of the label


def _values(texpr: ast.TypeExpr | None) -> list[str]:
    """The values that fit a fact's type as declared (elements, for a set)."""
    if texpr is None:
        return []
    if texpr.element is not None:
        return _values(texpr.element)
    if texpr.enum_values is not None:
        return [lit.text for lit in texpr.enum_values]
    if texpr.name == Kind.COUNTRY.value:
        return sorted(COUNTRY_CODES)
    if texpr.name == Kind.BOOL.value:
        return ["true", "false"]
    return []


def _fact_type(index: SymbolIndex, name: str) -> ast.TypeExpr | None:
    """The type of a fact as declared (read from the syntax tree, so it works while the policy
    does not check)."""
    decl = index.declarations.get(("fact", name))
    return decl.type if decl is not None else None


def _value_items(index: SymbolIndex, fact: str) -> list[Completion]:
    texpr = _fact_type(index, fact)
    if texpr is None:
        return []
    element = texpr.element or texpr
    detail = "country code" if element.name == Kind.COUNTRY.value else f"a value of {fact}"
    return [Completion(value, "value", detail) for value in _values(texpr)]


def complete(index: SymbolIndex, before: str) -> list[Completion]:
    """Proposals at a cursor preceded by ``before`` (the text from the start of its line)."""
    if _AFTER_ARROW.search(before):
        return [Completion(name, "decision") for name in index.names("decision")]
    if match := _IN_SET_LITERAL.search(before):
        return _value_items(index, match.group(1))
    if match := _RULE_LIST.search(before):
        return [Completion(name, "rule", _rule_detail(index, name)) for name in index.names("rule")]
    if match := _AFTER_COMPARE.search(before):
        if _fact_type(index, match.group(1)) is not None:
            return _value_items(index, match.group(1))
    if match := _AFTER_CONTAINS.search(before):
        items = [Completion(word, "keyword") for word in ("any", "all")]
        return items + _value_items(index, match.group(1))
    if _AFTER_IN.search(before):
        return [Completion(name, "set", _set_detail(index, name)) for name in index.names("set")]
    items = [Completion(name, "fact", type_text(_fact_type(index, name))) for name in index.names("fact")]
    items += [Completion(name, "condition") for name in index.names("condition")]
    items += [Completion(name, "set", _set_detail(index, name)) for name in index.names("set")]
    items += [Completion(word, "keyword") for word in KEYWORDS]
    if not before.strip():
        items.append(Completion("rule", "snippet", "a new rule", RULE_SNIPPET))
    return items


def _set_detail(index: SymbolIndex, name: str) -> str:
    decl = index.declarations.get(("set", name))
    return f"{len(decl.members.items)} members" if decl is not None else ""


def _rule_detail(index: SymbolIndex, name: str) -> str | None:
    decl = index.declarations.get(("rule", name))
    return decl.title if decl is not None else None
