"""Policy paths without pathlib (issue 13, cold start): the names ``load`` gives policies and the paths
``extends`` resolves are spelled and resolved exactly as pathlib did (differential tests against
pathlib), symlinks and their loops included."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import exportdsl
from exportdsl import compose
from exportdsl.errors import CheckError
from exportdsl.parser import path_name
from exportdsl.policy import load_with_tree

PARTS = st.sampled_from(["", ".", "..", "a", "b.xpol", " ", "a b", "...", ".x"])


@given(st.lists(PARTS, max_size=6), st.sampled_from(["", "/", "//", "///"]), st.sampled_from(["", "/", "//"]))
@settings(max_examples=400, deadline=None)
def test_a_path_is_named_as_pathlib_names_it(parts, lead, trail):
    text = lead + "/".join(parts) + trail
    if text:
        assert path_name(text) == str(Path(text))
        assert path_name(Path(text)) == str(Path(text))


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A folder with a policy, a symlink to it, a symlink loop and a sub-folder; the working folder."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "base.xpol").write_text("decisions a < b\nfact origin: country\n", encoding="utf-8")
    os.symlink(tmp_path / "base.xpol", tmp_path / "sub" / "link.xpol")
    os.symlink(tmp_path / "loop1", tmp_path / "loop2")
    os.symlink(tmp_path / "loop2", tmp_path / "loop1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


NAMES = ["base.xpol", "sub/link.xpol", "sub/../base.xpol", "./sub//link.xpol", "missing.xpol", "loop1",
         "loop1/x", "sub", ".", "/", "sub/missing/../../base.xpol"]


@pytest.mark.parametrize("name", NAMES)
def test_paths_resolve_as_pathlib_resolves_them(tree, name):
    try:
        expected = str(Path(name).resolve())
    except RuntimeError as exc:
        with pytest.raises(RuntimeError) as got:
            compose._resolved(name)
        assert str(got.value) == str(exc)
        return
    assert compose._resolved(name) == expected
    assert compose._display(expected) == _pathlib_display(Path(expected))


def _pathlib_display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@pytest.mark.parametrize("folder", ["/", "/srv", "/srv/", "/srv/policies"])
@pytest.mark.parametrize("path", ["/srv", "/srv/a.xpol", "/srvx/a.xpol", "/srv/policies/b.xpol", "/other"])
def test_inside_a_folder_as_pathlib_tells(folder, path):
    assert compose._inside(path, folder) == Path(path).is_relative_to(Path(folder))


def test_a_base_that_is_a_symlink_loop_is_e104(tree):
    (tree / "top.xpol").write_text('extends "loop1"\n', encoding="utf-8")
    with pytest.raises(CheckError) as caught:
        exportdsl.load(tree / "top.xpol")
    diagnostic = caught.value.diagnostics[0]
    assert diagnostic.code == "E104" and "Symlink loop" in diagnostic.message


def test_an_extended_base_through_a_symlink_is_named_relative_to_the_working_folder(tree):
    (tree / "sub" / "top.xpol").write_text('extends "link.xpol"\nrule R { origin = CN -> b }\n', encoding="utf-8")
    _, module = load_with_tree("./sub//top.xpol", keep_tree=True)
    assert [source.name for source in module.chain] == ["sub/top.xpol", "base.xpol"]
