"""Lint findings as text, JSON and SARIF 2.1.0 (for code-scanning views)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from ..errors import CODES, Diagnostic, Severity, render_text
from ..escape import for_terminal, json_for_terminal

#: The SARIF version written, and the schema it follows.
SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def lint_codes() -> list[str]:
    """Every lint code (W-prefixed) of the registry, in order."""
    return sorted(code for code in CODES if code.startswith("W"))


def summary(diagnostics: Sequence[Diagnostic], policies: int) -> str:
    """``lint: 2 warning(s), 1 note(s) in 3 policies`` (or ``no findings``)."""
    warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
    notes = sum(d.severity is Severity.NOTE for d in diagnostics)
    where = f"in {policies} polic{'y' if policies == 1 else 'ies'}"
    if not diagnostics:
        return f"lint: no findings {where}"
    return f"lint: {warnings} warning(s), {notes} note(s) {where}"


def to_text(diagnostics: Sequence[Diagnostic]) -> str:
    """The findings in the layout of errors: location, code, message, source line, caret, help; control
    bytes, escape sequences and bidi controls from the policy shown escaped (``\\x1b``, ``\\u202e``)."""
    return for_terminal(render_text(diagnostics))


def to_json(diagnostics: Sequence[Diagnostic]) -> str:
    """The findings as a JSON array (the same objects as ``check --format json`` errors)."""
    return json_for_terminal(json.dumps([d.to_json() for d in diagnostics], indent=2, ensure_ascii=False))


def _version() -> str:
    try:
        return metadata.version("exportdsl")
    except metadata.PackageNotFoundError:
        return "0"


def _uri(name: str) -> str:
    path = Path(name)
    return path.as_posix() if not path.is_absolute() else path.as_uri()


def to_sarif(diagnostics: Sequence[Diagnostic]) -> dict:
    """A SARIF 2.1.0 log with one run: the driver describes every lint code; one result per finding."""
    codes = lint_codes()
    index = {code: i for i, code in enumerate(codes)}
    rules = [{
        "id": code,
        "name": code,
        "shortDescription": {"text": CODES[code]},
        "defaultConfiguration": {"level": "note" if CODES[code].startswith("Note:") else "warning"},
    } for code in codes]
    results = []
    for diag in diagnostics:
        text = diag.message + (f"\nhelp: {diag.help}" if diag.help else "")
        result: dict = {"ruleId": diag.code, "level": diag.severity.value, "message": {"text": text}}
        if diag.code in index:
            result["ruleIndex"] = index[diag.code]
        if diag.span is not None:
            source = diag.span.source
            line, column = source.line_col(diag.span.start)
            end_line, end_column = source.line_col(max(diag.span.start + 1, diag.span.end))
            result["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": _uri(source.name)},
                "region": {"startLine": line, "startColumn": column, "endLine": end_line,
                           "endColumn": end_column},
            }}]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {"name": "exportdsl", "version": _version(), "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def render_sarif(diagnostics: Sequence[Diagnostic]) -> str:
    """:func:`to_sarif` as indented JSON text."""
    return json_for_terminal(json.dumps(to_sarif(diagnostics), indent=2, ensure_ascii=False))
