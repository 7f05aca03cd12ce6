"""Explanations of decisions: which rules applied, each condition's value, citations.

The text is safe to print on a terminal (control bytes and bidi controls from the policy or the
facts are shown escaped), and as long as the policy, not as its expansion: a named condition used
in several places is shown in full the first time and as ``(as above)`` afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import ir
from .backends.interpreter import TraceNode, trace
from .combining import combine
from .escape import for_terminal
from .render import condition_text, value_text

_MARK = {True: "✓", False: "✗"}


def _leaf_facts(expr: ir.Expr) -> list[str]:
    fact = getattr(expr, "fact", None)
    return [fact] if fact is not None else []


def _lines(node: TraceNode, policy: ir.Policy, facts: Mapping, depth: int, out: list[str],
           shown: set[int]) -> None:
    expr = node.expr
    pad = "    " * depth
    if isinstance(expr, (ir.And, ir.Or)):
        word = "all of" if isinstance(expr, ir.And) else "any of"
        out.append(f"{pad}{_MARK[node.value]} {word}:")
        for child in node.children:
            _lines(child, policy, facts, depth + 1, out, shown)
        return
    if isinstance(expr, ir.Named) and expr.name.startswith("applies("):
        out.append(f"{pad}{_MARK[node.value]} {expr.name}    (see that rule)")
        return
    if (isinstance(expr, ir.Not) and isinstance(expr.operand, ir.Named)
            and expr.operand.name.startswith("suspension ")):
        suspension = policy.suspensions[expr.operand.name.split(" ", 1)[1]]
        window = f"{suspension.effective or '...'} to {suspension.until or '...'}"
        out.append(f"{pad}{_MARK[node.value]} not suspended by {suspension.id} ({policy.dated_by} {window}"
                   f"{', ' + suspension.cite if suspension.cite else ''})    "
                   f"({policy.dated_by} is {facts[policy.dated_by]})")
        return
    if isinstance(expr, ir.Named):
        if id(expr) in shown:
            out.append(f"{pad}{_MARK[node.value]} {expr.name}    (as above)")
            return
        shown.add(id(expr))
        out.append(f"{pad}{_MARK[node.value]} {expr.name}:")
        _lines(node.children[0], policy, facts, depth + 1, out, shown)
        return
    if isinstance(expr, ir.Not) and not isinstance(expr.operand, (ir.Member, ir.IsEmpty)):
        out.append(f"{pad}{_MARK[node.value]} not:")
        _lines(node.children[0], policy, facts, depth + 1, out, shown)
        return
    text = condition_text(expr, policy.facts)
    shown = [f"{name} is {value_text(policy.facts[name].type, facts[name])}"
             for name in _leaf_facts(expr.operand if isinstance(expr, ir.Not) else expr)]
    suffix = f"    ({', '.join(shown)})" if shown else ""
    out.append(f"{pad}{_MARK[node.value]} {text}{suffix}")


def _rule_heading(rule: ir.Rule) -> str:
    parts = [rule.id]
    if rule.title:
        parts.append(f'"{rule.title}"')
    if rule.cite:
        parts.append(f"[{rule.cite}]")
    return " ".join(parts) + f" -> {rule.decision}"


def explain(policy: ir.Policy, facts: Mapping) -> str:
    """A readable account of how a policy decides canonical ``facts`` (every rule, every condition),
    safe to print on a terminal."""
    memo: dict = {}
    shown: set[int] = set()
    traces = [(rule, trace(rule.condition, facts, memo)) for rule in policy.rules]
    applicable = [rule for rule, node in traces if node.value]
    decision, deciding = combine(policy, applicable)
    title = " ".join(p for p in (policy.name, policy.version) if p)
    out = [f"decision: {decision}" + (f"   (policy {title})" if title else "")]
    if deciding:
        out.append("decided by: " + ", ".join(deciding))
    else:
        out.append(f"no rule applies: the default decision '{policy.default}'")
    if applicable:
        out.append("")
        out.append("rules that apply:")
        for rule, node in traces:
            if node.value:
                overriders = [r.id for r, n in traces if n.value and rule.id in r.overrides]
                if overriders:
                    note = f"   (overridden by {', '.join(overriders)})"
                else:
                    note = "" if rule.id in deciding else f"   (outranked by {decision})"
                out.append(f"  {_MARK[True]} {_rule_heading(rule)}{note}")
                _lines(node, policy, facts, 2, out, shown)
    others = [(rule, node) for rule, node in traces if not node.value]
    if others:
        out.append("")
        out.append("rules that do not apply:")
        for rule, node in others:
            out.append(f"  {_MARK[False]} {_rule_heading(rule)}")
            _lines(node, policy, facts, 2, out, shown)
    return "\n".join(for_terminal(line, keep_newlines=False) for line in out)
