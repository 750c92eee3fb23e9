"""Offline test images: a busybox rootfs tarball built from Debian's busybox-static.

``busybox_rootfs_tar()`` returns the path of a cached tarball (built once per
machine under .cache/), a complete small root filesystem: /bin/busybox with
every applet as a symlink, /etc/passwd and /etc/group with root, nobody and a
``app`` user (uid 1000), and the usual empty directories. ``tar_bytes`` makes
small in-memory archives (layers, or archives of files) for tests.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
wheel:x:10:app
app:x:1000:
nogroup:x:65534:
"""


def _busybox() -> Path:
    for cand in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(cand):
            return Path(cand)
    found = shutil.which("busybox")
    if not found:
        raise RuntimeError("busybox not found: apt-get install busybox-static")
    return Path(found)


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = 0
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def build_busybox_rootfs(dest: Path) -> None:
    bb = _busybox()
    applets = subprocess.run(
        [str(bb), "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    tmp = dest.with_suffix(f".tmp{os.getpid()}")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "home",
                  "home/app", "dev", "proc", "sys", "run", "var", "var/log", "mnt"):
            _add_dir(tar, d)
        _add_dir(tar, "tmp", 0o1777)
        _add_dir(tar, "root", 0o700)
        _add_file(tar, "bin/busybox", bb.read_bytes(), 0o755)
        for applet in applets:
            if applet in ("bin/busybox", "linuxrc"):
                continue
            info = tarfile.TarInfo(applet)
            info.type = tarfile.SYMTYPE
            info.linkname = "/bin/busybox"
            info.mtime = 0
            tar.addfile(info)
        _add_file(tar, "etc/passwd", PASSWD.encode())
        _add_file(tar, "etc/group", GROUP.encode())
        _add_file(tar, "etc/hostname", b"busybox\n")
        _add_file(tar, "etc/os-release", b'NAME="busybox"\nID=busybox\n')
    os.replace(tmp, dest)


def busybox_rootfs_tar() -> Path:
    """Path of the cached busybox rootfs tarball, building it when missing."""
    CACHE.mkdir(exist_ok=True)
    dest = CACHE / "busybox-rootfs.tar"
    bb = _busybox()
    if not dest.exists() or dest.stat().st_mtime < bb.stat().st_mtime:
        build_busybox_rootfs(dest)
        os.utime(dest, (time.time(), time.time()))
    return dest


def tar_bytes(files: dict[str, bytes]) -> bytes:
    """An uncompressed tar of regular files, in the given order, with tarfile's defaults."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
