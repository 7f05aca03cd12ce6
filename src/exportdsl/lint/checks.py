"""The linter: warnings and notes with stable W-codes about policies that check but are probably wrong."""

# lint() runs every lint on one checked policy: the exact semantic lints of lint_rules (conditions
# that never hold, rules that never decide, duplicate, subsumed and overlapping rules), unused
# declarations, empty or one-day date windows, and near-miss string values. lint_family() lints
# several policies together, so that a base declaration only its extensions use is not reported.

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence


from .. import ast, ir
from ..errors import Diagnostic, Severity
from .logic import Budget
from .rules import RuleLinter
from ..types import Kind

__all__ = ["Budget", "lint", "lint_family", "near_miss"]

#: Near-miss string values: both at least this long (after normalisation) to compare by edit distance.
NEAR_MISS_MIN_LENGTH = 4
#: Past this many distinct values for one fact, only the case/space/punctuation test runs.
NEAR_MISS_MAX_VALUES = 5_000


# ---- one policy --------------------------------------------------------------------------------

def lint(policy: ir.Policy, module: ast.Module, *, budget: Budget = Budget(),
         extended_by: Sequence[ir.Policy] = ()) -> list[Diagnostic]:
    """Every lint finding of a checked policy, sorted by place; ``module`` is its syntax tree with
    ``extends`` resolved, and ``extended_by`` the checked policies that extend it (their uses count)."""
    index = _Index(module)
    findings: list[Diagnostic] = []
    empty = _date_windows(index, findings)
    linter = RuleLinter(policy, index.span_of, budget, frozenset(empty))
    for finding in linter.run():
        if not index.own_span(finding.span):
            finding = finding.evolve(message=f"{finding.message} (in {index.file}, which extends it)")
        findings.append(finding)
    findings.extend(_unused(policy, index, extended_by))
    findings.extend(_near_misses(policy, index))
    findings.extend(module.warnings)   # about the text itself (W15x), found by the parser
    return _sorted(findings)


def lint_family(pairs: Sequence[tuple[ir.Policy, ast.Module]], *, budget: Budget = Budget()) -> list[list[Diagnostic]]:
    """Lint several policies together; a base's declarations used by a policy extending it count as used."""
    resolved: dict[str, str] = {}   # each source's file, resolved once (not once per declaration)

    def file_of(name: str) -> str:
        found = resolved.get(name)
        if found is None:
            found = resolved[name] = os.path.realpath(name)
        return found

    files = [file_of(module.span.source.name) if module.span is not None else None for _, module in pairs]
    contains = [{file_of(d.span.source.name) for d in module.decls if d.span is not None} for _, module in pairs]
    results = []
    for i, (policy, module) in enumerate(pairs):
        extenders = [pairs[j][0] for j in range(len(pairs)) if j != i and files[i] in contains[j]]
        results.append(lint(policy, module, budget=budget, extended_by=extenders))
    # A finding on an inherited declaration that the base's own lint already reports is not repeated.
    own_keys = {files[i]: {_key(d) for d in found} for i, found in enumerate(results)}
    for i, found in enumerate(results):
        results[i] = [d for d in found if d.span is None or file_of(d.span.source.name) == files[i]
                      or _key(d) not in own_keys.get(file_of(d.span.source.name), set())]
    return results


def _key(diagnostic: Diagnostic) -> tuple:
    span = diagnostic.span
    return (diagnostic.code, span.source.name if span else "", span.start if span else -1)


def _sorted(findings: Iterable[Diagnostic]) -> list[Diagnostic]:
    far = float("inf")
    unique = {(d.code, d.message, d.span.source.name if d.span else "", d.span.start if d.span else -1): d
              for d in findings}
    return sorted(unique.values(), key=lambda d: (
        d.span is None, d.span.source.name if d.span else "", d.span.start if d.span else far, d.code))


class _Index:
    """The declarations of a resolved module by name, and which of them the policy's own file holds."""

    def __init__(self, module: ast.Module):
        self.module = module
        self.file = module.span.source.name if module.span is not None else None
        self.rules = {d.id.name: d for d in module.decls if isinstance(d, ast.RuleDecl)}
        self.conditions = {d.name.name: d for d in module.decls if isinstance(d, ast.ConditionDecl)}
        self.sets = {d.name.name: d for d in module.decls if isinstance(d, ast.SetDecl)}
        self.facts = {d.name.name: d for d in module.decls if isinstance(d, ast.FactDecl)}
        self.suspensions = [d for d in module.decls if isinstance(d, ast.SuspensionDecl)]

    def own(self, decl) -> bool:
        """Whether a declaration is written in the policy's own file (not inherited through ``extends``)."""
        return self.own_span(decl.span)

    def own_span(self, span) -> bool:
        """Whether a span lies in the policy's own file."""
        return self.file is None or span is None or span.source.name == self.file

    def span_of(self, kind: str, name: str):
        """Where to report a rule (its id), a rule's condition, or a named condition (its name)."""
        if kind == "condition":
            decl = self.conditions.get(name)
            return decl.name.span if decl is not None else None
        decl = self.rules.get(name)
        if decl is None:
            return None
        return decl.condition.span if kind == "when" else decl.id.span


