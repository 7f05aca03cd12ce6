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
import jsonschema

from .errors import CODES, Diagnostic, Error, UsageError, did_you_mean
from .escape import for_terminal
from .policy import Policy, load
from .yaml_input import YamlDocument, YamlProblem, read_yaml

#: The form of a test file (JSON Schema, Draft 2020-12); each test is checked on its own (TEST_SCHEMA).
FILE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["policy", "tests"],
    "additionalProperties": False,
    "properties": {
        "policy": {"type": "string", "minLength": 1},
        "defaults": {"type": "object"},
        "tests": {"type": "array"},
    },
}

#: The form of one test (JSON Schema, Draft 2020-12).
TEST_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["facts"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "facts": {"type": "object"},
        "expect": {"type": "string", "minLength": 1},
        "rules": {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True},
        "error": {"type": "string", "pattern": "^[EW][0-9]{3}$"},
    },
    "oneOf": [{"required": ["expect"]}, {"required": ["error"]}],
    "dependentSchemas": {"rules": {"required": ["expect"]}},
}

#: What each key holds, in words, for the messages about a value of the wrong form.
_WHAT = {
    "policy": "the policy file's path (text)",
    "defaults": "a mapping of fact names to values",
    "tests": "a list of tests",
    "name": "text",
    "description": "text",
    "facts": "a mapping of fact names to values ({} for the defaults alone)",
    "expect": "a decision name",
    "rules": "a list of rule ids, such as [Q1]",
    "error": "a diagnostic code, such as E303",
}
_TYPE_NAMES = {dict: "a mapping", list: "a list", str: "text", bool: "a boolean", int: "a number",
               Decimal: "a number", type(None): "nothing (null)"}
_FILE_VALIDATOR = jsonschema.Draft202012Validator(FILE_SCHEMA)
_TEST_VALIDATOR = jsonschema.Draft202012Validator(TEST_SCHEMA)

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
    #: One E306 diagnostic per problem of a bad test (bad tests are not run; the good ones are).
    problems: tuple[Diagnostic, ...] = ()
    #: How many tests are bad (not run).
    not_run: int = 0


@attrs.frozen
class TestResult:
    """The outcome of one test: passed or not, what happened, and the explanation when it failed."""

    test: PolicyTest
    passed: bool
    actual: str
    actual_rules: tuple[str, ...] = ()
    explanation: str | None = None


def _problem(path: str, line: int | None, message: str, code: str = "E306") -> Diagnostic:
    where = f"{for_terminal(path, keep_newlines=False)}:{line}: " if line else f"{for_terminal(path, keep_newlines=False)}: "
    return Diagnostic(code, where + message, help="see docs/testing.rst for the test file format")


def _shown(value: object) -> str:
    """A short, terminal-safe rendering of a value from the file, for a message."""
    text = repr(value)
    return for_terminal(text if len(text) <= 60 else text[:57] + "...", keep_newlines=False)


def _schema_message(error: jsonschema.ValidationError, keys: Iterable[str]) -> tuple[list, str]:
    """(path of the key to point at, message) for one schema error, in the words of the format."""
    path = list(error.absolute_path)
    field = next((p for p in reversed(path) if isinstance(p, str)), None)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        key = extra[0]
        hint = did_you_mean(key, keys)
        return path + [key], f"unknown key {_shown(key)}" + (f"; {hint}" if hint else "")
    if "dependentSchemas" in error.relative_schema_path:
        return path + ["rules"], "'rules' goes with 'expect' (the rules that give the expected decision)"
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return path, f"needs {missing!r}"
    if error.validator == "oneOf":
        both = "expect" in error.instance and "error" in error.instance
        return path, ("has both 'expect' and 'error'; keep one" if both
                      else "needs 'expect' (a decision) or 'error' (a diagnostic code)")
    if error.validator == "uniqueItems":
        return path, f"{field!r} names a rule twice"
    if error.validator == "pattern" and field == "error":
        hint = did_you_mean(error.instance, CODES)
        return path, f"'error' {_shown(error.instance)} is not a diagnostic code" + (f"; {hint}" if hint else
                                                                                    " (such as E303)")
    if error.validator == "minLength":
        return path, f"{field!r} is empty"
    if error.validator == "type":
        got = _TYPE_NAMES.get(type(error.instance), type(error.instance).__name__)
        if path and isinstance(path[-1], int):
            return path, f"each of {field!r} must be text, not {got} ({_shown(error.instance)})"
        return path, f"{field!r} must be {_WHAT.get(field, error.validator_value)}, not {got} ({_shown(error.instance)})"
    return path, for_terminal(error.message[:200], keep_newlines=False)  # pragma: no cover - every validator above


def _schema_problems(validator, instance, document: YamlDocument, base: list, shown: str,
                     prefix: str) -> list[Diagnostic]:
    keys = list(validator.schema["properties"])
    problems = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.validator)):
        path, message = _schema_message(error, keys)
        if error.validator == "additionalProperties":
            line = document.key_line(base + path[:-1], path[-1])
        else:
            line = document.line_of(base + path)
        problems.append((line or 0, _problem(shown, line, prefix + message)))
    return [problem for _, problem in sorted(problems, key=lambda item: item[0])]


