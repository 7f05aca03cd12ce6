"""The ``exportdsl studio`` command: its registration, and serving the app with uvicorn.

Binds 127.0.0.1 by default, and then only accepts ``Host`` headers naming the loopback address.
Any other ``--host`` makes the studio require a random token, printed at start in the URL to open.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import Diagnostic, UsageError
from ..lsp.command import needs_extra


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: an ephemeral one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(Diagnostic("E422", f"cannot listen on {host}:{port}: {exc.strerror or exc}")) from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def make_server(folder: str | Path, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None):
    """``(uvicorn.Server, socket, url)`` for the studio on ``folder``; run it with
    ``server.run(sockets=[socket])``. A token is made when ``host`` is not loopback."""
    import uvicorn

    from .app import create_app

    root = Path(folder)
    if not root.is_dir():
        raise UsageError(Diagnostic("E422", f"no such policy folder: {str(folder)!r}"))
    sock = bind(host, port)
    port = sock.getsockname()[1]
    loopback = _is_loopback(host)
    if not loopback and token is None:
        token = secrets.token_urlsafe(24)
    allowed = {f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")} if loopback else None
    app = create_app(root, token=token, allowed_hosts=allowed)
    config = uvicorn.Config(app, log_level="warning", timeout_keep_alive=5, limit_concurrency=64,
                            h11_max_incomplete_event_size=64 * 1024, server_header=False, lifespan="off")
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host == 'localhost' else shown}:{port}/" + (f"?token={token}" if token else "")
    return uvicorn.Server(config), sock, url


@contextlib.contextmanager
def running(folder: str | Path, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None,
            start_seconds: float = 10.0) -> Iterator[str]:
    """Run the studio in a background thread for the ``with`` block; yields its URL, and always
    stops the server (and closes its socket) on the way out."""
    server, sock, url = make_server(folder, host, port, token=token)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="exportdsl-studio")
    thread.start()
    try:
        deadline = time.monotonic() + start_seconds
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            raise UsageError(Diagnostic("E422", "the studio did not start"))
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def cmd_studio(args) -> int:
    """Serve the studio until interrupted."""
    needs_extra("studio", "starlette", "uvicorn")
    server, sock, url = make_server(args.folder, args.host, args.port)
    print(f"exportdsl studio: serving {args.folder} at {url}  (Ctrl-C to stop)", file=sys.stderr, flush=True)
    if "?token=" in url:
        print("the studio is reachable beyond this machine: anyone with this URL (and its token) can edit "
              "the policies in the folder", file=sys.stderr, flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


def register(sub) -> None:
    """Add the ``studio`` subcommand to the command line's subparsers."""
    studio = sub.add_parser("studio", help="a local web app to edit, try and compare policies (needs the "
                                           "'studio' extra)",
                            description="Serve a local web studio on the policy folder: edit with live "
                                        "diagnostics, try transactions in a generated form, compare versions. "
                                        "It reads and writes only .xpol files inside the folder.")
    studio.add_argument("folder", nargs="?", default=".", metavar="POLICY_DIR",
                        help="the folder of policies to serve (default: the current folder)")
    studio.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1); any other than loopback requires a token, "
                             "printed at start")
    studio.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    studio.set_defaults(run=cmd_studio)
