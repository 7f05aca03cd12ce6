"""The VS Code extension that starts the language server: its manifest and its script."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

VSCODE = Path(__file__).resolve().parent.parent / "editors" / "vscode"


def test_the_manifest_starts_the_server_for_xpol_files():
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    assert package["main"] == "./extension.js" and (VSCODE / "extension.js").is_file()
    assert package["activationEvents"] == ["onLanguage:xpol"]
    assert "vscode-languageclient" in package["dependencies"]
    settings = package["contributes"]["configuration"]["properties"]
    assert settings["exportdsl.server.command"]["default"] == "exportdsl"
    script = (VSCODE / "extension.js").read_text(encoding="utf-8")
    assert 'args: ["lsp"]' in script and 'language: "xpol"' in script
    for key in settings:   # every setting the manifest declares is read by the script
        assert f'"{key.removeprefix("exportdsl.")}"' in script


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_script_is_valid_javascript():
    result = subprocess.run(["node", "--check", str(VSCODE / "extension.js")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
