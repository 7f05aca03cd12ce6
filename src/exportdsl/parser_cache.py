"""Where the parser's LALR tables are cached between processes: a file in a private user cache folder.

Lark saves its analysed grammar as a pickle, and loading a pickle runs whatever it says, so the
cache is only used where no other user can write: ``$XDG_CACHE_HOME/exportdsl`` (else
``~/.cache/exportdsl``), created with mode 0700, owned by the current user and closed to group and
others; the file itself must be a regular file owned by the user. Anything else (another owner, a
folder others can write, a symbolic link, no home, Windows, ``EXPORTDSL_NO_PARSER_CACHE`` set)
disables the cache: the tables are then built in memory as before, just slower. The file name holds
a digest of the grammar and the versions of Lark and Python, and Lark checks the grammar's digest again.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys


def private_cache_file(grammar: str, lark_version: str) -> str | None:
    """The cache file for this grammar, or None when no private place is available."""
    if os.environ.get("EXPORTDSL_NO_PARSER_CACHE") or not hasattr(os, "getuid"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    folder = os.path.join(base, "exportdsl")
    uid = os.getuid()
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
        return None
    digest = hashlib.sha256(f"{grammar}\0{lark_version}\0{sys.version}".encode()).hexdigest()[:32]
    path = os.path.join(folder, f"grammar-{digest}.lalr")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_uid != uid:
        return None
    return path
