"""Overlay roots on the real kernel, including more layers than one page of options."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.engine.runtime.mounts import MOUNT_DATA_MAX, mount_all, prepare_rootfs, unmount_all
from stackctl.engine.runtime.syscalls import LinuxSyscalls

pytestmark = pytest.mark.kernel


@pytest.mark.parametrize("layers", [3, 50, 120])
def test_overlay_with_many_long_layer_paths(tmp_path: Path, layers: int) -> None:
    base = tmp_path / ("state-root-with-a-long-name" * 3) / "layers" / "sha256"
    lowers = []
    for i in range(layers):
        d = base / f"{i:064x}" / "diff"
        d.mkdir(parents=True)
        (d / f"only-in-{i}").write_text(str(i))
        (d / "shared").write_text(str(i))
        lowers.append(str(d))
    lowers.reverse()  # top layer first
    upper, work, target = tmp_path / "up", tmp_path / "work", tmp_path / "rootfs"
    for d in (upper, work, target):
        d.mkdir()
    plan = prepare_rootfs(lowers, str(upper), str(work), str(target))
    if layers == 120:
        assert plan[0].fsconfig and plan[0].data is None  # beyond one page, even relative
    elif layers == 50:
        assert plan[0].cwd is not None and len(plan[0].data or "") <= MOUNT_DATA_MAX
    sys_ = LinuxSyscalls()
    mount_all(plan, sys_)
    try:
        assert (target / "shared").read_text() == str(layers - 1)  # the top layer wins
        assert all((target / f"only-in-{i}").exists() for i in range(layers))
        (target / "new").write_text("x")
        assert (upper / "new").read_text() == "x"  # writes go to the upper layer
    finally:
        unmount_all(plan, sys_)
    assert not (target / "shared").exists()
