"""The parser's table cache: used only in a private folder of the current user, and harmless when absent."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from exportdsl.parser_cache import private_cache_file

# The Lark path (the fast reader never loads the tables): the declarations of a small policy.
PARSE = ("from exportdsl import parser_lark as L; from exportdsl.source import Source; "
         "t = 'decisions a < b\\nfact x: bool\\nrule R { x -> b }\\n'; "
         "print([type(d).__name__ for d in L.read_module(Source('s', t), t)[0]])")
PARSED = "['DecisionsDecl', 'FactDecl', 'RuleDecl']"

posix_only = pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")


def _run(env_cache):
    env = {**os.environ, "XDG_CACHE_HOME": str(env_cache)}
    env.pop("EXPORTDSL_NO_PARSER_CACHE", None)
    out = subprocess.run([sys.executable, "-c", PARSE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@posix_only
def test_the_cache_is_written_privately_and_then_used(tmp_path):
    assert _run(tmp_path) == PARSED
    folder = tmp_path / "exportdsl"
    files = list(folder.iterdir())
    assert len(files) == 1 and files[0].stat().st_size > 1000
    assert folder.stat().st_mode & 0o777 == 0o700
    assert _run(tmp_path) == PARSED           # loaded from the cache this time


@posix_only
def test_a_folder_others_can_write_is_not_used(tmp_path):
    folder = tmp_path / "exportdsl"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    assert subprocess.run([sys.executable, "-c", "from exportdsl.parser_cache import private_cache_file as f;"
                           "print(f('g', '1'))"], env=env, capture_output=True, text=True).stdout.strip() == "None"
    assert _run(tmp_path) == PARSED
    assert list(folder.iterdir()) == []                 # nothing written there


@posix_only
def test_a_planted_symlink_or_a_corrupt_file_is_harmless(tmp_path):
    _run(tmp_path)
    (cached,) = (tmp_path / "exportdsl").iterdir()
    cached.write_bytes(b"not a pickle\n\x80\x04garbage")
    assert _run(tmp_path) == PARSED            # Lark rebuilds the tables
    cached.unlink()
    target = tmp_path / "elsewhere"
    target.write_bytes(b"x")
    cached.symlink_to(target)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    assert subprocess.run([sys.executable, "-c", "from exportdsl.parser_cache import private_cache_file as f;"
                           "import exportdsl.parser as p, lark;"
                           "print(f(p.grammar_text(), lark.__version__))"],
                          env=env, capture_output=True, text=True).stdout.strip() == "None"
    assert _run(tmp_path) == PARSED
    assert target.read_bytes() == b"x"


def test_the_cache_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("EXPORTDSL_NO_PARSER_CACHE", "1")
    assert private_cache_file("grammar", "1") is None


def test_a_relative_cache_home_is_not_used(monkeypatch):
    monkeypatch.delenv("EXPORTDSL_NO_PARSER_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    assert private_cache_file("grammar", "1") is None
