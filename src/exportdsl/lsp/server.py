"""The language server over stdio (pygls): diagnostics as you type, hover, definition, references,
outline, completion, formatting and "did you mean" quick fixes.

Diagnostics are computed on the unsaved buffer after a short pause in typing (:data:`DEBOUNCE_SECONDS`),
in a worker thread so that the server keeps answering; a result for text that changed meanwhile is
dropped (the newer text's analysis follows). Requires the ``lsp`` extra (pygls).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from .. import __version__
from ..errors import Diagnostic, Error, Severity
from ..escape import markdown_text
from ..fmt import format_source
from .analysis import Analysis, analyze, fix_of, offset_of, position_of, range_of
from .completion import complete
from .symbols import SymbolIndex

#: Pause after the last edit before the buffer is checked again.
DEBOUNCE_SECONDS = 0.05
#: Time the linter may take on each check of a buffer.
LINT_SECONDS = 1.0

_SEVERITY = {Severity.ERROR: types.DiagnosticSeverity.Error, Severity.WARNING: types.DiagnosticSeverity.Warning,
             Severity.NOTE: types.DiagnosticSeverity.Information}
_COMPLETION_KIND = {"fact": types.CompletionItemKind.Variable, "set": types.CompletionItemKind.Enum,
                    "condition": types.CompletionItemKind.Function, "rule": types.CompletionItemKind.Class,
                    "decision": types.CompletionItemKind.EnumMember, "value": types.CompletionItemKind.Value,
                    "keyword": types.CompletionItemKind.Keyword, "snippet": types.CompletionItemKind.Snippet}
_SYMBOL_KIND = {"fact": types.SymbolKind.Variable, "set": types.SymbolKind.Array,
                "condition": types.SymbolKind.Function, "rule": types.SymbolKind.Class,
                "suspension": types.SymbolKind.Event}
#: The diagnostics reference of a source checkout (docs/diagnostics/CODE.rst), if there is one.
_DOCS = Path(__file__).resolve().parents[3] / "docs" / "diagnostics"


def _path_of(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else f"<{uri}>"


def _range(span) -> types.Range:
    if span is None:
        return types.Range(types.Position(0, 0), types.Position(0, 0))
    (l1, c1), (l2, c2) = range_of(span)
    return types.Range(types.Position(l1, c1), types.Position(l2, c2))


def _uri_of(span) -> str:
    name = span.source.name
    return Path(name).resolve().as_uri() if not name.startswith("<") else name[1:-1]


class PolicyServer(LanguageServer):
    """The exportdsl language server: one analysis per open buffer, refreshed as it changes."""

    def __init__(self):
        super().__init__("exportdsl", __version__)
        self.analyses: dict[str, Analysis] = {}
        self.indexes: dict[str, SymbolIndex] = {}   # the last index whose buffer parsed (for completion)
        self.pending: dict[str, asyncio.Task] = {}
        self.docs_url: str | None = None            # "{code}" is replaced by the diagnostic code

    # ---- diagnostics
    def schedule(self, uri: str) -> None:
        """Check a buffer again after the debounce pause (an earlier pending check is dropped)."""
        task = self.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        self.pending[uri] = asyncio.get_running_loop().create_task(self._check_later(uri))

    async def _check_later(self, uri: str) -> None:
        await asyncio.sleep(DEBOUNCE_SECONDS)
        text = self.workspace.get_text_document(uri).source
        analysis = await asyncio.get_running_loop().run_in_executor(
            None, lambda: analyze(text, _path_of(uri), lint_seconds=LINT_SECONDS))
        if self.workspace.get_text_document(uri).source != text:
            return  # edited meanwhile: that edit scheduled a newer check
        self._remember(uri, analysis)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, diagnostics=[self._diagnostic(d, own) for d, own in analysis.own_diagnostics()]))

    def _remember(self, uri: str, analysis: Analysis) -> SymbolIndex:
        self.analyses[uri] = analysis
        index = SymbolIndex(analysis)
        if analysis.module is not None or uri not in self.indexes:
            self.indexes[uri] = index
        return index

    def _diagnostic(self, diag: Diagnostic, own: bool) -> types.Diagnostic:
        href = self.docs_url.replace("{code}", diag.code) if self.docs_url else (
            (_DOCS / f"{diag.code}.rst").as_uri() if (_DOCS / f"{diag.code}.rst").is_file() else None)
        fix = fix_of(diag) if own else None
        return types.Diagnostic(
            range=_range(diag.span), message=diag.message + (f"\nhelp: {diag.help}" if diag.help else ""),
            severity=_SEVERITY[diag.severity], code=diag.code, source="exportdsl",
            code_description=types.CodeDescription(href=href) if href else None,
            data={"fix": fix} if fix else None)

    # ---- the buffer as it is now, for requests
    def current(self, uri: str) -> tuple[Analysis, SymbolIndex]:
        """The analysis of the buffer's current text (checked now, without lint, if it is stale)."""
        text = self.workspace.get_text_document(uri).source
        analysis = self.analyses.get(uri)
        if analysis is None or analysis.text != text:
            analysis = analyze(text, _path_of(uri), lint=False)
            return analysis, self._remember(uri, analysis)
        return analysis, SymbolIndex(analysis)

    def offset(self, analysis: Analysis, position: types.Position) -> int:
        """The character offset of a protocol position in a buffer."""
        return offset_of(analysis.source, position.line, position.character)


server = PolicyServer()