# ---- W131: date windows --------------------------------------------------------------------------

def _date_windows(index: _Index, findings: list[Diagnostic]) -> list[str]:
    """``until`` before or on ``effective`` (rules and suspensions); returns the rules that never apply."""
    empty = []
    for kind, decl, ident in ([("rule", d, d.id) for d in index.rules.values()]
                              + [("suspension", d, d.id) for d in index.suspensions]):
        if decl.effective is None or decl.until is None:
            continue
        if not index.own(decl):
            if kind == "rule" and decl.until.text < decl.effective.text:
                empty.append(ident.name)
            continue
        effective, until = decl.effective.text, decl.until.text
        if until < effective:
            if kind == "rule":
                empty.append(ident.name)
            what = "never applies" if kind == "rule" else "never suspends anything"
            findings.append(Diagnostic(
                "W131", f"{kind} {ident.name}: until {until} is before effective {effective}, so it {what}",
                decl.until.span, help="swap the dates, or correct the one that is wrong (both days are included)",
                severity=Severity.WARNING))
        elif until == effective:
            findings.append(Diagnostic(
                "W131", f"{kind} {ident.name}: until is the same day as effective ({until}), so it lasts one day",
                decl.until.span, help="if one day is meant, ignore this; otherwise correct the until date",
                severity=Severity.WARNING))
    return empty


# ---- W121-W123: unused declarations ------------------------------------------------------------------

def _walk(expr: ir.Expr, seen: dict | None = None):
    """Every node below ``expr`` once (a named condition shared by several parents is not expanded);
    ``seen`` (id -> node) carries the visited nodes across several roots."""
    stack = [expr]
    seen = {} if seen is None else seen
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        yield node
        if isinstance(node, (ir.And, ir.Or)):
            stack.extend(node.operands)
        elif isinstance(node, ir.Not):
            stack.append(node.operand)
        elif isinstance(node, ir.Named):
            stack.append(node.body)


def _uses(policy: ir.Policy) -> tuple[set[str], set[str], set[str]]:
    """(facts, named sets, named conditions) a policy uses: facts and sets anywhere in its rules or
    named conditions (or its ``dated by``), named conditions when a rule reaches them."""
    facts, sets, conditions = set(), set(), set()
    if policy.dated_by:
        facts.add(policy.dated_by)
    from_rules: dict = {}
    from_conditions: dict = {}
    for root, from_rule in ([(r.condition, True) for r in policy.rules]
                            + [(c, False) for c in policy.conditions.values()]):
        for node in _walk(root, from_rules if from_rule else from_conditions):
            fact = getattr(node, "fact", None)
            if fact is not None:
                facts.add(fact)
            if getattr(node, "set_name", None):
                sets.add(node.set_name)
            if from_rule and isinstance(node, ir.Named) and node.name in policy.conditions:
                conditions.add(node.name)
    return facts, sets, conditions


def _unused(policy: ir.Policy, index: _Index, extended_by: Sequence[ir.Policy]) -> list[Diagnostic]:
    facts, sets, conditions = _uses(policy)
    for other in extended_by:
        more = _uses(other)
        facts |= more[0]
        sets |= more[1]
        conditions |= more[2]
    found = []
    checks = [("W121", "fact", index.facts, facts,
               ("remove the declaration; note that every transaction must carry a declared fact without a "
                "default, read or not")),
              ("W122", "set", index.sets, sets, "remove it, or use it: FACT in NAME, contains any NAME"),
              ("W123", "condition", index.conditions, conditions,
               "remove it, or use it in a rule (a condition used only by unused conditions is unused too)")]
    for code, what, decls, used, help in checks:
        for name, decl in decls.items():
            if name not in used and index.own(decl):
                where = " or in a policy extending it" if extended_by else ""
                found.append(Diagnostic(code, f"{what} '{name}' is declared but never used{where}",
                                        decl.name.span, help=help, severity=Severity.WARNING))
    return found


# ---- W141: near-miss string values ---------------------------------------------------------------------

_PUNCTUATION = re.compile(r"[\W_]+", re.UNICODE)


def _normal(text: str) -> str:
    """Case folded, every run of spaces and punctuation turned into one space, trimmed."""
    return _PUNCTUATION.sub(" ", text.casefold()).strip()


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by exactly one insertion, deletion, substitution or swap of neighbours."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):
        return a[i:] == b[i + 1:]
    return a[i + 1:] == b[i + 1:] or (i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i]
                                       and a[i + 2:] == b[i + 2:])


