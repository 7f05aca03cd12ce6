"""exportdsl: a declarative policy-as-code engine for export controls.

>>> import exportdsl
>>> policy = exportdsl.compile('''
... decisions not_controlled < deny
... fact origin: country
... rule R1 { origin = CN -> deny }
... ''')
>>> policy.evaluate({"origin": "CN"}).decision
'deny'
"""

from __future__ import annotations

import sys as _sys
from types import ModuleType as _ModuleType

from .errors import CheckError, Diagnostic, Error, EvaluationError, ParseError, Severity, UsageError
from .policy import Decision, Policy, compile_text, load
from .source import Source
from .types import FactType, Kind

__version__ = "0.1.0"


class _Package(_ModuleType):
    """The package module: importing the ``exportdsl.diff`` subpackage (lazily, on first use) must not
    rebind the package attribute ``diff`` over the function of that name, as the import system does."""

    def __setattr__(self, name, value):
        if name == "diff" and isinstance(value, _ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


def diff(old, new, *, where: str | None = None, as_of: str | None = None):
    """The exact semantic diff of two policies (``Policy`` objects or paths): a :class:`~exportdsl.diff.DiffResult`.

    A transaction changes decision if and only if it lies in one of the result's ``regions``.
    ``where`` (a condition in policy syntax) limits the comparison to the transactions where it
    holds; ``as_of`` (``"YYYY-MM-DD"``) to those dated that day by the ``dated by`` fact.
    Raises :class:`ParseError` or :class:`CheckError` for a policy that does not load, and an
    :class:`Error` with E501 (incompatible fact types) or E502 (bad ``as_of``).
    """
    from .diff import diff as _diff

    old, new = (policy if isinstance(policy, Policy) else load(policy) for policy in (old, new))
    return _diff(old.ir, new.ir, where=where, as_of=as_of, evaluators=(old.decide, new.decide))


def parse(text: str, name: str = "<string>"):
    """Parse policy text into its syntax tree (:class:`exportdsl.ast.Module`) without checking it."""
    from .parser import parse as parse_source
    return parse_source(Source(name, text))


def compile(text: str, name: str | None = None) -> Policy:  # noqa: A001 - the public API name
    """Parse, check and compile policy text into a :class:`Policy`."""
    return compile_text(text, name)


__all__ = [
    "CheckError", "Decision", "Diagnostic", "Error", "EvaluationError", "FactType", "Kind",
    "ParseError", "Policy", "Severity", "UsageError", "compile", "diff", "load", "parse", "__version__",
]
