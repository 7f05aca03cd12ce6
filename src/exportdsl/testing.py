"""Policy tests written by legal authors: YAML files of transactions with the decisions they expect.

A test file names its policy (relative to the file), optional ``defaults`` merged under every
test's facts, and a list of ``tests``, each with ``name``, ``facts``, and either ``expect`` (a
decision, optionally with ``rules``: the deciding rule ids in source order) or ``error`` (the
expected diagnostic code). See ``docs/testing.rst``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import attrs
import yaml

from .errors import Diagnostic, Error, UsageError
from .policy import Policy, load

_TEST_KEYS = {"name", "description", "facts", "expect", "rules", "error"}
_FILE_KEYS = {"policy", "defaults", "tests"}


class _Loader(yaml.SafeLoader):
    """YAML 1.2-like: only true/false are booleans (so NO stays Norway), decimals stay exact."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", __import__("re").compile(r"^(?:true|false)$"), list("tf"))


def _construct_float(loader, node):
    text = loader.construct_scalar(node).replace("_", "")
    try:
        return Decimal(text)
    except ArithmeticError:
        return float(text)


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    mapping = {}
    for key_node, value_node in node.value:
        mapping[loader.construct_object(key_node, deep=True)] = loader.construct_object(value_node, deep=True)
    mapping.setdefault("__line__", node.start_mark.line + 1)
    return mapping


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _strip_lines(value):
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


@attrs.frozen
class PolicyTest:
    """One test: a transaction and what the policy must decide for it."""

    file: str
    line: int
    name: str
    facts: dict
    expect: str | None = None
    rules: tuple[str, ...] | None = None
    error: str | None = None
    description: str | None = None

    @property
    def location(self) -> str:
        """``file:line`` of the test in its YAML file."""
        return f"{self.file}:{self.line}"


@attrs.frozen
class TestSuite:
    """The tests of one YAML file and the policy they test."""

    file: str
    policy_path: str
    policy: Policy
    tests: tuple[PolicyTest, ...]


@attrs.frozen
class TestResult:
    """The outcome of one test: passed or not, what happened, and the explanation when it failed."""

    test: PolicyTest
    passed: bool
    actual: str
    actual_rules: tuple[str, ...] = ()
    explanation: str | None = None


def _bad(path: str, line: int | None, message: str) -> UsageError:
    where = f"{path}:{line}: " if line else f"{path}: "
    return UsageError(Diagnostic("E306", where + message, help="see docs/testing.rst for the test file format"))


