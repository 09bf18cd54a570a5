"""Print exact versions of every runtime dependency of the installed manufacturing_assets
(no extras), for deploy/constraints.txt:

    pip install -e . && python deploy/lock.py > deploy/constraints.txt
"""

from __future__ import annotations

import importlib.metadata as md
import platform
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

MARKERS = {
    "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
    "python_full_version": platform.python_version(),
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def pins(root: str = "manufacturing_assets") -> dict[str, str]:
    seen: dict[tuple[str, tuple[str, ...]], str] = {}
    todo: list[tuple[str, tuple[str, ...]]] = [(raw, ()) for raw in md.requires(root) or []]
    while todo:
        raw, extras = todo.pop()
        req = Requirement(raw)
        if req.marker is not None and not any(
            req.marker.evaluate({**MARKERS, "extra": e}) for e in (extras or ("",))
        ):
            continue
        key = (canonicalize_name(req.name), tuple(sorted(req.extras)))
        if key in seen:
            continue
        dist = md.distribution(req.name)
        seen[key] = dist.version
        todo += [(sub, tuple(req.extras)) for sub in dist.requires or []]
    return {name: version for (name, _), version in sorted(seen.items())}


if __name__ == "__main__":
    print("# Exact versions of every runtime dependency of manufacturing_assets (no extras), for")
    print(
        "# deploy/Dockerfile (pip install -c). The versions the test suite runs with (Python 3.11,"
    )
    print("# linux/x86_64). Regenerate after changing pyproject.toml: see deploy/README.md.")
    for name, version in pins().items():
        print(f"{name}=={version}")