def near_miss(a: str, b: str) -> str | None:
    """Why two different string values look like one value misspelt, or None.

    They are near misses when they differ only in case, spaces or punctuation (``"ACME Corp."`` /
    ``"Acme Corp"``), or, once normalised so and both at least four characters long, by one edit
    (one letter inserted, deleted, replaced, or two neighbours swapped: ``"Huawei"`` / ``"Hauwei"``).
    """
    if a == b:
        return None
    na, nb = _normal(a), _normal(b)
    if na == nb:
        return "differs only in case, spaces or punctuation"
    if min(len(na), len(nb)) >= NEAR_MISS_MIN_LENGTH and _one_edit(na, nb):
        return "differs by one letter"
    return None


def _string_uses(policy: ir.Policy, index: _Index) -> dict[str, list[tuple[str, object]]]:
    """For each string (or set of string) fact, the string literals written for it, with their spans."""
    def is_string(name: str) -> bool:
        fact = policy.facts.get(name)
        if fact is None:
            return False
        ftype = fact.type.element if fact.type.is_set else fact.type
        return ftype.kind is Kind.STRING

    found: dict[str, list] = {}

    def add(fact: str, items: Iterable[ast.Literal]):
        if is_string(fact):
            found.setdefault(fact, []).extend((lit.text, lit.span) for lit in items
                                              if isinstance(lit, ast.Literal))

    def values(ref) -> tuple:
        if isinstance(ref, ast.SetLiteral):
            return ref.items
        if isinstance(ref, ast.SetName) and ref.name in index.sets:
            return index.sets[ref.name].members.items
        return (ref,) if isinstance(ref, ast.Literal) else ()

    roots = [d.condition for d in index.rules.values()] + [d.body for d in index.conditions.values()]
    stack = list(roots)
    while stack:
        node = stack.pop()
        match node:
            case ast.And(operands=ops) | ast.Or(operands=ops):
                stack.extend(ops)
            case ast.Not(operand=op):
                stack.append(op)
            case ast.Compare(fact=fact, value=value):
                add(fact.name, (value,))
            case ast.InSet(fact=fact, values=ref) | ast.Contains(fact=fact, values=ref):
                add(fact.name, values(ref))
    for name, decl in index.facts.items():
        if decl.default is not None:
            add(name, values(decl.default))
    return found


def _near_misses(policy: ir.Policy, index: _Index) -> list[Diagnostic]:
    findings = []
    for fact, uses in _string_uses(policy, index).items():
        first: dict[str, object] = {}
        count: dict[str, int] = {}
        for text, span in uses:
            first.setdefault(text, span)
            count[text] = count.get(text, 0) + 1
        values = sorted(first, key=lambda v: (-count[v], _position(first[v])))
        rank = {value: i for i, value in enumerate(values)}
        reported: set[str] = set()
        for a, b in sorted(_candidate_pairs(values), key=lambda p: sorted((rank[p[0]], rank[p[1]]))):
            # report the less used value (then the later one) as the suspect
            keep, suspect = (a, b) if rank[a] < rank[b] else (b, a)
            if suspect in reported:
                continue
            why = near_miss(suspect, keep)
            if why is None:
                continue
            reported.add(suspect)
            if not index.own_span(first[suspect]):
                continue
            where = first[keep].location() if first[keep] is not None else "elsewhere"
            findings.append(Diagnostic(
                "W141", f"{_quote(suspect)} for fact '{fact}' {why} from {_quote(keep)} (at {where})",
                first[suspect], help="string values match exactly: if both name the same thing, write them "
                                     "the same way (or list both spellings on purpose)",
                severity=Severity.WARNING))
    return findings


def _candidate_pairs(values: list[str]) -> list[tuple[str, str]]:
    """Pairs of values that may be near misses: same normal form, or (for few values) any pair of
    normal forms whose lengths differ by at most one."""
    by_normal: dict[str, list[str]] = {}
    for value in values:
        by_normal.setdefault(_normal(value), []).append(value)
    pairs = [(group[0], other) for group in by_normal.values() for other in group[1:]]
    if len(values) <= NEAR_MISS_MAX_VALUES:
        # one deletion from each normal form: two forms within one edit share a key
        keys: dict[str, list[str]] = {}
        for form in by_normal:
            if len(form) < NEAR_MISS_MIN_LENGTH:
                continue
            for i in range(len(form)):
                keys.setdefault(form[:i] + form[i + 1:], []).append(form)
            keys.setdefault(form, []).append(form)
        seen = set()
        for forms in keys.values():
            for i, f in enumerate(forms):
                for g in forms[i + 1:]:
                    if f != g and (f, g) not in seen:
                        seen.add((f, g))
                        pairs.append((by_normal[f][0], by_normal[g][0]))
    return pairs


def _position(span) -> tuple:
    return (span.source.name, span.start) if span is not None else ("", -1)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'
