"""docker's confirmation prompt (``prune`` without ``-f``). Standard library only."""

from __future__ import annotations

import sys


def confirm(message: str) -> bool:
    """``MESSAGE [y/N] `` and one line of answer: only y or yes (any case) is a yes;
    anything else, or no input at all, is a no (docker's PromptForConfirmation). The
    caller exits 0 on a no: declining is not an error."""
    sys.stdout.write(f"{message} [y/N] ")
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


__all__ = ["confirm"]
