"""The studio's HTTP API against a real server (uvicorn on 127.0.0.1, an ephemeral port):
confinement to the folder (403, nothing read), guards (header, host, token, body size), and the
Edit/Try/Compare endpoints on the reference policies.
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import shutil
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

pytest.importorskip("starlette", reason="the studio needs the 'studio' extra")
pytest.importorskip("uvicorn", reason="the studio needs the 'studio' extra")

from exportdsl import load  # noqa: E402
from exportdsl.studio.command import running  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SECRET = "TOP-SECRET-OUTSIDE-THE-FOLDER"
OCTOBER = "cn-rare-earths-2025-10.xpol"
NEUTRAL = {"ship_date": "2025-12-15", "export_from": "CN", "export_to": "DE", "origin": "CN", "item": "other",
           "magnet_family": "none", "elements": [], "re_content": 0, "cn_re_tech": [], "battery_wh_per_kg": 0,
           "end_use": "civil", "logic_node_nm": 0, "memory_layers": 0, "ai_military_potential": False,
           "end_user": "Acme GmbH", "end_user_military": False, "cn_listed_ownership": 0}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """``outside/`` (a secret policy and a secret file) beside ``served/`` (the reference policies,
    a sub-folder, and symbolic links that lead outside)."""
    top = tmp_path_factory.mktemp("studio")
    outside, served = top / "outside", top / "served"
    outside.mkdir()
    served.mkdir()
    (outside / "secret.xpol").write_text(f"# {SECRET}\ndecisions a < b\n", encoding="utf-8")
    (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
    for path in (REPO / "policies").glob("*.xpol"):
        shutil.copy(path, served / path.name)
    (served / "sub").mkdir()
    (served / "sub" / "inner.xpol").write_text("decisions a < b\n", encoding="utf-8")
    os.symlink(outside / "secret.xpol", served / "link.xpol")
    os.symlink(outside, served / "linkdir")
    (served / "escape.xpol").write_text('extends "../outside/secret.xpol"\ndecisions a < b\n', encoding="utf-8")
    return top


@pytest.fixture(scope="module")
def studio(tree: Path):
    with running(tree / "served") as url:
        yield url


class Opened:
    """Records every file the server process opens (it runs in this process), to prove a refused
    request read nothing."""

    def __init__(self, monkeypatch):
        self.paths: list[Path] = []
        original = pathlib.Path.open

        def spy(path, *args, **kwargs):
            self.paths.append(Path(path).resolve())
            return original(path, *args, **kwargs)
        monkeypatch.setattr(pathlib.Path, "open", spy)

    def outside(self, top: Path) -> list[Path]:
        return [p for p in self.paths if p.is_relative_to(top / "outside")]


def request(url: str, method: str, target: str, body: bytes | str | None = None, headers: dict | None = None):
    """A raw HTTP request (the target is sent exactly as given: no normalisation)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    sent = {"X-Studio": "1", **(headers or {})}
    if body is not None:
        sent.setdefault("Content-Type", "application/json")
    try:
        connection.request(method, target, body=body.encode() if isinstance(body, str) else body, headers=sent)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), response.headers
    finally:
        connection.close()


def api(url: str, method: str, target: str, data=None, headers: dict | None = None):
    status, text, _ = request(url, method, target, None if data is None else json.dumps(data), headers)
    return status, json.loads(text) if text else None


REFUSED = ["../outside/secret.xpol", "/etc/passwd", "sub/../../outside/secret.xpol", "%2e%2e/outside/secret.xpol",
           "..%2foutside%2fsecret.xpol", "a\x00.xpol", "link.xpol", "linkdir/secret.xpol", "..\\outside\\secret.xpol",
           "C:/secret.xpol", "../outside/secret.txt", ".hidden.xpol", "sub/./../../outside/secret.xpol",
           str(REPO / "policies" / OCTOBER), "", "x" * 600 + ".xpol"]


@pytest.mark.parametrize("path", REFUSED)
def test_paths_outside_the_folder_get_403_and_read_nothing(studio, tree, monkeypatch, path):
    before = (tree / "outside" / "secret.xpol").read_text(encoding="utf-8")
    opened = Opened(monkeypatch)
    status, text, _ = request(studio, "GET", "/api/file?path=" + quote(path, safe=""))
    assert status == 403 and SECRET not in text
    status, text, _ = request(studio, "PUT", "/api/file", json.dumps({"path": path, "text": "decisions a < b\n"}))
    assert status == 403 and SECRET not in text
    for route in ("/api/check", "/api/schema", "/api/evaluate"):
        status, text, _ = request(studio, "POST", route, json.dumps({"path": path, "text": "", "facts": {}}))
        assert status == 403, route
    status, _, _ = request(studio, "POST", "/api/diff", json.dumps({"old": path, "new": OCTOBER}))
    assert status == 403
    assert opened.outside(tree) == []
    monkeypatch.undo()
    assert (tree / "outside" / "secret.xpol").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in (tree / "outside").iterdir()) == ["secret.txt", "secret.xpol"]


