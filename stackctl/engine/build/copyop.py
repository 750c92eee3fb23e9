"""COPY and ADD into a step's rootfs (Docker's rules).

* a directory source copies its contents, not itself; a file source lands at
  ``dest`` or, if ``dest`` ends with ``/`` or is an existing directory, at
  ``dest/<name>``; several sources need a directory destination ending in
  ``/``;
* files from the context belong to root (0:0) unless ``--chown``; files from
  another stage or image keep their owners unless ``--chown``; ``--chown``
  names are looked up in the destination image's /etc/passwd and /etc/group;
* ``--chmod`` (octal) applies to every copied entry; modes are kept otherwise;
* symlinks inside a copied tree are copied as symlinks; every destination
  path is resolved inside the rootfs, so a symlink in the image can never
  redirect a write to the host;
* ADD also extracts local tar archives (plain, gzip, bzip2, xz) and fetches
  http(s) URLs, checking ``--checksum`` when given.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import stat
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from stackctl.engine.build.context import BuildContext
from stackctl.engine.build.dockerignore import Matcher, PatternError
from stackctl.engine.build.plan import CopySpec
from stackctl.engine.runtime.rootfs import secure_join
from stackctl.engine.runtime.users import resolve_user
from stackctl.errors import BuildError, StackctlError
from stackctl.lightdc import dataclass

__all__ = ["CopyError", "apply_copy", "is_url"]

_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


class CopyError(BuildError):
    pass


def is_url(src: str) -> bool:
    return src.startswith(("http://", "https://"))


def _is_git(src: str) -> bool:
    base = src.split("#", 1)[0]
    return src.startswith(("git@", "git://")) or (is_url(src) and base.endswith(".git"))


@dataclass(frozen=True)
class _Owner:
    uid: int | None  # None: keep the source's
    gid: int | None


def _owner(spec: CopySpec, rootfs: Path, from_context: bool) -> _Owner:
    if spec.chown:
        try:
            user = resolve_user(rootfs, spec.chown)
        except StackctlError as exc:
            raise CopyError(f"--chown={spec.chown}: {exc.message}", hint=exc.hint) from None
        return _Owner(user.uid, user.gid)
    return _Owner(0, 0) if from_context else _Owner(None, None)


def _mode(spec: CopySpec) -> int | None:
    if not spec.chmod:
        return None
    try:
        mode = int(spec.chmod, 8)
    except ValueError:
        raise CopyError(f"invalid --chmod={spec.chmod}: not an octal mode",
                        hint="write it in octal, e.g. --chmod=0644 or --chmod=755") from None
    if mode > 0o7777:
        raise CopyError(f"invalid --chmod={spec.chmod}: out of range")
    return mode


class _Writer:
    """Writes into ``rootfs`` with every path resolved inside it."""

    def __init__(self, rootfs: Path, owner: _Owner, mode: int | None) -> None:
        self.rootfs, self.owner, self.mode = str(rootfs), owner, mode

    def real(self, path: str) -> str:
        return secure_join(self.rootfs, path)

    def mkdirs(self, path: str) -> None:
        """Create ``path`` and missing parents (0755, owned per --chown)."""
        done = "/"
        for part in [p for p in path.split("/") if p]:
            done = posixpath.join(done, part)
            real = self.real(done)
            if os.path.isdir(real):
                continue
            if os.path.lexists(real):
                os.unlink(real)
            os.mkdir(real, 0o755)
            os.chmod(real, 0o755)
            self._chown(real, 0, 0)

    def _chown(self, real: str, uid: int, gid: int) -> None:
        uid = self.owner.uid if self.owner.uid is not None else uid
        gid = self.owner.gid if self.owner.gid is not None else gid
        os.lchown(real, uid, gid)

    def put(self, dest: str, src: Path, st: os.stat_result) -> None:
        """One entry (file, dir, symlink) from ``src`` at ``dest``."""
        self.mkdirs(posixpath.dirname(dest))
        parent = self.real(posixpath.dirname(dest))
        real = os.path.join(parent, posixpath.basename(dest))
        mode = self.mode if self.mode is not None else stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            if os.path.lexists(real) and not os.path.isdir(real):
                os.unlink(real)
            if not os.path.isdir(real):
                os.mkdir(real)
            os.chmod(real, mode)
        else:
            if os.path.isdir(real) and not os.path.islink(real):
                shutil.rmtree(real)
            elif os.path.lexists(real):
                os.unlink(real)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(src), real)
            elif stat.S_ISREG(st.st_mode):
                shutil.copyfile(src, real, follow_symlinks=False)
                os.chmod(real, mode)
            else:
                return  # sockets, fifos and devices are not copied
        self._chown(real, st.st_uid, st.st_gid)
        if not stat.S_ISLNK(st.st_mode):
            os.utime(real, ns=(st.st_atime_ns, st.st_mtime_ns))

    def put_bytes(self, dest: str, data: bytes, mode: int = 0o644) -> None:
        self.mkdirs(posixpath.dirname(dest))
        real = os.path.join(self.real(posixpath.dirname(dest)), posixpath.basename(dest))
        if os.path.lexists(real) and not os.path.isdir(real):
            os.unlink(real)
        with open(real, "wb") as fh:
            fh.write(data)
        os.chmod(real, self.mode if self.mode is not None else mode)
        self._chown(real, 0, 0)


def _unpacks(spec: CopySpec, remote: bool) -> bool:
    """ADD extracts local archives; a downloaded one only with --unpack."""
    return spec.unpack if spec.unpack is not None else not remote


def _is_archive(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    if head.startswith(_ARCHIVE_MAGIC):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def _fetch(url: str, checksum: str | None, tmp: Path) -> Path:
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "index.html"
    dest = tmp / name
    try:
        with urllib.request.urlopen(url, timeout=30) as resp, open(dest, "wb") as out:
            shutil.copyfileobj(resp, out)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CopyError(f"ADD failed: cannot fetch {url}: {exc}",
                        hint="check the URL and the network; offline, put the file "
                        "in the build context and COPY it") from None
    if checksum:
        algo, _, want = checksum.partition(":")
        if algo != "sha256" or not want:
            raise CopyError(f"--checksum={checksum}: only sha256:<hex> is supported")
        got = hashlib.sha256(dest.read_bytes()).hexdigest()
        if got != want:
            raise CopyError(f"ADD failed: checksum of {url} is sha256:{got}, "
                            f"expected {checksum}")
    return dest


def apply_copy(spec: CopySpec, rootfs: Path, source: BuildContext, *,
               from_context: bool) -> None:
    """Carry out one COPY/ADD into ``rootfs`` (a mounted snapshot)."""
    word = "ADD" if spec.add else "COPY"
    writer = _Writer(rootfs, _owner(spec, rootfs, from_context), _mode(spec))
    try:
        excludes = (Matcher.from_text("\n".join(spec.excludes), file="--exclude")
                    if spec.excludes else None)
    except PatternError as exc:
        raise CopyError(str(exc)) from None
    items: list[tuple[str, Path]] = []
    with tempfile.TemporaryDirectory(prefix="stackctl-add-") as tmpname:
        for src in spec.sources:
            if spec.add and _is_git(src):
                raise CopyError(f"ADD {src}: adding git repositories is not supported",
                                hint="clone it into the build context and COPY it")
            if spec.add and is_url(src):
                items.append(("url", _fetch(src, spec.checksum, Path(tmpname))))
                continue
            matches = source.expand(src, instruction=word)
            if not matches:
                where = "the build context" if from_context else f"--from={spec.from_}"
                raise CopyError(f"{word} failed: {src}: not found in {where}"
                                + (" (or excluded by .dockerignore)" if from_context else ""),
                                hint="check the path; sources are relative to the context")
            items += [(rel, source.resolve(rel)) for rel in matches]
        # Several source arguments need a directory destination; one wildcard
        # matching several files makes the destination a directory.
        several = len(spec.sources) + len(spec.contents) > 1
        dest = spec.dest
        dest_real = secure_join(str(rootfs), dest)
        into_dir = dest.endswith("/") or os.path.isdir(dest_real)
        if several and not into_dir:
            raise CopyError(f"When using {word} with more than one source file, the "
                            "destination must be a directory and end with a /",
                            hint=f"write the destination as {dest}/")
        into_dir = into_dir or len(items) > 1
        dest = dest.rstrip("/") or "/"
        for rel, real in items:
            st = os.stat(real)
            if stat.S_ISDIR(st.st_mode):
                writer.mkdirs(dest)
                _copy_tree(writer, source, rel, dest, excludes)
            elif excludes is not None and excludes.ignored(posixpath.basename(rel)):
                continue  # --exclude applies to the files a source names too
            elif spec.add and _unpacks(spec, rel == "url") and _is_archive(real):
                writer.mkdirs(dest)
                _extract(real, dest, rootfs, spec, Path(tmpname))
            else:
                name = real.name if rel == "url" else posixpath.basename(rel) or real.name
                target = posixpath.join(dest, name) if into_dir else dest
                writer.put(target, real, st)
        for name, data in spec.contents:
            target = posixpath.join(dest, name) if into_dir else dest
            writer.put_bytes(target, data.encode("utf-8", "surrogateescape"))


def _copy_tree(writer: _Writer, source: BuildContext, rel: str, dest: str,
               excludes: Matcher | None) -> None:
    prefix = rel + "/" if rel else ""
    for path_rel, real in source.walk(rel):
        if path_rel == rel:
            continue
        inner = path_rel[len(prefix):]
        if excludes is not None and excludes.ignored(inner):
            continue
        writer.put(posixpath.join(dest, inner), real, os.lstat(real))


def _extract(archive: Path, dest: str, rootfs: Path, spec: CopySpec, tmp: Path) -> None:
    """Unpack a local archive into ``dest``: entries keep the archive's owners
    unless ``--chown``; ``--chmod`` applies to each."""
    from stackctl.engine.images import tarsafe

    staging = tmp / f"unpack-{len(list(tmp.iterdir()))}"
    tarsafe.extract(archive, staging, whiteouts="keep", devices="skip")
    owner = _owner(spec, rootfs, from_context=False)
    writer = _Writer(rootfs, owner, _mode(spec))
    _copy_tree(writer, BuildContext(staging), "", dest, None)
