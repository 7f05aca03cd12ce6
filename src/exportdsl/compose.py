"""Resolves ``extends``: a policy is its base's declarations followed by its own (files read relative to it)."""

from __future__ import annotations

from pathlib import Path

from . import ast
from .errors import CheckError, Diagnostic, ParseError
from .parser import parse, read_policy_file
from .source import Source

#: Longest chain of ``extends`` a policy may build on.
MAX_EXTENDS_DEPTH = 16


def _base_dir(module: ast.Module) -> Path:
    name = module.span.source.name if module.span is not None else "<string>"
    if name.startswith("<"):
        return Path.cwd()
    return Path(name).parent


def resolve(module: ast.Module, _chain: tuple[Path, ...] = (), *, confine: Path | None = None) -> ast.Module:
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
        path = (_base_dir(module) / decl.path).resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise CheckError(Diagnostic("E104", f"cannot read base policy {decl.path!r}: {exc}", decl.span)) from None
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain[chain.index(path):], path))
        raise CheckError(Diagnostic("E213", f"policies extend each other in a cycle: {cycle}", decl.span))
    if len(chain) > MAX_EXTENDS_DEPTH:
        raise CheckError(Diagnostic("E213", f"'extends' chain longer than {MAX_EXTENDS_DEPTH} files", decl.span))
    if confine is not None and not path.is_relative_to(confine):
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


def _own_path(module: ast.Module) -> Path:
    name = module.span.source.name if module.span is not None else "<string>"
    return Path(name).resolve() if not name.startswith("<") else Path(name)


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
