"""The language server, driven over stdio by a real LSP client (pytest-lsp): open, edit,
diagnostics, hover, definition, references, outline, completion, formatting and quick fixes.

One server process serves the whole module (it starts in about a second); each test opens its
own copies of the reference policies in a temporary folder, so ``extends`` resolves on disk.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="the language server needs the 'lsp' extra (pygls)")
pytest_lsp = pytest.importorskip("pytest_lsp", reason="the LSP tests need pytest-lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from exportdsl.fmt import format_source  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "policies"
WAIT = 20.0   # seconds: a generous bound on any one wait (the server answers in well under one)


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[sys.executable, "-m", "exportdsl", "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), initialization_options={"diagnosticsUrl": "https://docs.example/{code}"}))
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("cn-rare-earths-2025-04.xpol", "cn-rare-earths-2025-10.xpol", "quickstart.xpol"):
        shutil.copy(POLICIES / name, tmp_path / name)
    return tmp_path


_versions: dict[str, int] = {}


def open_doc(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    _versions[uri] = 1
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
        uri=uri, language_id="xpol", version=1, text=path.read_text(encoding="utf-8") if text is None else text)))
    return uri


def change(client: LanguageClient, uri: str, text: str) -> None:
    _versions[uri] += 1
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=_versions[uri]),
        [types.TextDocumentContentChangeWholeDocument(text=text)]))


async def diagnostics_for(client: LanguageClient, uri: str, predicate, after: float = 0.0) -> list[types.Diagnostic]:
    """Wait (bounded) until the diagnostics published for ``uri`` satisfy ``predicate``."""
    client.diagnostics.pop(uri, None)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = client.diagnostics.get(uri)
        if found is not None and predicate(found):
            return found
        try:
            await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 1.0)
        except asyncio.TimeoutError:
            pass
    raise AssertionError(f"no matching diagnostics for {uri}; last: {client.diagnostics.get(uri)}")


def position(text: str, needle: str, delta: int = 0) -> types.Position:
    offset = text.index(needle) + delta
    line = text.count("\n", 0, offset)
    return types.Position(line, offset - (text.rfind("\n", 0, offset) + 1))


def close(client: LanguageClient, uri: str) -> None:
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))


pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_typo_gives_diagnostic_with_code_link_and_fix_clears_it(client: LanguageClient, folder: Path):
    path = folder / "cn-rare-earths-2025-10.xpol"
    text = path.read_text(encoding="utf-8")
    uri = open_doc(client, path)
    await diagnostics_for(client, uri, lambda d: len(d) == 0)
    typo = text.replace("item in annex1_forms", "iten in annex1_forms")
    started = time.monotonic()
    change(client, uri, typo)
    found = await diagnostics_for(client, uri, lambda d: any(x.code == "E201" for x in d))
    elapsed = time.monotonic() - started
    print(f"\nLSP: diagnostic {elapsed * 1000:.0f} ms after the edit (October policy; includes the client)")
    (diag,) = [d for d in found if d.code == "E201"]
    assert diag.range.start == position(typo, "iten in annex1_forms")
    assert diag.range.end == position(typo, "iten in annex1_forms", 4)
    assert "unknown fact 'iten'" in diag.message and "did you mean 'item'?" in diag.message
    assert diag.code_description.href == "https://docs.example/E201"
    assert diag.severity == types.DiagnosticSeverity.Error

    actions = await client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(uri), diag.range, types.CodeActionContext(diagnostics=[diag])))
    (action,) = actions
    assert action.title == "Replace with 'item'"
    (edit,) = action.edit.changes[uri]
    assert edit.new_text == "item" and edit.range == diag.range

    change(client, uri, text)  # the buffer is edited back: the diagnostic goes away (nothing saved)
    await diagnostics_for(client, uri, lambda d: len(d) == 0)
    assert path.read_text(encoding="utf-8") == text
    close(client, uri)


async def test_errors_in_the_base_show_on_the_extends_line(client: LanguageClient, folder: Path):
    base = folder / "cn-rare-earths-2025-04.xpol"
    base.write_text(base.read_text(encoding="utf-8") + "\nrule Z9 { nope -> deny }\n",
                    encoding="utf-8")
    path = folder / "cn-rare-earths-2025-10.xpol"
    text = path.read_text(encoding="utf-8")
    uri = open_doc(client, path)
    found = await diagnostics_for(client, uri, lambda d: len(d) > 0)
    (diag,) = [d for d in found if d.code == "E202" or d.code == "E201"]
    assert diag.range.start == position(text, 'extends "cn-rare-earths-2025-04.xpol"', len("extends "))
    assert "cn-rare-earths-2025-04.xpol" in diag.message
    close(client, uri)


async def test_lint_warnings_are_published(client: LanguageClient, folder: Path):
    path = folder / "quickstart.xpol"
    text = path.read_text(encoding="utf-8") + "\nfact never_used: bool\n"
    uri = open_doc(client, path, text)
    found = await diagnostics_for(client, uri, lambda d: any(x.code == "W121" for x in d))
    (diag,) = [d for d in found if d.code == "W121"]
    assert diag.severity == types.DiagnosticSeverity.Warning
    assert diag.range.start.line == text.count("\n", 0, text.index("never_used"))
    close(client, uri)


async def hover_text(client: LanguageClient, uri: str, text: str, needle: str, delta: int = 0) -> str:
    result = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri), position(text, needle, delta)))
    assert result is not None, needle
    return result.contents.value


async def test_hover(client: LanguageClient, folder: Path):
    path = folder / "cn-rare-earths-2025-10.xpol"
    text = path.read_text(encoding="utf-8")
    uri = open_doc(client, path)
    fact = await hover_text(client, uri, text, "elements contains any april_elements")
    assert "**fact**" in fact and "set of enum {Sc, Y, La" in fact and "required" in fact
    members = await hover_text(client, uri, text, "april_elements", 1)
    assert "**set**" in members and "{Sm, Gd, Tb, Dy, Lu, Sc, Y}" in members
    assert "cn-rare-earths-2025-04.xpol" in members   # declared in the base
    rule = await hover_text(client, uri, text, "rule O10", 5)
    assert "Military, military\\-potential, WMD and terrorism end uses: denied" in rule
    assert "MOFCOM Announcement 2025 No\\. 61 Art\\. 3" in rule
    assert "from 2025-10-09" in rule and "decision: `deny`" in rule
    decision = await hover_text(client, uri, text, "end_use in defence_end_uses -> deny", len("end_use in defence_end_uses -> "))
    assert "rank 5 of 6" in decision
    close(client, uri)


async def test_hover_shows_the_diagnostic_help(client: LanguageClient, folder: Path):
    path = folder / "quickstart.xpol"
    text = path.read_text(encoding="utf-8")
    typo = text.replace("origin=CN and", "orijin=CN and")
    uri = open_doc(client, path, typo)
    await diagnostics_for(client, uri, lambda d: any(x.code == "E201" for x in d))
    shown = await hover_text(client, uri, typo, "orijin", 1)
    assert "**E201**" in shown and "did you mean 'origin'?" in shown
    close(client, uri)


async def test_definition_and_references_across_extends(client: LanguageClient, folder: Path):
    path = folder / "cn-rare-earths-2025-10.xpol"
    base = folder / "cn-rare-earths-2025-04.xpol"
    text, base_text = path.read_text(encoding="utf-8"), base.read_text(encoding="utf-8")
    uri = open_doc(client, path)
    where = position(text, "contains any april_elements", len("contains any "))
    found = await client.text_document_definition_async(types.DefinitionParams(types.TextDocumentIdentifier(uri), where))
    assert found.uri == base.as_uri()
    assert found.range.start == position(base_text, "set april_elements", 4)

    refs = await client.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri), position=where,
        context=types.ReferenceContext(include_declaration=True)))
    files = {r.uri for r in refs}
    assert files == {uri, base.as_uri()}
    own = sorted(r.range.start.line for r in refs if r.uri == uri)
    assert own == sorted({text.count("\n", 0, i) for i in _all(text, "april_elements")})

    local = await client.text_document_definition_async(types.DefinitionParams(
        types.TextDocumentIdentifier(uri), position(text, "defence_end_uses -> deny")))
    assert local.uri == uri and local.range.start == position(text, "set defence_end_uses", 4)
    close(client, uri)


def _all(text: str, word: str):
    start = text.find(word)
    while start >= 0:
        yield start
        start = text.find(word, start + 1)


async def test_document_symbols_list_rules_with_titles(client: LanguageClient, folder: Path):
    path = folder / "cn-rare-earths-2025-10.xpol"
    uri = open_doc(client, path)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(types.TextDocumentIdentifier(uri)))
    by_name = {s.name: s for s in symbols}
    assert by_name["O10"].detail == "Military, military-potential, WMD and terrorism end uses: denied"
    assert by_name["O10"].kind == types.SymbolKind.Class
    assert "A1" not in by_name          # declared in the base, not in this file
    assert by_name["listed_entities"].kind == types.SymbolKind.Array
    close(client, uri)


async def complete_at(client: LanguageClient, uri: str, text: str, needle: str | None) -> dict[str, types.CompletionItem]:
    """Completions after the first ``needle`` in ``text`` (None: at the end of the text)."""
    where = position(text, needle, len(needle)) if needle is not None else \
        types.Position(text.count("\n"), len(text) - text.rfind("\n") - 1)
    result = await client.text_document_completion_async(types.CompletionParams(types.TextDocumentIdentifier(uri), where))
    return {item.label: item for item in result.items}


async def test_completion_by_context(client: LanguageClient, folder: Path):
    path = folder / "cn-rare-earths-2025-10.xpol"
    text = path.read_text(encoding="utf-8")
    uri = open_doc(client, path)
    await diagnostics_for(client, uri, lambda d: len(d) == 0)
    editing = text + "\nrule X1 {\n    export_to = \n}\n"   # mid-edit text that does not parse
    change(client, uri, editing)
    countries = await complete_at(client, uri, editing, "    export_to = ")
    assert "CN" in countries and "US" in countries and "deny" not in countries
    assert countries["CN"].kind == types.CompletionItemKind.Value

    decisions = await complete_at(client, uri, text, "end_use in defence_end_uses -> ")
    assert set(decisions) == {"not_controlled", "allow_with_report", "license_required", "case_by_case", "deny",
                              "prohibited"}
    in_set = text + "\ncondition c9 = item in {"
    change(client, uri, in_set)
    items = await complete_at(client, uri, in_set, "item in {")
    assert {"metal", "magnet", "oxide"} <= set(items) and "CN" not in items
    sets = text + "\ncondition c9 = end_use in "
    change(client, uri, sets)
    names = await complete_at(client, uri, sets, "end_use in ")
    assert {"defence_end_uses", "april_elements"} <= set(names)
    fresh = text + "\n"
    change(client, uri, fresh)
    everything = await complete_at(client, uri, fresh, None)
    assert everything["rule"].insert_text_format == types.InsertTextFormat.Snippet
    assert everything["rule"].insert_text.startswith("rule ${1:R1} {")
    assert {"ship_date", "end_use", "outside_china", "listed_entities"} <= set(everything)
    close(client, uri)


async def test_formatting_uses_the_formatter(client: LanguageClient, folder: Path):
    path = folder / "quickstart.xpol"
    messy = "\n".join("   " + line if line.startswith(("fact", "rule")) else line
                      for line in path.read_text(encoding="utf-8").split("\n"))
    uri = open_doc(client, path, messy)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        types.TextDocumentIdentifier(uri), types.FormattingOptions(tab_size=4, insert_spaces=True)))
    (edit,) = edits
    assert edit.range.start == types.Position(0, 0)
    assert edit.new_text == format_source(messy, str(path)) != messy
    close(client, uri)


async def test_formatting_a_policy_that_does_not_parse_changes_nothing(client: LanguageClient, folder: Path):
    path = folder / "quickstart.xpol"
    uri = open_doc(client, path, "rule {{{ ->\n")
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        types.TextDocumentIdentifier(uri), types.FormattingOptions(tab_size=4, insert_spaces=True)))
    assert edits is None
    await diagnostics_for(client, uri, lambda d: any(x.code.startswith("E1") for x in d))
    close(client, uri)
