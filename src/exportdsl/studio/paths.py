"""Confines the studio's file accesses to the folder it serves.

A requested path is refused (never read, never written) unless it is a relative POSIX path of
plain names ending in ``.xpol`` that, once symlinks and ``..`` are resolved, lies inside the
folder: absolute paths, drive letters, backslashes, NUL and other control characters,
percent-encoded text, ``..`` and hidden names (``.git``) are all refused before the file system
is touched, and the resolved path is checked again after.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

#: Longest path (characters) a request may name.
MAX_PATH_CHARS = 512
#: Most policy files listed.
MAX_LISTED = 2000

_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f%\\:]")


class Refused(Exception):
    """A path outside the folder served, or one the studio never touches."""


def confined(root: Path, relative: object) -> Path:
    """The resolved path of ``relative`` inside ``root`` (itself resolved), or :class:`Refused`."""
    if not isinstance(relative, str) or not relative or len(relative) > MAX_PATH_CHARS:
        raise Refused("not a path")
    if _FORBIDDEN.search(relative) or relative.startswith("/"):
        raise Refused("not a plain relative path")
    parts = PurePosixPath(relative).parts
    if any(part in ("..", ".") or part.startswith(".") for part in parts):
        raise Refused("a hidden or parent folder")
    if not relative.endswith(".xpol"):
        raise Refused("not a policy file (.xpol)")
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or candidate == root:
        raise Refused("outside the folder served")
    return candidate


def policy_files(root: Path) -> Iterator[str]:
    """The ``.xpol`` files under ``root`` (relative POSIX paths, sorted), skipping hidden folders
    and links that lead outside it."""
    found = 0
    for path in sorted(root.rglob("*.xpol")):
        relative = path.relative_to(root).as_posix()
        try:
            confined(root, relative)
        except Refused:
            continue
        yield relative
        found += 1
        if found >= MAX_LISTED:
            return
