"""Safe extraction against a corpus of hostile archives built here, plus whiteout forms.

Every hostile case is extracted into ``dest`` inside a sandbox directory that
also holds a ``victim`` file and an ``outside`` dir: the test asserts both are
untouched and nothing appeared outside ``dest``, whether or not the extractor
raised.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from stackctl.engine.images import tarsafe
from stackctl.errors import ImageError

Entry = Callable[[tarfile.TarFile], None]


def reg(name: str, data: bytes = b"x", mode: int = 0o644, **kw: object) -> Entry:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), mode
        for k, v in kw.items():
            setattr(info, k, v)
        tar.addfile(info, io.BytesIO(data))
    return add


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Entry:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, target
        tar.addfile(info)
    return add


def special(name: str, kind: bytes, major: int = 0, minor: int = 0) -> Entry:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.devmajor, info.devminor, info.mode = kind, major, minor, 0o600
        tar.addfile(info)
    return add


def dir_(name: str, mode: int = 0o755) -> Entry:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, mode
        tar.addfile(info)
    return add


def make_tar(*entries: Entry) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            e(tar)
    return buf.getvalue()


def snapshot(base: Path, skip: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirs, files in os.walk(base):
        if Path(dirpath) == skip or skip in Path(dirpath).parents:
            continue
        for name in dirs + files:
            p = Path(dirpath) / name
            if p == skip:
                continue
            st = p.lstat()
            out[str(p)] = (st.st_mode, st.st_size)
    return out


HOSTILE: dict[str, tuple[Entry, ...]] = {
    "dotdot": (reg("../victim", b"pwned"),),
    "dotdot-deep": (reg("a/b/../../../victim", b"pwned"),),
    "dotdot-dir": (dir_("../outside/new"),),
    "symlink-parent-abs": (link("a", "/"), reg("a/tmp/pwned")),
    "symlink-parent-out": (link("a", "../outside"), reg("a/pwned")),
    "symlink-then-file-through": (link("etc", "../outside"), reg("etc/passwd", b"pwned")),
    "symlink-chain": (link("a", "b"), link("b", "../outside"), reg("a/pwned")),
    "hardlink-out": (link("h", "../victim", tarfile.LNKTYPE),),
    "hardlink-abs": (link("h", "/etc/passwd", tarfile.LNKTYPE),),
    "hardlink-via-symlink": (link("s", "../victim"), link("h", "s/x", tarfile.LNKTYPE)),
    "symlink-dir-replaced": (dir_("d"), link("d", "../outside"), reg("d/pwned")),
    "whiteout-out": (reg("../.wh.victim"),),
    "whiteout-via-symlink": (link("s", "../outside"), reg("s/.wh.keep")),
    "opaque-via-symlink": (link("s", "../outside"), reg("s/.wh..wh..opq")),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("whiteouts", ["overlay", "apply", "keep"])
def test_hostile_archive_never_escapes(tmp_path: Path, case: str, whiteouts: str) -> None:
    (tmp_path / "victim").write_text("safe")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "keep").write_text("safe")
    dest = tmp_path / "dest"
    dest.mkdir()
    before = snapshot(tmp_path, dest)
    with pytest.raises(ImageError) as err:
        tarsafe.extract(io.BytesIO(make_tar(*HOSTILE[case])), dest,
                        whiteouts=whiteouts)  # type: ignore[arg-type]
    assert "archive" in err.value.message
    assert snapshot(tmp_path, dest) == before
    assert (tmp_path / "victim").read_text() == "safe"
    assert (tmp_path / "outside" / "keep").read_text() == "safe"


def test_absolute_names_land_inside(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    tarsafe.extract(io.BytesIO(make_tar(reg("/etc/abs", b"in"), reg("./rel/./x", b"y"))), dest)
    assert (dest / "etc" / "abs").read_bytes() == b"in"
    assert (dest / "rel" / "x").read_bytes() == b"y"


def test_symlinks_pointing_anywhere_are_stored_not_followed(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    tarsafe.extract(io.BytesIO(make_tar(
        link("abs", "/etc/passwd"), link("rel", "../../../../etc/shadow"),
        link("abs", "/elsewhere"),  # replaced by a later entry: no follow
        reg("rel", b"file replaces link"),
    )), dest)
    assert os.readlink(dest / "abs") == "/elsewhere"
    assert (dest / "rel").read_bytes() == b"file replaces link"
    assert not (dest / "rel").is_symlink()


def test_modes_owners_times_links(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    tarsafe.extract(io.BytesIO(make_tar(
        dir_("ro", 0o555), reg("ro/f", b"data", 0o4755, uid=1000, gid=50, mtime=1000),
        link("ro/hard", "ro/f", tarfile.LNKTYPE), special("fifo", tarfile.FIFOTYPE),
        reg("dup", b"one"), reg("dup", b"two"),
    )), dest)
    f = (dest / "ro" / "f").stat()
    assert stat.S_IMODE(f.st_mode) == 0o4755
    if os.geteuid() == 0:
        assert (f.st_uid, f.st_gid) == (1000, 50)
    assert f.st_mtime == 1000 and f.st_nlink == 2
    assert (dest / "ro" / "hard").stat().st_ino == f.st_ino
    assert stat.S_IMODE((dest / "ro").stat().st_mode) == 0o555
    assert stat.S_ISFIFO((dest / "fifo").lstat().st_mode)
    assert (dest / "dup").read_bytes() == b"two"


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_device_policy(tmp_path: Path) -> None:
    data = make_tar(special("dev/null", tarfile.CHRTYPE, 1, 3))
    tarsafe.extract(io.BytesIO(data), tmp_path / "a", devices="allow")
    st = (tmp_path / "a" / "dev" / "null").lstat()
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1
    stats = tarsafe.extract(io.BytesIO(data), tmp_path / "b", devices="skip")
    assert stats.skipped == ["dev/null"] and not (tmp_path / "b" / "dev" / "null").exists()
    with pytest.raises(ImageError, match="device node"):
        tarsafe.extract(io.BytesIO(data), tmp_path / "c", devices="error")


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteout devices and trusted xattrs need root")
def test_whiteouts_overlay_form(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    stats = tarsafe.extract(io.BytesIO(make_tar(
        dir_("etc"), reg("etc/.wh.gone"), dir_("opq"), reg("opq/.wh..wh..opq"),
        reg("opq/new"), reg(".wh..wh.plnk"),
    )), dest, whiteouts="overlay")
    st = (dest / "etc" / "gone").lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(dest / "opq", "trusted.overlay.opaque") == b"y"
    assert (dest / "opq" / "new").exists()
    assert not (dest / ".wh..wh.plnk").exists() and not (dest / "plnk").exists()
    assert stats.whiteouts == 3


def test_whiteouts_apply_form(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    tarsafe.extract(io.BytesIO(make_tar(
        reg("etc/gone"), reg("etc/kept"), reg("opq/old"), reg("opq/sub/old2"),
    )), dest, whiteouts="apply")
    tarsafe.extract(io.BytesIO(make_tar(
        reg("etc/.wh.gone"), dir_("opq"), reg("opq/mine"), reg("opq/.wh..wh..opq"),
    )), dest, whiteouts="apply")
    assert not (dest / "etc" / "gone").exists() and (dest / "etc" / "kept").exists()
    assert sorted(os.listdir(dest / "opq")) == ["mine"]


def test_whiteouts_kept_as_files(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    tarsafe.extract(io.BytesIO(make_tar(reg(".wh.x"))), dest, whiteouts="keep")
    assert (dest / ".wh.x").is_file()


@pytest.mark.parametrize("data", [b"", b"garbage" * 100, make_tar(reg("a", b"x" * 5000))[:900]])
def test_broken_archives(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ImageError):
        tarsafe.extract(io.BytesIO(data), tmp_path / "d")


def test_xattrs_and_no_overlay_injection(tmp_path: Path) -> None:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("f")
        info.pax_headers = {"SCHILY.xattr.user.note": "hello",
                            "SCHILY.xattr.trusted.overlay.opaque": "y"}
        tar.addfile(info, io.BytesIO(b""))
    dest = tmp_path / "d"
    tarsafe.extract(io.BytesIO(make_tar(add)), dest)
    names = os.listxattr(dest / "f")
    assert "trusted.overlay.opaque" not in names
    try:
        assert os.getxattr(dest / "f", "user.note") == b"hello"
    except OSError:
        pytest.skip("user xattrs not supported on this filesystem")


def test_os_errors_name_the_entry(tmp_path: Path) -> None:
    # a hardlink to a directory: link(2) refuses it
    with pytest.raises(ImageError) as err:
        tarsafe.extract(io.BytesIO(make_tar(dir_("d"), link("h", "d", tarfile.LNKTYPE))),
                        tmp_path / "x")
    assert "'h'" in err.value.message


@pytest.mark.skipif(os.geteuid() != 0, reason="security.* xattrs need root")
def test_binary_xattrs_round_trip_through_a_layer(tmp_path: Path) -> None:
    from stackctl.engine.images.diff import write_layer

    src = tmp_path / "src"
    src.mkdir()
    f = src / "ping"
    f.write_bytes(b"x")
    caps = bytes.fromhex("0100000220000000000000000000000000000000")
    os.setxattr(f, "security.capability", caps)
    os.setxattr(f, "user.bin", b"\xff\xfe\x00\x01")
    buf = io.BytesIO()
    write_layer(src, buf)
    buf.seek(0)
    tarsafe.extract(buf, tmp_path / "dst")
    g = tmp_path / "dst" / "ping"
    assert os.getxattr(g, "security.capability") == caps
    assert os.getxattr(g, "user.bin") == b"\xff\xfe\x00\x01"
