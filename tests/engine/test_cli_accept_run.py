"""run/create as a Docker user expects them, beyond the flags reaching the container:
the options Docker gives a mount by default."""

from __future__ import annotations

import pytest

from tests.engine.conftest import Cli

pytestmark = pytest.mark.kernel


def test_tmpfs_is_noexec_unless_asked(cli: Cli) -> None:
    # docker mounts --tmpfs (and --mount type=tmpfs) noexec,nosuid,nodev; "exec" undoes it
    script = 'cp /bin/busybox /t/ && /t/busybox true; echo "rc=$?"; grep " /t " /proc/mounts'
    res = cli("run", "--rm", "--network", "none", "--tmpfs", "/t", "busybox", "sh", "-c",
              script)
    assert res.stdout.startswith("rc=126\n"), res.stdout + res.stderr
    assert "nosuid,nodev,noexec" in res.stdout
    res = cli("run", "--rm", "--network", "none", "--mount", "type=tmpfs,target=/t",
              "busybox", "sh", "-c", script)
    assert res.stdout.startswith("rc=126\n") and "noexec" in res.stdout
    res = cli("run", "--rm", "--network", "none", "--tmpfs", "/t:exec,mode=1777", "busybox",
              "sh", "-c", script)
    assert res.stdout.startswith("rc=0\n") and "noexec" not in res.stdout
