"""Resolves ``extends``: a policy is its base's declarations followed by its own (files read relative to it)."""

from __future__ import annotations

import errno
import os

from . import ast
from .errors import CheckError, Diagnostic, ParseError
from .parser import parse, read_policy_file
from .source import Source

#: Longest chain of ``extends`` a policy may build on.
MAX_EXTENDS_DEPTH = 16

# Paths are strings handled with os.path (not pathlib, whose import costs more than resolving a
# policy's extends): resolved as Path.resolve() resolves them, a symlink loop included.


def _base_dir(module: ast.Module) -> str:
    name = module.span.source.name if module.span is not None else "<string>"
    if name.startswith("<"):
        return os.getcwd()
    return os.path.dirname(name)


def _resolved(path: str) -> str:
    """The absolute path with symlinks and ``..`` resolved (``Path.resolve()``: a symlink loop raises
    RuntimeError, other errors OSError or ValueError)."""
    found = os.path.realpath(path)
    try:
        os.stat(found)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RuntimeError(f"Symlink loop from {exc.filename!r}") from None
    return found


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` lies in ``folder`` (both resolved): ``PurePath.is_relative_to``."""
    prefix = folder.rstrip(os.sep) + os.sep
    return path == folder or path + os.sep == prefix or path.startswith(prefix)


def resolve(module: ast.Module, _chain: tuple[str, ...] = (), *,
            confine: str | os.PathLike | None = None) -> ast.Module:
    """The module with its ``extends`` replaced by the (recursively resolved) base declarations.

    The base's ``policy`` header is dropped when the module has its own. Spans keep pointing into
    the file each declaration came from, so diagnostics name the right file. With ``confine`` (a
    resolved folder), a base outside that folder (after resolving symlinks and ``..``) is refused
    with E421 before anything is read.
    """
    extends = [d for d in module.decls if isinstance(d, ast.ExtendsDecl)]
    if not extends:
        return module
    if len(extends) > 1:
        raise CheckError(Diagnostic("E208", "more than one 'extends' declaration", extends[1].span,
                                    help="a policy builds on one base; let the base extend another"))
    decl = extends[0]
    chain = (*_chain, _own_path(module))
    if "\0" in decl.path:
        raise CheckError(Diagnostic("E104", f"cannot read base policy {decl.path!r}: the path contains a NUL "
                                    "character", decl.span))
    try:
        path = _resolved(os.path.join(_base_dir(module), decl.path))
    except (OSError, RuntimeError, ValueError) as exc:
        raise CheckError(Diagnostic("E104", f"cannot read base policy {decl.path!r}: {exc}", decl.span)) from None
    if path in chain:
        cycle = " -> ".join(os.path.basename(p) for p in (*chain[chain.index(path):], path))
        raise CheckError(Diagnostic("E213", f"policies extend each other in a cycle: {cycle}", decl.span))
    if len(chain) > MAX_EXTENDS_DEPTH:
        raise CheckError(Diagnostic("E213", f"'extends' chain longer than {MAX_EXTENDS_DEPTH} files", decl.span))
    if confine is not None and not _inside(path, os.fspath(confine)):
        raise CheckError(Diagnostic("E421", f"base policy '{decl.path}' is outside the folder being served",
                                    decl.span, help="extend only policies inside that folder"))
    text = read_policy_file(path, label="base policy", span=decl.span, error=CheckError, regular_only=True)
    try:
        parsed = parse(Source(_display(path), text))
    except ParseError as exc:
        # Quote nothing of a file that does not even parse: it may be no policy at all (/etc/passwd).
        first = exc.diagnostics[0]
        where = f" at line {first.span.line}, column {first.span.column}" if first.span is not None else ""
        raise CheckError(Diagnostic(
            first.code, f"base policy {decl.path!r} does not parse: error {first.code}{where}", decl.span,
            help=f"check it on its own: exportdsl check {_display(path)}")) from None
    base = resolve(parsed, chain, confine=confine)
    own = [d for d in module.decls if not isinstance(d, ast.ExtendsDecl)]
    has_header = any(isinstance(d, ast.PolicyDecl) for d in own)
    inherited = [d for d in base.decls if not (has_header and isinstance(d, ast.PolicyDecl))]
    own_source = module.span.source if module.span is not None else None
    base_chain = base.chain or ((base.span.source,) if base.span is not None else ())
    return ast.Module((*inherited, *own), comments=module.comments, span=module.span,
                      warnings=(*base.warnings, *module.warnings),
                      chain=(own_source, *base_chain) if own_source is not None else base_chain)


def _own_path(module: ast.Module) -> str:
    name = module.span.source.name if module.span is not None else "<string>"
    return _resolved(name) if not name.startswith("<") else name


def _display(path: str) -> str:
    """A resolved path relative to the working folder when it lies inside it (``PurePath.relative_to``)."""
    cwd = os.getcwd()
    if path == cwd:
        return "."
    return path[len(cwd.rstrip(os.sep)) + 1:] if _inside(path, cwd) else path
