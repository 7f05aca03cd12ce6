"""STUDY: a hatchling build hook that compiles exportdsl's optional C validator (option (a)).

Wheel (``pip install .``, ``python -m build``): compiles src/exportdsl/backends/_xpolcheck.c with
the building interpreter's headers into the package, marks the wheel platform-specific
(``pure_python = False``, tag inferred: cp311-cp311-linux_x86_64). Editable (``pip install -e .``):
compiles it in place next to the source (the editable install imports from src/). No compiler, no
headers, or EXPORTDSL_PURE=1: a warning, and a pure-Python wheel (the generated checks are used).
"""

import os
import subprocess
import sysconfig
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        if self.target_name != "wheel" or os.environ.get("EXPORTDSL_PURE"):
            return
        package = Path(self.root, "src", "exportdsl", "backends")
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        target = package / f"_xpolcheck{suffix}"
        compiler = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0]
        command = [compiler, "-shared", "-fPIC", "-O2", "-Wall", f"-I{sysconfig.get_paths()['include']}",
                   str(package / "_xpolcheck.c"), "-o", str(target)]
        try:
            subprocess.run(command, check=True, timeout=300, capture_output=True, text=True)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            self.app.display_warning(f"exportdsl: C validator not built, pure-Python checks used ({detail})")
            target.unlink(missing_ok=True)
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(target)] = f"exportdsl/backends/_xpolcheck{suffix}"
