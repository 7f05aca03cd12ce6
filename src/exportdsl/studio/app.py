"""The studio's Starlette application: the page, its static files and a small JSON API.

API (every request and response is JSON; policy text travels as data and the page shows it as
text, never as HTML):

- ``GET /api/files``: the policy files of the folder; ``GET /api/file?path=P``: one file's text;
  ``PUT /api/file`` ``{path, text}``: save it.
- ``POST /api/check`` ``{path, text}``: the checker's and linter's diagnostics of unsaved text.
- ``POST /api/schema`` ``{path, text}``: the policy's transaction JSON Schema (for the Try form).
- ``POST /api/evaluate`` ``{path, text, facts}``: the decision, deciding rules and explanation.
- ``POST /api/diff`` ``{old, new, as_of?}``: the semantic diff of two saved files; ``{old, between:
  [DAY1, DAY2]}``: one file on two days (``diff --between``).

Guards: file paths are confined to the folder (403 before anything is read, see ``paths``);
``extends`` may not leave it either (E421); bodies over :data:`MAX_BODY_BYTES` get 413; API
requests must carry ``X-Studio: 1`` (which no other site's page can send without a preflight
that is never granted) and, when a token is set (any ``--host`` but loopback), the token; on
loopback the ``Host`` header must name the loopback address (no DNS rebinding).
"""

from __future__ import annotations

import json
import secrets
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import Error
from ..lsp.analysis import analyze, position_of
from ..policy import Policy
from .paths import Refused, confined, policy_files

#: Largest request body accepted.
MAX_BODY_BYTES = 1_000_000
#: Time the linter may take per check, and the diff per comparison.
LINT_SECONDS = 1.0
DIFF_SECONDS = 20.0

STATIC = Path(__file__).resolve().parent / "static"
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_COOKIE = "exportdsl_studio"


