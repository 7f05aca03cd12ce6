"""The public Policy object: a checked, compiled, immutable policy that evaluates and explains."""

from __future__ import annotations

import operator
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType

from . import ast, ir   # ast: for annotations (its classes cost little until used)
from .collector import collector_paused
from .errors import Diagnostic, EvaluationError, ParseError
from .semantics import validate_facts
from .source import Source
from .source import content_hash as source_hash
from .types import FactType

# The front end (parser, Lark, checker), the evaluator generator (backends.python), the reference
# interpreter, explanations and the JSON schema are imported where they are used, so that `import
# exportdsl` stays cheap for a program that only loads and evaluates, and a check never generates code.

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
        """``{"decision": ..., "rules": [...], "policy": {"name", "version", "hash"}}``: the decision
        and the record of the exact policy text that made it (see :attr:`Policy.content_hash`)."""
        return {"decision": self.decision, "rules": list(self.rules), "policy": self.policy.record()}

    def __repr__(self) -> str:
        return f"Decision(decision={self.decision!r}, rules={self.rules!r})"


class Policy:
    """A checked and compiled policy. Immutable and safe to share between threads.

    Build one with :func:`exportdsl.load` or :func:`exportdsl.compile`.
    """

    __slots__ = {
        "_ir": None, "_module": None, "_compiled": None, "_facts": None, "_hash": None, "_warnings": None,
        "__weakref__": None,
        # The generated function itself, so that a call costs no method dispatch.
        "decide": "``decide(facts) -> (decision, rule_ids)``: the bare pair, without a Decision object "
                  "(the fastest call with rule ids). Raises like :attr:`evaluate`.",
        "evaluate": "``evaluate(facts, *, explain=False) -> Decision``: decide one transaction; raises "
                    ":class:`exportdsl.EvaluationError` on bad facts (fail closed). With ``explain=True`` the "
                    "reference interpreter decides instead of the compiled evaluator (same answer, slower), "
                    "which is what ``explain()`` uses anyway. (The generated function itself, which builds "
                    "the Decision.)",
    }

    def __init__(self, module: ast.Module | Source, policy_ir: ir.Policy, warnings: Iterable[Diagnostic] = (), *,
                 content_hash: str | tuple[Source, ...] | None = None, compile_now: bool = True):
        # ``module`` may be the Source it was parsed from: the syntax tree is then parsed again when
        # asked for (:attr:`ast`), instead of being kept for the policy's whole life (evaluation
        # never needs it; the IR's spans keep the source text, once).
        init = object.__setattr__
        if content_hash is None:     # hashed when first asked for (hashlib costs start-up time)
            content_hash = (module,) if isinstance(module, Source) else (
                (module.span.source,) if module.span else ())
        init(self, "_hash", content_hash)
        init(self, "_module", module)
        init(self, "_warnings", tuple(warnings))
        init(self, "_ir", policy_ir)
        if compile_now:
            from .backends.python import compile_policy

            self._install(compile_policy(policy_ir, Decision))
        else:   # a command that only checks never generates the evaluator (cold start)
            pending = _CompiledOnFirstUse(self)
            init(self, "_compiled", pending)
            init(self, "decide", pending.decide)
            init(self, "evaluate", pending.evaluate)
        init(self, "_facts", MappingProxyType({name: f.type for name, f in policy_ir.facts.items()}))

    def _install(self, compiled) -> None:
        """Make ``compiled`` this policy's evaluator: its generated functions become ``decide`` and
        ``evaluate`` (``evaluate`` is replaced by the generated one once that is compiled)."""
        init = object.__setattr__
        compiled.bind(self, self._evaluate_explained, lambda function: init(self, "evaluate", function))
        init(self, "evaluate", compiled.evaluate)
        init(self, "decide", compiled.decide)
        init(self, "_compiled", compiled)

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
    def content_hash(self) -> str:
        """``sha256:<hex>`` of the policy's text and of every file of its ``extends`` chain: ties a
        decision to the exact text that made it (``exportdsl hash POLICY`` prints it)."""
        found = self._hash
        if not isinstance(found, str):   # the sources to hash (the same text gives the same hash,
            found = source_hash(found)   # so two threads computing it at once agree)
            object.__setattr__(self, "_hash", found)
        return found

    def record(self) -> dict:
        """``{"name", "version", "hash"}``: what an audit log keeps with each decision."""
        return {"name": self.name, "version": self.version, "hash": self.content_hash}

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
        """The syntax tree as parsed (parsed again from the source on each call for a policy built by
        :func:`load` or :func:`compile`, which do not keep it)."""
        module = self._module
        if isinstance(module, Source):
            from .parser import parse
            return parse(module)
        return module

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        """Warnings about the policy text itself (W15x), from this file and the files it extends."""
        return self._warnings

    @property
    def generated_source(self) -> str:
        """The Python source of the compiled evaluator (for inspection)."""
        return self._compiled.source

    def json_schema(self) -> dict:
        """JSON Schema of a transaction for this policy."""
        from .schema import json_schema
        return json_schema(self._ir)

    # ---- evaluation
    def _evaluate_explained(self, facts: Mapping) -> Decision:
        """``evaluate(facts, explain=True)``: the reference interpreter decides."""
        from .backends import interpreter
        return _new_tuple(Decision, (*interpreter.evaluate(self._ir, facts), self, facts))

    def evaluate_many(self, transactions: Iterable[Mapping], *,
                      stop_at_error: bool = True) -> Iterator[Decision | EvaluationError]:
        """Decide transactions one after another, lazily (one in, one out).

        By default it stops at the first bad transaction, raising its :class:`EvaluationError`.
        With ``stop_at_error=False`` a bad transaction yields its ``EvaluationError`` (not raised)
        in its place and the next ones are still decided.
        """
        decide = self.decide
        for facts in transactions:
            try:
                decision, rules = decide(facts)
            except EvaluationError as exc:
                if stop_at_error:
                    raise
                yield exc
                continue
            yield _new_tuple(Decision, (decision, rules, self, facts))

    def decision(self, facts: Mapping) -> str:
        """Only the decision: stops at the first rule that applies and collects no rule ids (the
        cheapest call). Validates the facts exactly like :meth:`decide`."""
        return self._compiled.decision(facts)

    def interpret(self, facts: Mapping) -> tuple[str, tuple[str, ...]]:
        """``(decision, rule_ids)`` from the reference interpreter (for cross-checking)."""
        from .backends import interpreter
        return interpreter.evaluate(self._ir, facts)

    def screen(self, source, output=None, errors=None, *, keep=None, rules: bool = True, as_of=None,
               engine: str = "duckdb", threads=None, memory_limit=None):
        """Screen a ledger file (Parquet, CSV, JSON Lines) into ``output`` and ``errors`` files on the
        SQL backend; returns a :class:`exportdsl.screening.ScreenResult` (see docs/embedding.rst).
        ``memory_limit`` is DuckDB's (default: ``screening.DEFAULT_MEMORY_LIMIT``, as the CLI's)."""
        from .screening import DEFAULT_MEMORY_LIMIT, screen
        memory_limit = DEFAULT_MEMORY_LIMIT if memory_limit is None else memory_limit
        return screen(self._ir, str(source), None if output is None else str(output),
                      None if errors is None else str(errors), keep=keep, rules=rules, as_of=as_of,
                      engine=engine, threads=threads, memory_limit=memory_limit)

    def evaluate_table(self, table, *, rules: bool = True, as_of=None):
        """An Arrow table, pandas or Polars frame with ``decision`` and ``rules`` columns added (same
        kind as given); raises :class:`exportdsl.EvaluationError` when a row cannot be decided."""
        from .screening import evaluate_table
        return evaluate_table(self._ir, table, rules=rules, as_of=as_of)

    def explain(self, facts: Mapping) -> str:
        """Explanation text for one transaction (validates the facts first)."""
        from .explain import explain as explain_text
        return explain_text(self._ir, validate_facts(self._ir.facts, facts))

    def __repr__(self) -> str:
        title = " ".join(p for p in (self.name, self.version) if p) or "unnamed"
        return f"<Policy {title}: {len(self.rules)} rules>"


