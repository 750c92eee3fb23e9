"""A stand-in for the monitor in tests: a child subreaper that runs one command
(`launch run --detach ...`), then reaps the detached container when it ends.

Prints JSON lines: {"launcher": rc} once the command returns, then
{"pid": P, "status": S} for every process it reaps; exits when none are left.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36

if __name__ == "__main__":
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    rc = subprocess.call(sys.argv[1:])
    print(json.dumps({"launcher": rc}), flush=True)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        print(json.dumps({"pid": pid, "status": os.waitstatus_to_exitcode(status)}), flush=True)