class _Rejected(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _encode(value):
    if isinstance(value, Decimal):
        return format(value, "f")  # exact digits, as a string: the page fills form fields with it
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _json(data, status: int = 200) -> Response:
    body = json.dumps(data, default=_encode, ensure_ascii=True)
    return Response(body, status_code=status, media_type="application/json", headers=_HEADERS)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON number")


def _diagnostics(diags, analysis=None) -> list[dict]:
    out = []
    for diag in diags:
        item = {"code": diag.code, "severity": diag.severity.value, "message": diag.message, "help": diag.help}
        if diag.span is not None and (analysis is None or analysis.is_own(diag.span)):
            item["from"] = position_of(diag.span.source, diag.span.start)
            item["to"] = position_of(diag.span.source, diag.span.end)
        out.append(item)
    return out


class Studio:
    """The application's state: the folder served, the token, the hosts allowed."""

    def __init__(self, root: Path, *, token: str | None = None, allowed_hosts: set[str] | None = None):
        self.root = root.resolve()
        self.token = token
        self.allowed_hosts = allowed_hosts
        self.limiter = anyio.CapacityLimiter(2)
        self._compile = lru_cache(maxsize=16)(self._compile_uncached)

    # ---- guards
    def guard(self, request: Request, api: bool) -> None:
        """Refuse a request from a wrong host, without the token, or (API) without ``X-Studio``."""
        if self.allowed_hosts is not None and request.headers.get("host", "") not in self.allowed_hosts:
            raise _Rejected(403, "unexpected Host header")
        if self.token is not None:
            given = request.headers.get("x-studio-token") or request.cookies.get(_COOKIE) or ""
            if not api and not given:
                given = request.query_params.get("token", "")
            if not secrets.compare_digest(given.encode(), self.token.encode()):
                raise _Rejected(401, "missing or wrong token (see the URL printed when the studio started)")
        if api and request.headers.get("x-studio") != "1":
            raise _Rejected(403, "API requests need the X-Studio header")

    async def body(self, request: Request) -> dict:
        """The request's JSON object, read up to :data:`MAX_BODY_BYTES` (numbers kept exact)."""
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            raise _Rejected(413, f"request body over {MAX_BODY_BYTES} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _Rejected(413, f"request body over {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
        try:
            data = json.loads(b"".join(chunks).decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Rejected(400, f"not a JSON body: {exc}") from None
        if not isinstance(data, dict):
            raise _Rejected(400, "the body must be a JSON object")
        return data

    def path(self, relative) -> Path:
        """A file path confined to the folder, or 403."""
        try:
            return confined(self.root, relative)
        except Refused as exc:
            raise _Rejected(403, f"refused path: {exc}") from None

    def text_of(self, data: dict, key: str = "text") -> str:
        text = data.get(key)
        if not isinstance(text, str):
            raise _Rejected(400, f"'{key}' must be a string")
        return text

    def _compile_uncached(self, text: str, name: str):
        analysis = analyze(text, name, lint=False, confine=self.root)
        if analysis.policy is None:
            return None, _diagnostics([d for d, _ in analysis.own_diagnostics()], analysis)
        return Policy(analysis.module, analysis.policy), []

    async def compiled(self, text: str, name: str):
        """``(Policy or None, diagnostics)`` for a policy text (recently compiled ones are reused)."""
        return await anyio.to_thread.run_sync(self._compile, text, name, limiter=self.limiter)

    # ---- handlers
    async def index(self, request: Request) -> Response:
        self.guard(request, api=False)
        response = FileResponse(STATIC / "index.html", headers=_HEADERS)
        if self.token is not None:
            response.set_cookie(_COOKIE, self.token, httponly=True, samesite="strict")
        return response

    async def files(self, request: Request) -> Response:
        self.guard(request, api=True)
        return _json({"root": self.root.name, "files": list(policy_files(self.root))})

    async def read_file(self, request: Request) -> Response:
        self.guard(request, api=True)
        path = self.path(request.query_params.get("path"))
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise _Rejected(404, "no such policy file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise _Rejected(400, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
        return _json({"path": request.query_params["path"], "text": text})

    async def write_file(self, request: Request) -> Response:
        self.guard(request, api=True)
        data = await self.body(request)
        path = self.path(data.get("path"))
        text = self.text_of(data)
        if not path.parent.is_dir():
            raise _Rejected(400, "no such folder")
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise _Rejected(400, f"cannot write: {exc.strerror or exc}") from None
        return _json({"saved": data["path"]})

    async def check(self, request: Request) -> Response:
        self.guard(request, api=True)
        data = await self.body(request)
        path, text = self.path(data.get("path")), self.text_of(data)
        analysis = await anyio.to_thread.run_sync(
            lambda: analyze(text, str(path), lint_seconds=LINT_SECONDS, confine=self.root), limiter=self.limiter)
        return _json({"diagnostics": _diagnostics([d for d, _ in analysis.own_diagnostics()], analysis)})

    async def _with_policy(self, request: Request):
        """``(body, Policy, None)`` for a request carrying ``{path, text}``, or ``(body, None, a 422
        response listing why the text does not compile)``."""
        self.guard(request, api=True)
        data = await self.body(request)
        policy, problems = await self.compiled(self.text_of(data), str(self.path(data.get("path"))))
        return data, policy, None if policy is not None else _json({"diagnostics": problems}, 422)

    async def schema(self, request: Request) -> Response:
        _, policy, refusal = await self._with_policy(request)
        if refusal is not None:
            return refusal
        return _json({"schema": policy.json_schema(), "decisions": list(policy.decisions),
                      "facts": {name: str(ftype) for name, ftype in policy.facts.items()},
                      "dated_by": policy.ir.dated_by})

    async def evaluate(self, request: Request) -> Response:
        data, policy, refusal = await self._with_policy(request)
        if refusal is not None:
            return refusal
        facts = data.get("facts")
        if not isinstance(facts, dict):
            return _json({"diagnostics": [{"code": "E305", "severity": "error",
                                           "message": "the facts must be a JSON object"}]}, 422)

        def decide() -> dict:
            decision = policy.evaluate(facts, explain=True)
            return {"decision": decision.decision, "rules": list(decision.rules), "explanation": decision.explain()}
        try:
            return _json(await anyio.to_thread.run_sync(decide, limiter=self.limiter))
        except Error as exc:
            return _json({"diagnostics": _diagnostics(exc.diagnostics)}, 422)

    async def diff(self, request: Request) -> Response:
        self.guard(request, api=True)
        data = await self.body(request)
        between = data.get("between")
        if between is not None and not (isinstance(between, list) and len(between) == 2
                                        and all(isinstance(day, str) for day in between)):
            raise _Rejected(400, "'between' must be two date strings")
        sides = []
        for key in (("old",) if between else ("old", "new")):
            path = self.path(data.get(key))
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                raise _Rejected(404, f"cannot read the {key} policy") from None
            policy, problems = await self.compiled(text, str(path))
            if policy is None:
                return _json({"diagnostics": problems, "side": key}, 422)
            sides.append(policy)
        as_of = data.get("as_of") or None
        if as_of is not None and not isinstance(as_of, str):
            raise _Rejected(400, "'as_of' must be a date string")
        from ..diff import Budget, diff

        if between:
            from ..diff.temporal import between as between_days

            def compare():
                return between_days(sides[0].ir, between[0], between[1], budget=Budget(max_seconds=DIFF_SECONDS))
        else:
            def compare():
                return diff(sides[0].ir, sides[1].ir, as_of=as_of, budget=Budget(max_seconds=DIFF_SECONDS))
        try:
            result = await anyio.to_thread.run_sync(compare, limiter=self.limiter)
        except Error as exc:
            return _json({"diagnostics": _diagnostics(exc.diagnostics)}, 422)
        report = result.to_json()
        if between:        # the witnesses leave out the date: they hold on any transaction dated the later day
            report["dated_by"], report["day"] = sides[0].ir.dated_by, between[1]
        return _json(report)


async def _rejected(request: Request, exc: _Rejected) -> Response:
    return _json({"error": exc.message}, exc.status)


async def _not_found(request: Request, exc) -> Response:
    status = getattr(exc, "status_code", 404)
    return _json({"error": "not found" if status == 404 else "refused"}, status)


def create_app(root: Path, *, token: str | None = None, allowed_hosts: set[str] | None = None) -> Starlette:
    """The studio application for a policy folder (see the module's docstring for its API)."""
    studio = Studio(root, token=token, allowed_hosts=allowed_hosts)

    class _GuardedStatic(StaticFiles):
        async def get_response(self, path: str, scope) -> Response:
            studio.guard(Request(scope), api=False)
            response = await super().get_response(path, scope)
            response.headers.update(_HEADERS)
            return response

    routes = [
        Route("/", studio.index),
        Route("/api/files", studio.files),
        Route("/api/file", studio.read_file, methods=["GET"]),
        Route("/api/file", studio.write_file, methods=["PUT"]),
        Route("/api/check", studio.check, methods=["POST"]),
        Route("/api/schema", studio.schema, methods=["POST"]),
        Route("/api/evaluate", studio.evaluate, methods=["POST"]),
        Route("/api/diff", studio.diff, methods=["POST"]),
        Mount("/static", _GuardedStatic(directory=STATIC, follow_symlink=False)),
    ]
    app = Starlette(routes=routes, exception_handlers={_Rejected: _rejected, 404: _not_found, 405: _not_found})
    app.state.studio = studio
    return app