class _CompiledOnFirstUse:
    """Stands for a policy's compiled evaluator until first used: then generates it (once, under a
    lock), installs it in the policy, and forwards. A policy built by :func:`load` or
    :func:`compile` compiles at once; the CLI's ``check`` and ``lint`` never evaluate, so they
    load without it."""

    __slots__ = ("_policy",)
    _lock = threading.Lock()

    def __init__(self, policy: "Policy") -> None:
        self._policy = policy

    def _compiled(self):
        policy = self._policy
        compiled = policy._compiled
        if compiled is not self:     # compiled already: a caller kept this object's decide
            return compiled
        with self._lock:
            compiled = policy._compiled
            if compiled is self:
                from .backends.python import compile_policy

                compiled = compile_policy(policy._ir, Decision)
                policy._install(compiled)
        return compiled

    def decide(self, facts):
        return self._compiled().decide(facts)

    def evaluate(self, facts, *, explain=False):
        self._compiled()
        return self._policy.evaluate(facts, explain=explain)

    def __getattr__(self, name):   # decision, source
        return getattr(self._compiled(), name)


def compile_text(text: str, name: str | None = None) -> Policy:
    """Parse, check and compile policy text; raises ParseError or CheckError with diagnostics."""
    return _compile(Source(name or "<string>", text), keep_tree=False)[0]


def _compile(source: Source, *, keep_tree: bool, compile_now: bool = True) -> tuple[Policy, ast.Module | None]:
    from .check import lower
    from .compose import resolve
    from .parser import parse
    with collector_paused():
        module = parse(source)
        resolved = resolve(module)
        policy_ir = lower(resolved)
        warnings, chain = resolved.warnings, resolved.chain or (source,)
        kept = resolved if keep_tree else None
        del module, resolved     # the syntax tree is not kept: Policy.ast parses the source again
        return Policy(source, policy_ir, warnings, content_hash=tuple(chain), compile_now=compile_now), kept


def load(path: str | os.PathLike) -> Policy:
    """Read, parse, check and compile a policy file into a :class:`Policy`.

    ``extends`` paths in the file are relative to its folder. Raises :class:`ParseError` (E1xx,
    including E104 for a file that cannot be read) or :class:`CheckError` (E2xx), each with every
    diagnostic found.
    """
    return load_with_tree(path)[0]


def load_with_tree(path: str | os.PathLike, *, keep_tree: bool = False,
                   compile_now: bool = True) -> tuple[Policy, ast.Module | None]:
    """:func:`load`, and with ``keep_tree`` also the syntax tree with ``extends`` resolved (what
    the linter reads), so that a command that lints does not parse every file again. With
    ``compile_now=False`` the evaluator is generated on the policy's first evaluation instead
    (for commands that only check)."""
    from .parser import path_name, read_policy_file

    path = path_name(path)   # as str(Path(path)) spells it, without importing pathlib
    return _compile(Source(path, read_policy_file(path)), keep_tree=keep_tree, compile_now=compile_now)
