"""The public Policy object: a checked, compiled, immutable policy that evaluates and explains."""

from __future__ import annotations

import contextlib
import gc
import operator
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

from . import ast, ir
from .backends import interpreter
from .backends.python import compile_policy
from .check import lower
from .compose import resolve
from .errors import Diagnostic, ParseError
from .explain import explain as explain_text
from .parser import parse
from .schema import json_schema
from .semantics import validate_facts
from .source import Source
from .types import FactType

_new_tuple = tuple.__new__


class Decision(tuple):
    """The result of one evaluation: ``.decision``, ``.rules`` (ids of the deciding rules), ``.explain()``.

    Immutable. Equality compares the decision, the rules, the policy and the facts.
    """

    __slots__ = ()

    decision: str = property(operator.itemgetter(0), doc="The decision (a declared decision name).")
    rules: tuple[str, ...] = property(operator.itemgetter(1), doc="Ids of the rules that gave the decision.")
    policy: "Policy" = property(operator.itemgetter(2), doc="The policy that decided.")
    facts: Mapping = property(operator.itemgetter(3), doc="The facts as given.")

    def explain(self) -> str:
        """Text: the decision, the rules that applied and each condition's value, with citations."""
        return self.policy.explain(self.facts)

    def to_json(self) -> dict:
        """``{"decision": ..., "rules": [...]}``."""
        return {"decision": self.decision, "rules": list(self.rules)}

    def __repr__(self) -> str:
        return f"Decision(decision={self.decision!r}, rules={self.rules!r})"


class Policy:
    """A checked and compiled policy. Immutable and safe to share between threads.

    Build one with :func:`exportdsl.load` or :func:`exportdsl.compile`.
    """

    __slots__ = ("_ir", "_module", "_compiled", "_facts", "__weakref__")

    def __init__(self, module: ast.Module, policy_ir: ir.Policy):
        init = object.__setattr__
        init(self, "_module", module)
        init(self, "_ir", policy_ir)
        init(self, "_compiled", compile_policy(policy_ir))
        init(self, "_facts", MappingProxyType({name: f.type for name, f in policy_ir.facts.items()}))

    def __setattr__(self, name, value):
        raise AttributeError("Policy objects are immutable")

    def __delattr__(self, name):
        raise AttributeError("Policy objects are immutable")

    # ---- description
    @property
    def name(self) -> str | None:
        """The name from the ``policy`` header."""
        return self._ir.name

    @property
    def version(self) -> str | None:
        """The version from the ``policy`` header."""
        return self._ir.version

    @property
    def facts(self) -> Mapping[str, FactType]:
        """Fact name to type, in declaration order."""
        return self._facts

    @property
    def decisions(self) -> tuple[str, ...]:
        """Decision names, least severe first."""
        return self._ir.decisions

    @property
    def default(self) -> str:
        """The decision when no rule applies."""
        return self._ir.default

    @property
    def rules(self) -> tuple[ir.Rule, ...]:
        """The rules in source order (id, decision, title, cite, effective, until, overrides, suspended_by)."""
        return self._ir.rules

    @property
    def suspensions(self) -> Mapping[str, ir.Suspension]:
        """Suspension id to suspension (id, rules, effective, until, title, cite), in source order."""
        return self._ir.suspensions

    @property
    def ir(self) -> ir.Policy:
        """The checked intermediate representation."""
        return self._ir

    @property
    def ast(self) -> ast.Module:
        """The syntax tree as parsed."""
        return self._module

    @property
    def generated_source(self) -> str:
        """The Python source of the compiled evaluator (for inspection)."""
        return self._compiled.source

    def json_schema(self) -> dict:
        """JSON Schema of a transaction for this policy."""
        return json_schema(self._ir)

    # ---- evaluation
    def evaluate(self, facts: Mapping, *, explain: bool = False) -> Decision:
        """Decide one transaction; raises :class:`exportdsl.EvaluationError` on bad facts (fail closed).

        With ``explain=True`` the reference interpreter decides instead of the compiled evaluator
        (same answer, slower), which is what ``explain()`` uses anyway.
        """
        if explain:
            decision, rules = interpreter.evaluate(self._ir, facts)
        else:
            decision, rules = self._compiled.decide(facts)
        return _new_tuple(Decision, (decision, rules, self, facts))

    def evaluate_many(self, transactions: Iterable[Mapping]) -> Iterator[Decision]:
        """Decide transactions one after another (stops at the first bad one, raising its error)."""
        decide = self._compiled.decide
        for facts in transactions:
            decision, rules = decide(facts)
            yield _new_tuple(Decision, (decision, rules, self, facts))

    def decide(self, facts: Mapping) -> tuple[str, tuple[str, ...]]:
        """The bare ``(decision, rule_ids)`` pair, without a Decision object (the fastest call)."""
        return self._compiled.decide(facts)

    def interpret(self, facts: Mapping) -> tuple[str, tuple[str, ...]]:
        """``(decision, rule_ids)`` from the reference interpreter (for cross-checking)."""
        return interpreter.evaluate(self._ir, facts)

    def explain(self, facts: Mapping) -> str:
        """Explanation text for one transaction (validates the facts first)."""
        return explain_text(self._ir, validate_facts(self._ir.facts, facts))

    def __repr__(self) -> str:
        title = " ".join(p for p in (self.name, self.version) if p) or "unnamed"
        return f"<Policy {title}: {len(self.rules)} rules>"


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while compiling: a large policy allocates hundreds of
    thousands of acyclic objects, and collections over them cost a third of the compile time.
    Nested and concurrent compilations share one pause; a collector the caller disabled stays off."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def compile_text(text: str, name: str | None = None) -> Policy:
    """Parse, check and compile policy text; raises ParseError or CheckError with diagnostics."""
    with _gc_paused():
        module = parse(Source(name or "<string>", text))
        return Policy(module, lower(resolve(module)))


def load(path: str | Path) -> Policy:
    """Read, parse, check and compile a policy file into a :class:`Policy`.

    ``extends`` paths in the file are relative to its folder. Raises :class:`ParseError` (E1xx,
    including E104 for a file that cannot be read) or :class:`CheckError` (E2xx), each with every
    diagnostic found.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(Diagnostic("E104", f"cannot read policy {str(path)!r}: {exc.strerror or exc}")) from None
    return compile_text(text, str(path))