def load_suite(path: str | Path, policies: dict[Path, Policy] | None = None) -> TestSuite:
    """Read one YAML test file and load (or reuse from ``policies``) the policy it names."""
    path = Path(path)
    shown = str(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - safe loader subclass
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(Diagnostic("E401", f"cannot read test file {shown!r}: {getattr(exc, 'strerror', None) or exc}"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise _bad(shown, mark.line + 1 if mark else None, f"not valid YAML: {getattr(exc, 'problem', exc)}")
    if not isinstance(data, dict) or "policy" not in data or "tests" not in data:
        raise _bad(shown, None, "a test file is a mapping with 'policy' and 'tests'")
    unknown = set(data) - _FILE_KEYS - {"__line__"}
    if unknown:
        raise _bad(shown, None, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    policy_path = (path.parent / str(data["policy"])).resolve()
    cache = policies if policies is not None else {}
    if policy_path not in cache:
        cache[policy_path] = load(display_path(policy_path))
    defaults = _strip_lines(data.get("defaults") or {})
    if not isinstance(defaults, dict):
        raise _bad(shown, None, "'defaults' must be a mapping of facts")
    tests = []
    for index, raw in enumerate(data["tests"] or [], 1):
        line = raw.get("__line__") if isinstance(raw, dict) else None
        if not isinstance(raw, dict) or "facts" not in raw or ("expect" in raw) == ("error" in raw):
            raise _bad(shown, line, f"test #{index} needs 'facts' and exactly one of 'expect' or 'error'")
        unknown = set(raw) - _TEST_KEYS - {"__line__"}
        if unknown:
            raise _bad(shown, line, f"test #{index} has unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        facts = _strip_lines(raw["facts"]) or {}
        if not isinstance(facts, dict):
            raise _bad(shown, line, f"test #{index}: 'facts' must be a mapping")
        rules = raw.get("rules")
        tests.append(PolicyTest(
            file=shown, line=line or 0, name=str(raw.get("name") or f"test #{index}"),
            facts={**defaults, **facts},
            expect=str(raw["expect"]) if "expect" in raw else None,
            rules=tuple(str(r) for r in rules) if rules is not None else None,
            error=str(raw["error"]) if "error" in raw else None,
            description=raw.get("description"),
        ))
    return TestSuite(shown, display_path(policy_path), cache[policy_path], tuple(tests))


def display_path(path: Path) -> str:
    """A resolved path, shown relative to the working folder when it lies below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run_test(policy: Policy, test: PolicyTest) -> TestResult:
    """Run one test against its policy."""
    try:
        decision = policy.evaluate(test.facts)
    except Error as exc:
        codes = [d.code for d in exc.diagnostics]
        actual = "error " + ", ".join(codes) + ": " + "; ".join(d.message for d in exc.diagnostics)
        return TestResult(test, test.error in codes, actual)
    if test.error is not None:
        return TestResult(test, False, decision.decision, decision.rules, decision.explain())
    passed = decision.decision == test.expect and (test.rules is None or tuple(test.rules) == decision.rules)
    return TestResult(test, passed, decision.decision, decision.rules, None if passed else decision.explain())


def run_suite(suite: TestSuite) -> list[TestResult]:
    """Run every test of a suite."""
    return [run_test(suite.policy, test) for test in suite.tests]


def discover(paths: Iterable[str]) -> tuple[list[Path], list[Path]]:
    """Test files (``*.yaml``/``*.yml`` under the paths) and policy files (``*.xpol``) found there."""
    tests: list[Path] = []
    policies: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            tests.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")))
            policies.extend(sorted(path.rglob("*.xpol")))
        elif path.suffix == ".xpol":
            policies.append(path)
        elif path.exists():
            tests.append(path)
        else:
            raise UsageError(Diagnostic("E401", f"no such file or folder: {raw!r}"))
    return tests, policies


def format_failure(result: TestResult) -> str:
    """A failing test: where, which, the transaction, expected against actual, and the explanation."""
    test = result.test
    if test.error is not None:
        expected = f"error {test.error}"
    else:
        expected = test.expect + (f" by {', '.join(test.rules) or 'no rule'}" if test.rules is not None else "")
    actual = result.actual + (f" by {', '.join(result.actual_rules) or 'no rule'}"
                              if not result.actual.startswith("error") else "")
    lines = [
        f"FAIL {test.location}: {test.name}",
        *( [f"  description: {test.description}"] if test.description else [] ),
        f"  transaction: {json.dumps(test.facts, default=_json_default, ensure_ascii=False)}",
        f"  expected: {expected}",
        f"  actual:   {actual}",
    ]
    if result.explanation:
        lines.append("  explanation:")
        lines.extend("    " + line for line in result.explanation.splitlines())
    return "\n".join(lines)


def _json_default(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


@attrs.frozen
class Coverage:
    """Which rules of a policy some test made decide."""

    policy_path: str
    rules: tuple[str, ...]
    decided: frozenset[str]

    @property
    def missed(self) -> tuple[str, ...]:
        """Rules no test made decide, in source order."""
        return tuple(r for r in self.rules if r not in self.decided)

    @property
    def percent(self) -> float:
        """Share of rules exercised, 0–100 (100 for a policy with no rules)."""
        return 100.0 if not self.rules else 100.0 * (len(self.rules) - len(self.missed)) / len(self.rules)


def coverage(policy_paths: Iterable[str], results: dict[str, list[TestResult]],
             policies: dict[str, Policy]) -> list[Coverage]:
    """Per policy, the rules that decided in at least one test (whether the test passed or not)."""
    report = []
    for path in policy_paths:
        decided = frozenset(r for result in results.get(path, []) for r in result.actual_rules)
        report.append(Coverage(path, tuple(rule.id for rule in policies[path].rules), decided))
    return report
