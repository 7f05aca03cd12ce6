"""JSON Schema (draft 2020-12) of the transactions a checked policy accepts."""

from __future__ import annotations

from decimal import Decimal

from . import ir
from .semantics import MISSING
from .types import COUNTRY_CODES, FactType, Kind

_PERCENT_STRING = r"^(100(\.0+)?|[0-9]{1,2}(\.[0-9]+)?)%$"


def _json_value(value):
    if isinstance(value, frozenset):
        return sorted(_json_value(v) for v in value)
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    return value


def type_schema(ftype: FactType) -> dict:
    """The JSON Schema of one fact type."""
    kind = ftype.kind
    if kind is Kind.BOOL:
        return {"type": "boolean"}
    if kind is Kind.INTEGER:
        return {"type": "integer"}
    if kind is Kind.NUMBER:
        return {"type": "number"}
    if kind is Kind.PERCENT:
        return {"anyOf": [{"type": "number", "minimum": 0, "maximum": 100},
                          {"type": "string", "pattern": _PERCENT_STRING}],
                "description": "percentage points (0.1 means 0.1 %), or a string such as \"0.1%\""}
    if kind is Kind.DATE:
        return {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    if kind is Kind.COUNTRY:
        return {"type": "string", "enum": sorted(COUNTRY_CODES), "description": "ISO 3166-1 alpha-2 code"}
    if kind is Kind.STRING:
        return {"type": "string"}
    if kind is Kind.ENUM:
        return {"type": "string", "enum": list(ftype.values)}
    if kind is Kind.SET:
        return {"type": "array", "items": type_schema(ftype.element)}
    raise AssertionError(kind)


def json_schema(policy: ir.Policy) -> dict:
    """The JSON Schema of a transaction for ``policy``: every declared fact, required unless defaulted."""
    properties = {}
    for name, fact in policy.facts.items():
        prop = type_schema(fact.type)
        if fact.default is not MISSING:
            prop = {**prop, "default": _json_value(fact.default)}
        properties[name] = prop
    title = " ".join(p for p in (policy.name, policy.version) if p) or "policy"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Transaction for {title}",
        "type": "object",
        "properties": properties,
        "required": [name for name, fact in policy.facts.items() if fact.required],
        "additionalProperties": False,
    }
