"""Global options shared by every command, resolved once in the app callback."""

from __future__ import annotations

import os
from pathlib import Path

from stackctl.lightdc import dataclass

DEFAULT_ROOT = "/var/lib/stackctl"
DEFAULT_RUN_ROOT = "/run/stackctl"


@dataclass(frozen=True)
class GlobalOptions:
    root: Path
    run_root: Path
    debug: bool = False

    @classmethod
    def resolve(cls, root: str | None, run_root: str | None, debug: bool) -> GlobalOptions:
        return cls(
            root=Path(root or os.environ.get("STACKCTL_ROOT") or DEFAULT_ROOT),
            run_root=Path(run_root or os.environ.get("STACKCTL_RUN_ROOT") or DEFAULT_RUN_ROOT),
            debug=debug or os.environ.get("STACKCTL_DEBUG", "") not in ("", "0"),
        )
