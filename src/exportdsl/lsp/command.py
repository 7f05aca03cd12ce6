"""The ``exportdsl lsp`` command: its registration in the command line and its entry point."""

from __future__ import annotations

from ..errors import Diagnostic, UsageError


def needs_extra(extra: str, *modules: str) -> None:
    """Raise E420 naming the extra to install when one of ``modules`` cannot be imported."""
    import importlib.util

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(Diagnostic("E420", f"this command needs {', '.join(missing)}, which is not installed",
                                    help=f"pip install 'exportdsl[{extra}]'"))


def cmd_lsp(args) -> int:
    """Serve the Language Server Protocol over standard input and output."""
    needs_extra("lsp", "pygls", "lsprotocol")
    from .server import main

    main()
    return 0


def register(sub) -> None:
    """Add the ``lsp`` subcommand to the command line's subparsers."""
    lsp = sub.add_parser("lsp", help="run the language server (LSP over standard input/output; "
                                     "needs the 'lsp' extra)",
                         description="Run the exportdsl language server over standard input and output, for "
                                     "editors: diagnostics as you type, hover, go to definition, references, "
                                     "outline, completion, formatting and quick fixes.")
    lsp.add_argument("--stdio", action="store_true", help="use standard input/output (the default and only transport)")
    lsp.set_defaults(run=cmd_lsp)