def test_paths_encoded_twice_are_refused_not_decoded_again(studio, tree, monkeypatch):
    opened = Opened(monkeypatch)
    for target in ("/api/file?path=%252e%252e%252foutside%252fsecret.xpol", "/api/file?path=..%252Foutside%252Fsecret.xpol",
                   "/api/file?path=%2e%2e%2foutside%2fsecret.xpol", "/api/file?path=%00"):
        status, text, _ = request(studio, "GET", target)
        assert status == 403 and SECRET not in text, target
    assert opened.outside(tree) == []


@pytest.mark.parametrize("target", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py",
                                    "/static/%2e%2e%2f%2e%2e%2fpolicy.py", "/../../outside/secret.txt",
                                    "/static/vendor/../../app.py"])
def test_static_files_do_not_escape_their_folder(studio, target):
    status, text, _ = request(studio, "GET", target)
    assert status in (400, 403, 404)
    assert "Starlette application" not in text and SECRET not in text


def test_a_base_outside_the_folder_is_refused_before_it_is_read(studio, tree, monkeypatch):
    opened = Opened(monkeypatch)
    text = (tree / "served" / "escape.xpol").read_text(encoding="utf-8")
    status, data = api(studio, "POST", "/api/check", {"path": "escape.xpol", "text": text})
    assert status == 200
    assert [d["code"] for d in data["diagnostics"]] == ["E421"]
    status, data = api(studio, "POST", "/api/schema", {"path": "escape.xpol", "text": text})
    assert status == 422 and data["diagnostics"][0]["code"] == "E421"
    assert opened.outside(tree) == []


def test_files_are_listed_read_and_saved_inside_the_folder(studio, tree):
    status, data = api(studio, "GET", "/api/files")
    assert status == 200
    assert OCTOBER in data["files"] and "sub/inner.xpol" in data["files"]
    assert "link.xpol" not in data["files"] and not any(f.startswith("linkdir") for f in data["files"])
    status, data = api(studio, "GET", "/api/file?path=sub/inner.xpol")
    assert (status, data["text"]) == (200, "decisions a < b\n")
    status, data = api(studio, "PUT", "/api/file", {"path": "sub/inner.xpol", "text": "decisions a < c\n"})
    assert status == 200
    assert (tree / "served" / "sub" / "inner.xpol").read_text(encoding="utf-8") == "decisions a < c\n"
    status, _ = api(studio, "GET", "/api/file?path=sub/none.xpol")
    assert status == 404


def test_guards_header_host_and_body_size(studio):
    status, _, _ = request(studio, "GET", "/api/files", headers={"X-Studio": ""})
    assert status == 403
    status, _, _ = request(studio, "GET", "/api/files", headers={"Host": "attacker.example:80"})
    assert status == 403      # DNS rebinding: only the loopback address is a valid Host
    status, _, _ = request(studio, "POST", "/api/check", b'{"path": "a.xpol", "text": "' + b"x" * 1_100_000 + b'"}')
    assert status == 413
    status, _, _ = request(studio, "POST", "/api/check", "[1, 2]")
    assert status == 400
    status, _, headers = request(studio, "GET", "/")
    assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]


def test_a_token_is_required_when_set(tree):
    with running(tree / "served", token="s3cret-token") as url:
        assert url.endswith("?token=s3cret-token")
        assert request(url, "GET", "/api/files")[0] == 401
        assert request(url, "GET", "/api/files", headers={"X-Studio-Token": "wrong"})[0] == 401
        assert request(url, "GET", "/api/files?token=s3cret-token")[0] == 401   # the API takes no token in URLs
        assert request(url, "GET", "/api/files", headers={"X-Studio-Token": "s3cret-token"})[0] == 200
        assert request(url, "GET", "/")[0] == 401
        status, _, headers = request(url, "GET", "/?token=s3cret-token")
        assert status == 200 and "HttpOnly" in headers["Set-Cookie"]
        cookie = headers["Set-Cookie"].split(";")[0]
        assert request(url, "GET", "/api/files", headers={"Cookie": cookie})[0] == 200
        assert request(url, "GET", "/static/studio.js", headers={"Cookie": cookie})[0] == 200
        assert request(url, "GET", "/static/studio.js")[0] == 401