def _meaning_problems(raw: dict, policy: Policy, document: YamlDocument, base: list, shown: str,
                      prefix: str) -> list[Diagnostic]:
    """Names the policy does not know: an expected decision, rule ids, an unregistered code."""
    problems = []
    expect = raw.get("expect")
    if expect is not None and expect not in policy.decisions:
        hint = did_you_mean(expect, policy.decisions)
        problems.append(_problem(shown, document.line_of(base + ["expect"]),
                                 f"{prefix}expected decision {_shown(expect)} is not a decision of the policy "
                                 f"({', '.join(policy.decisions)})" + (f"; {hint}" if hint else "")))
    rule_ids = [rule.id for rule in policy.rules]
    for index, rule in enumerate(raw.get("rules") or ()):
        if rule not in rule_ids:
            hint = did_you_mean(rule, rule_ids)
            problems.append(_problem(shown, document.line_of(base + ["rules", index]),
                                     f"{prefix}rule {_shown(rule)} is not a rule of the policy"
                                     + (f"; {hint}" if hint else "")))
    error = raw.get("error")
    if error is not None and error not in CODES:
        hint = did_you_mean(error, CODES)
        problems.append(_problem(shown, document.line_of(base + ["error"]),
                                 f"{prefix}'error' {_shown(error)} is not a diagnostic code" + (f"; {hint}" if hint else "")))
    return problems


def _read_document(path: Path, shown: str) -> YamlDocument:
    try:
        return read_yaml(path)
    except OSError as exc:
        raise UsageError(Diagnostic("E401", f"cannot read test file {for_terminal(shown)!r}: "
                                            f"{exc.strerror or exc}")) from None
    except YamlProblem as exc:
        code = "E320" if exc.limit else "E306"
        raise UsageError(_problem(shown, exc.line, exc.message, code)) from None


def _policy_path(path: Path, document: YamlDocument, shown: str) -> Path:
    name = document.data["policy"]
    policy_path = (path.parent / name).resolve()
    line = document.line_of(["policy"])
    if policy_path.suffix != ".xpol":
        raise UsageError(_problem(shown, line, f"'policy' {_shown(name)} must name a .xpol policy file"))
    if not policy_path.is_file():
        raise UsageError(_problem(shown, line, f"'policy' {_shown(name)} is not a policy file "
                                               f"(looked for {for_terminal(str(policy_path))})"))
    return policy_path


def load_suite(path: str | Path, policies: dict[Path, Policy] | None = None) -> TestSuite:
    """Read one YAML test file and load (or reuse from ``policies``) the policy it names.

    Raises :class:`UsageError` when the file as a whole cannot be used (unreadable: E401; not
    YAML or not a test file: E306; over a limit: E320) and the policy's own errors when it does
    not load. A bad test does not stop the others: the suite holds the good tests, and one E306
    diagnostic per problem of the bad ones in ``problems``.
    """
    path = Path(path)
    shown = str(path)
    document = _read_document(path, shown)
    data = document.data
    if not isinstance(data, dict):
        raise UsageError(_problem(shown, document.line_of([]), "a test file is a mapping with 'policy' and 'tests'"))
    file_problems = _schema_problems(_FILE_VALIDATOR, data, document, [], shown, "")
    if file_problems:
        raise UsageError(file_problems)
    policy_path = _policy_path(path, document, shown)
    cache = policies if policies is not None else {}
    if policy_path not in cache:
        cache[policy_path] = load(display_path(policy_path))
    policy = cache[policy_path]
    defaults = data.get("defaults") or {}
    tests, problems, not_run = [], [], 0
    for index, raw in enumerate(data["tests"], 1):
        base = ["tests", index - 1]
        line = document.line_of(base)
        prefix = f"test #{index}: "
        if not isinstance(raw, dict):
            got = _TYPE_NAMES.get(type(raw), type(raw).__name__)
            problems.append(_problem(shown, line, f"{prefix}a test is a mapping with 'facts' and 'expect' or "
                                                  f"'error', not {got} ({_shown(raw)})"))
            not_run += 1
            continue
        bad = _schema_problems(_TEST_VALIDATOR, raw, document, base, shown, prefix)
        if not bad:
            bad = _meaning_problems(raw, policy, document, base, shown, prefix)
        if bad:
            problems.extend(bad)
            not_run += 1
            continue
        tests.append(PolicyTest(
            file=shown, line=line or 0, name=raw.get("name") or f"test #{index}",
            facts={**defaults, **raw["facts"]}, expect=raw.get("expect"),
            rules=tuple(raw["rules"]) if "rules" in raw else None, error=raw.get("error"),
            description=raw.get("description"),
        ))
    return TestSuite(shown, display_path(policy_path), policy, tuple(tests), tuple(problems), not_run)


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
            # Regular files only: a FIFO or device named *.xpol in a folder would block the reader.
            tests.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()))
            policies.extend(sorted(p for p in path.rglob("*.xpol") if p.is_file()))
        elif path.suffix == ".xpol":
            if path.exists() and not path.is_file():
                raise UsageError(Diagnostic("E401", f"cannot read policy {for_terminal(raw)!r}: not a regular file"))
            policies.append(path)
        elif path.exists():
            tests.append(path)
        else:
            raise UsageError(Diagnostic("E401", f"no such file or folder: {for_terminal(raw)!r}"))
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
    # Names, descriptions and values come from the test file: shown as what they are, one line each.
    lines = [for_terminal(line, keep_newlines=False) for line in lines]
    if result.explanation:
        lines.append("  explanation:")
        lines.extend("    " + for_terminal(line, keep_newlines=False) for line in result.explanation.splitlines())
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
