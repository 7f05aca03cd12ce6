"""Diagnostics (code, severity, message, span, help), the exception family, and their text/JSON rendering."""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Sequence

from .records import field, record

from .escape import for_terminal
from .source import Span


class Severity(enum.Enum):
    """How bad a diagnostic is."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


#: Every diagnostic code, with a one-line description (the docs' diagnostics reference is generated from it).
CODES: dict[str, str] = {
    # E1xx: reading and parsing policy text
    "E100": "Syntax error: the text does not follow the grammar.",
    "E101": "Unexpected character that starts no token.",
    "E102": "Conditions nested deeper than the limit.",
    "E103": "Policy text larger than the limit.",
    "E104": "A policy file cannot be read.",
    "E105": "Malformed literal: a date that is no calendar date, an unterminated string or a bad escape.",
    "E106": "A number or percent literal longer than the limit.",
    "E107": "A bidirectional control character outside a string or comment (Trojan Source).",
    # E2xx: checking a policy against its declarations
    "E201": "Unknown fact.",
    "E202": "Unknown named set or named condition.",
    "E203": "Value outside the fact's type (unknown enum value, unknown country code).",
    "E204": "Type mismatch: an operator or value that does not fit the fact's type.",
    "E205": "Unknown decision.",
    "E206": "Duplicate rule id.",
    "E207": "Duplicate declaration of a fact, set, condition or decision.",
    "E208": "Missing or repeated header declaration (decisions, default, dated by, policy).",
    "E209": "Effective or until dates without a `dated by` fact.",
    "E210": "Named conditions that refer to each other in a cycle.",
    "E211": "Unknown type name.",
    "E212": "Policy too large (rules, facts or set members over the limit).",
    "E213": "Policies that extend each other in a cycle, or an over-long extends chain.",
    "E214": "A suspension, override or applies(...) naming a rule that does not exist, or a rule overriding itself.",
    "E215": "Rules whose applies(...) references form a cycle.",
    "E216": "A reserved word used as the name of a fact, set, condition, rule, decision or suspension.",
    # E3xx: facts given to an evaluation
    "E301": "A required fact is missing.",
    "E302": "A fact value of the wrong type.",
    "E303": "A fact value outside its enum, country list or range.",
    "E304": "A fact the policy does not declare.",
    "E305": "Malformed facts input (not a JSON object, unreadable JSON).",
    "E306": "Malformed policy test file.",
    "E320": "A policy test file over a limit (size, nesting depth, length of a number).",
    "E307": "A fact (or a key of a nested object) given twice in one JSON object.",
    "E308": "Facts nested deeper than the limit (arrays and objects within each other).",
    # E5xx: comparing policies
    "E501": "Two policies declare the same fact with incompatible types, so they cannot be compared.",
    "E502": "A bad --as-of date or a --as-of without a 'dated by' fact.",
    "E520": "An internal consistency check of a comparison over time failed (a bug to report).",
    "E503": "Internal error of the diff: a region's witness does not give the region's key when evaluated.",
    "E504": "A --detail region number that the diff does not have.",
    "E505": "Internal error of the diff: a worker process enumerating part of the regions failed.",
    # E4xx: command line and files
    "E401": "A file cannot be read or written.",
    "E402": "Bad command-line usage.",
    "E403": "The formatter refused to write: its output would not parse back to the same policy and comments.",
    "E404": "A facts file that is not a regular file (a FIFO, a device or a folder).",
    "E405": "A facts line, or a facts array, larger than the limit.",
    # E42x: the language server and the studio
    "E420": "A command needs an optional extra (lsp, studio) that is not installed.",
    "E421": "A base policy (extends) outside the folder the studio serves.",
    "E422": "Bad studio usage: a policy folder that does not exist, or a request the studio refuses.",
    # E41x: screening ledgers (exportdsl screen, Policy.screen, Policy.evaluate_table)
    "E410": "A ledger cannot be read: missing file, unknown file type, or not a table.",
    "E411": "A screening output or error file cannot be written.",
    "E412": "Ledger columns that clash with the results (decision, rules) or with each other (a fact's column given twice), or a --keep column that does not exist.",
    "E413": "A screening engine is unavailable or failed (DuckDB, Spark).",
    "E414": "A bad --as-of date for screening, or --as-of without a 'dated by' fact.",
    "E415": "A rule's condition is too large for the SQL backend once its named conditions are written out.",
    # E6xx: per-row problems particular to screening
    "E601": "A number the SQL backend cannot hold exactly (rejected rather than rounded).",
    # W1xx: lints (exportdsl lint, and exportdsl check): warnings and notes about policies that check
    "W101": "A rule's condition can never hold.",
    "W102": "A named condition can never hold.",
    "W103": "A rule can never apply within its effective/until dates and suspensions.",
    "W111": "A rule can never decide: wherever it applies, more severe rules or rules overriding it decide.",
    "W112": "Duplicate rule: another rule gives the same decision on exactly the same transactions.",
    "W113": "Subsumed rule: a broader rule gives the same decision wherever it applies.",
    "W114": "Note: an exception-like rule is beaten on some transactions by a more severe rule it does not override.",
    "W121": "A fact is declared but never used.",
    "W122": "A named set is declared but never used.",
    "W123": "A named condition is declared but never used.",
    "W131": "An until date before (or on) the effective date of a rule or suspension.",
    "W141": "A string value that is a near miss of another value written for the same fact.",
    "W151": "A bidirectional control character in a string or comment (Trojan Source).",
    "W191": "Note: a lint check was skipped for part of a policy too large for the lint budget.",
}


@record
class Diagnostic:
    """One finding: a stable code, a severity, a message, where (optional) and what to do (optional)."""

    code: str
    message: str
    span: Span | None = field(default=None, eq=False)
    help: str | None = None
    severity: Severity = Severity.ERROR

    def render(self) -> str:
        """``file:line:col: error[E203]: message``, the source line, a caret and ``help: ...``.

        Safe to print on a terminal: control bytes, escape sequences and bidi controls that came
        from a policy, a fact or a file name are shown escaped (``\\x1b``), never sent raw."""
        where = f"{self.span.location()}: " if self.span is not None else ""
        lines = [f"{where}{self.severity.value}[{self.code}]: {self.message}"]
        if self.span is not None:
            lines.append(self.span.snippet())
        if self.help:
            lines.append(f"  help: {self.help}")
        return for_terminal("\n".join(lines))

    def to_json(self) -> dict:
        """A JSON-ready dict: code, severity, message, file/line/column/end, help."""
        data: dict = {"code": self.code, "severity": self.severity.value, "message": self.message}
        if self.span is not None:
            line, col = self.span.source.line_col(self.span.start)
            end_line, end_col = self.span.source.line_col(self.span.end)
            data.update(file=self.span.source.name, line=line, column=col, end_line=end_line, end_column=end_col)
        if self.help:
            data["help"] = self.help
        return data


def render_text(diagnostics: Iterable[Diagnostic]) -> str:
    """All diagnostics as text, separated by blank lines."""
    return "\n\n".join(d.render() for d in diagnostics)


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    """All diagnostics as a JSON array."""
    import json

    return json.dumps([d.to_json() for d in diagnostics], indent=2, ensure_ascii=False)


#: A word longer than this gets no suggestion (comparing it would cost time and memory for nothing).
SUGGEST_MAX_LENGTH = 100
#: At most this many candidates are compared.
SUGGEST_MAX_CANDIDATES = 2000


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """``did you mean 'x'?`` for the closest candidate, or None when nothing is close.

    Bounded: a word longer than SUGGEST_MAX_LENGTH (or not a string) gets no suggestion, only the
    first SUGGEST_MAX_CANDIDATES candidates are read, and candidates whose length alone rules out
    a close match are never compared.
    """
    if not isinstance(word, str) or len(word) > SUGGEST_MAX_LENGTH:
        return None
    word = str.__str__(word)
    pool = [str(c) for c in itertools.islice(candidates, SUGGEST_MAX_CANDIDATES)]
    cutoff = 0.6
    # difflib's ratio is at most 2*min(a, b)/(a + b): skip the candidates that cannot reach the cutoff.
    near = [c for c in pool if len(c) <= SUGGEST_MAX_LENGTH
            and 2 * min(len(c), len(word)) >= cutoff * (len(c) + len(word))]
    import difflib   # here, not at import: only a diagnostic needs it

    matches = difflib.get_close_matches(word, near, n=1, cutoff=cutoff)
    if not matches:
        lowered = {c.lower(): c for c in pool}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    return f"did you mean '{matches[0]}'?" if matches else None


class Error(Exception):
    """Base of every exportdsl error; ``diagnostics`` holds one or more structured findings."""

    def __init__(self, diagnostics: Sequence[Diagnostic] | Diagnostic):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        super().__init__(render_text(self.diagnostics))


class ParseError(Error):
    """Policy (or condition) text that does not follow the grammar, or exceeds a limit."""


class CheckError(Error):
    """A policy that parses but does not check against its declarations."""


class EvaluationError(Error):
    """Facts that cannot be evaluated (missing, ill-typed, unknown); never a decision."""


class UsageError(Error):
    """Bad command-line usage or unreadable input files."""