@server.feature(types.INITIALIZE)
def _initialize(ls: PolicyServer, params: types.InitializeParams) -> None:
    options = params.initialization_options
    if isinstance(options, dict) and isinstance(options.get("diagnosticsUrl"), str):
        ls.docs_url = options["diagnosticsUrl"]


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def _did_open(ls: PolicyServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def _did_change(ls: PolicyServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def _did_save(ls: PolicyServer, params: types.DidSaveTextDocumentParams) -> None:
    # other open buffers may extend the saved file
    for uri in list(ls.workspace.text_documents):
        ls.schedule(uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def _did_close(ls: PolicyServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    task = ls.pending.pop(uri, None)
    if task is not None:
        task.cancel()
    ls.analyses.pop(uri, None)
    ls.indexes.pop(uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_HOVER)
def _hover(ls: PolicyServer, params: types.HoverParams) -> types.Hover | None:
    analysis, index = ls.current(params.text_document.uri)
    offset = ls.offset(analysis, params.position)
    parts = []
    occ = index.at(offset)
    if occ is not None and (text := index.hover(occ.kind, occ.name)):
        parts.append(text)
    cached = ls.analyses.get(params.text_document.uri)
    for diag, _ in (cached.own_diagnostics() if cached is not None and cached.text == analysis.text else ()):
        if diag.span is not None and diag.span.start <= offset <= diag.span.end and analysis.is_own(diag.span):
            parts.append(f"**{diag.code}** ({diag.severity.value}): {markdown_text(diag.message)}"
                         + (f"\n\nhelp: {markdown_text(diag.help)}" if diag.help else ""))
    if not parts:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(parts)))


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def _definition(ls: PolicyServer, params: types.DefinitionParams) -> types.Location | None:
    analysis, index = ls.current(params.text_document.uri)
    occ = index.at(ls.offset(analysis, params.position))
    target = index.definition(occ.kind, occ.name) if occ is not None else None
    if target is None:
        return None
    return types.Location(uri=_uri_of(target.span), range=_range(target.span))


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
def _references(ls: PolicyServer, params: types.ReferenceParams) -> list[types.Location]:
    uri = params.text_document.uri
    analysis, index = ls.current(uri)
    occ = index.at(ls.offset(analysis, params.position))
    if occ is None:
        return []
    declared = index.definition(occ.kind, occ.name)
    found = {}
    # this buffer and its bases, then every other open buffer that sees the same declaration
    indexes = [index] + [ls.current(other)[1] for other in list(ls.workspace.text_documents) if other != uri]
    for each in indexes:
        theirs = each.definition(occ.kind, occ.name)
        if declared is not None and (theirs is None or _uri_of(theirs.span) != _uri_of(declared.span)
                                     or theirs.span.start != declared.span.start):
            continue
        for ref in each.references(occ.kind, occ.name):
            if ref.declaration and not params.context.include_declaration:
                continue
            found[(_uri_of(ref.span), ref.span.start)] = types.Location(uri=_uri_of(ref.span), range=_range(ref.span))
    return list(found.values())


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def _symbols(ls: PolicyServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    _, index = ls.current(params.text_document.uri)
    symbols = []
    for kind, decl in index.own_declarations():
        ident = decl.id if kind in ("rule", "suspension") else decl.name
        title = getattr(decl, "title", None)
        symbols.append(types.DocumentSymbol(
            name=ident.name, detail=title or kind, kind=_SYMBOL_KIND[kind],
            range=_range(decl.span), selection_range=_range(ident.span)))
    return symbols


@server.feature(types.TEXT_DOCUMENT_COMPLETION,
                types.CompletionOptions(trigger_characters=[" ", "{", ",", ">", "("]))
def _completion(ls: PolicyServer, params: types.CompletionParams) -> types.CompletionList:
    uri = params.text_document.uri
    analysis, index = ls.current(uri)
    if analysis.module is None:
        index = ls.indexes.get(uri, index)  # mid-edit text that does not parse: the last one that did
    line = analysis.source.text.split("\n")[params.position.line] if analysis.text else ""
    start = offset_of(analysis.source, params.position.line, params.position.character)
    before = line[: start - (analysis.source.text.rfind("\n", 0, start) + 1)]
    items = []
    for item in complete(index, before):
        items.append(types.CompletionItem(
            label=item.label, kind=_COMPLETION_KIND[item.kind], detail=item.detail,
            insert_text=item.snippet,
            insert_text_format=types.InsertTextFormat.Snippet if item.snippet else None))
    return types.CompletionList(is_incomplete=False, items=items)


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def _formatting(ls: PolicyServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    uri = params.text_document.uri
    text = ls.workspace.get_text_document(uri).source
    try:
        formatted = format_source(text, _path_of(uri))
    except Error as exc:
        ls.window_show_message(types.ShowMessageParams(
            types.MessageType.Warning, "exportdsl: cannot format: " + exc.diagnostics[0].message))
        return None
    if formatted == text:
        return []
    analysis = ls.current(uri)[0]
    end = position_of(analysis.source, len(text))
    return [types.TextEdit(range=types.Range(types.Position(0, 0), types.Position(*end)), new_text=formatted)]


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
def _code_actions(ls: PolicyServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    actions = []
    for diag in params.context.diagnostics:
        fix = diag.data.get("fix") if isinstance(diag.data, dict) else None
        if not isinstance(fix, str) or not fix:
            continue
        actions.append(types.CodeAction(
            title=f"Replace with '{fix}'", kind=types.CodeActionKind.QuickFix, diagnostics=[diag],
            is_preferred=True,
            edit=types.WorkspaceEdit(changes={params.text_document.uri: [types.TextEdit(diag.range, fix)]})))
    return actions


def main() -> None:
    """Serve the Language Server Protocol on standard input and output until the client exits."""
    server.start_io()