def test_check_reports_errors_and_lint_with_editor_positions(studio, tree):
    text = (tree / "served" / OCTOBER).read_text(encoding="utf-8")
    typo = text.replace("item in annex1_forms", "iten in annex1_forms")
    status, data = api(studio, "POST", "/api/check", {"path": OCTOBER, "text": typo})
    (diag,) = data["diagnostics"]
    line = typo.count("\n", 0, typo.index("iten in"))
    assert diag["code"] == "E201" and diag["from"] == [line, 24] and diag["to"] == [line, 28]
    assert diag["help"] == "did you mean 'item'?"
    status, data = api(studio, "POST", "/api/check", {"path": "quickstart.xpol",
                                                      "text": (tree / "served" / "quickstart.xpol").read_text() + "fact zz: bool\n"})
    assert [d["code"] for d in data["diagnostics"]] == ["W121"]


def test_evaluate_decides_like_the_library(studio, tree):
    text = (tree / "served" / OCTOBER).read_text(encoding="utf-8")
    facts = {**NEUTRAL, "export_from": "DE", "export_to": "US", "item": "metal", "elements": ["Dy"], "end_use": "military"}
    status, data = api(studio, "POST", "/api/evaluate", {"path": OCTOBER, "text": text, "facts": facts})
    assert status == 200 and (data["decision"], data["rules"]) == ("deny", ["O10"])
    expected = load(tree / "served" / OCTOBER).evaluate(facts)
    assert (data["decision"], tuple(data["rules"])) == (expected.decision, expected.rules)
    assert "O10" in data["explanation"]
    missing = dict(facts)
    del missing["end_use"]
    status, data = api(studio, "POST", "/api/evaluate", {"path": OCTOBER, "text": text, "facts": missing})
    assert status == 422 and [d["code"] for d in data["diagnostics"]] == ["E301"]   # fail closed


def test_evaluate_keeps_decimals_exact(studio, tree):
    text = (tree / "served" / "quickstart.xpol").read_text(encoding="utf-8")
    base = '{"path": "quickstart.xpol", "text": %s, "facts": {"ship_date": "2025-05-01", "origin": "CN", ' \
           '"export_from": "CN", "end_use": "military", "elements": [], "end_user": "x", "re_content": %s}}'
    decisions = {}
    for number in ("0.1", "0.09999999999999999999"):   # the second is 0.1 as a float
        status, body, _ = request(studio, "POST", "/api/evaluate", base % (json.dumps(text), number))
        assert status == 200, body
        decisions[number] = json.loads(body)["decision"]
    assert decisions == {"0.1": "deny", "0.09999999999999999999": "not_controlled"}


def test_diff_regions_and_witnesses_agree_with_the_policies(studio, tree):
    status, data = api(studio, "POST", "/api/diff", {"old": "cn-rare-earths-2025-04.xpol", "new": OCTOBER})
    assert status == 200 and data["complete"] and data["regions"]
    old, new = load(tree / "served" / "cn-rare-earths-2025-04.xpol"), load(tree / "served" / OCTOBER)
    for region in data["regions"]:
        facts = region["witness"]
        from decimal import Decimal
        facts = {k: Decimal(v) if isinstance(v, str) and k in ("re_content", "battery_wh_per_kg", "logic_node_nm",
                                                                  "cn_listed_ownership") else v
                 for k, v in facts.items()}
        assert old.evaluate({k: v for k, v in facts.items() if k in old.facts}).decision == region["old"]
        assert new.evaluate({k: v for k, v in facts.items() if k in new.facts}).decision == region["new"]
    status, data = api(studio, "POST", "/api/diff", {"old": OCTOBER, "new": OCTOBER})
    assert status == 200 and data["regions"] == []


def test_one_version_on_two_days(studio, tree):
    status, data = api(studio, "POST", "/api/diff", {"old": OCTOBER, "between": ["2025-11-30", "2025-12-01"]})
    assert status == 200 and data["complete"] and data["regions"], data
    assert [c["subject"] for c in data["structural"]] == ["O7", "O8"]
    policy = load(tree / "served" / OCTOBER)
    for region in data["regions"]:
        from decimal import Decimal
        facts = {k: Decimal(v) if isinstance(v, str) and k in ("re_content", "battery_wh_per_kg", "logic_node_nm",
                                                                 "cn_listed_ownership") else v
                 for k, v in region["witness"].items()}
        assert policy.evaluate({**facts, data["dated_by"]: "2025-11-30"}).decision == region["old"]
        assert policy.evaluate({**facts, data["dated_by"]: data["day"]}).decision == region["new"]
    for bad in (["2025-11-30"], "2025-11-30", [1, 2]):
        status, data = api(studio, "POST", "/api/diff", {"old": OCTOBER, "between": bad})
        assert status == 400
