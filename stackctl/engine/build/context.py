"""The build context: a directory seen through .dockerignore, never escaped.

* ``walk`` lists the context without following symlinks (a symlink is sent as
  a symlink, whatever it points at);
* ``resolve`` turns a COPY/ADD source into a real path inside the context,
  following symlinks as if the context were the root directory, so a link
  to ``/etc`` or ``../..`` lands inside the context, never outside;
* a source that leaves the context lexically (``../x``) is an error;
* ``digest`` hashes sources by content, mode, owner and symlink target, not
  by mtime, so the build cache survives a fresh checkout.
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from stackctl.engine.build.dockerignore import Matcher, PatternError
from stackctl.engine.runtime.securejoin import secure_join
from stackctl.errors import BuildError
from stackctl.lightdc import dataclass, field

__all__ = ["BuildContext", "ContextError"]

_MAX_LINKS = 255


class ContextError(BuildError):
    pass


def _glob_regex(component: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(component):
        ch = component[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < len(component):
            i += 1
            out.append(re.escape(component[i]))
        elif ch == "[" and (end := component.find("]", i + 1)) > 0:
            body = component[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def has_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


@dataclass(frozen=True)
class BuildContext:
    root: Path
    matcher: Matcher = field(default_factory=Matcher)

    @classmethod
    def open(cls, root: str | Path, *, ignore_file: Path | None = None) -> BuildContext:
        """``ignore_file`` (``<Dockerfile>.dockerignore``) replaces the context's
        ``.dockerignore`` when given, as BuildKit does."""
        root = Path(root).resolve()
        if not root.is_dir():
            raise ContextError(f"build context {root} is not a directory",
                               hint="pass a directory, or '-' to read a tar from stdin")
        ignore = ignore_file or root / ".dockerignore"
        try:
            matcher = (Matcher.from_text(ignore.read_bytes(), file=str(ignore))
                       if ignore.is_file() else Matcher())
        except PatternError as exc:
            raise ContextError(str(exc), hint="fix the pattern: classes need a closing ], "
                               "and a lone ! or a trailing \\ is not a pattern") from None
        return cls(root, matcher)

    # --- paths -----------------------------------------------------------

    def clean(self, src: str, *, instruction: str = "COPY") -> str:
        """``src`` relative to the context root; errors if it leaves it."""
        rel = posixpath.normpath(src.lstrip("/") or ".")
        if rel == ".." or rel.startswith("../"):
            raise ContextError(
                f"{instruction} failed: forbidden path outside the build context: {src}",
                hint="only files inside the build context can be copied; "
                "move the file into it or use a larger context",
            )
        return "" if rel == "." else rel

    def resolve(self, rel: str) -> Path:
        """Follow symlinks inside the context as if it were ``/``."""
        try:
            return Path(secure_join(str(self.root), rel, max_links=_MAX_LINKS))
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise ContextError(f"too many levels of symbolic links in {rel}") from None

    def expand(self, src: str, *, instruction: str = "COPY") -> list[str]:
        """The context paths a source names: itself, or its glob matches."""
        rel = self.clean(src, instruction=instruction)
        if not has_glob(rel):
            if self.matcher.ignored(rel) and rel:
                return []
            return [rel] if os.path.lexists(self.resolve(rel)) else []
        found = [""]
        for component in rel.split("/"):
            regex = _glob_regex(component) if has_glob(component) else None
            nxt = []
            for base in found:
                real = self.resolve(base)
                if regex is None:
                    path = posixpath.join(base, component) if base else component
                    if os.path.lexists(self.resolve(path)):
                        nxt.append(path)
                    continue
                if not real.is_dir():
                    continue
                for name in sorted(os.listdir(real)):
                    if regex.match(name):
                        nxt.append(posixpath.join(base, name) if base else name)
            found = nxt
        return [p for p in found if not self.matcher.ignored(p)]

    # --- listing ---------------------------------------------------------

    def walk(self, rel: str = "") -> Iterator[tuple[str, Path]]:
        """(context path, real path) under ``rel``, itself first; ignored
        paths skipped; symlinks below ``rel`` are listed, never followed."""
        start = self.resolve(rel)
        yield rel, start
        if start.is_dir():
            yield from self._walk_dir(start, rel)

    def _walk_dir(self, real: Path, rel: str) -> Iterator[tuple[str, Path]]:
        try:
            names = sorted(os.listdir(real))
        except OSError as exc:
            raise ContextError(f"cannot read {rel or '.'} in the build context: {exc}") from exc
        for name in names:
            child_rel = posixpath.join(rel, name) if rel else name
            child = real / name
            ignored = self.matcher.ignored(child_rel)
            is_dir = child.is_dir() and not child.is_symlink()
            if not ignored:
                yield child_rel, child
            if is_dir and (not ignored or self.matcher.has_exclusions):
                yield from self._walk_dir(child, child_rel)

    # --- cache digests ---------------------------------------------------

    def digest(self, rels: list[str]) -> str:
        """A digest of these sources and everything below them: names,
        types, modes, owners, symlink targets and contents; never mtimes."""
        h = hashlib.sha256()
        for rel in rels:
            for path_rel, real in self.walk(rel):
                st = real.lstat()
                h.update(f"{path_rel}\0{stat.S_IFMT(st.st_mode)}\0{stat.S_IMODE(st.st_mode)}"
                         f"\0{st.st_uid}\0{st.st_gid}\0".encode())
                if stat.S_ISLNK(st.st_mode):
                    h.update(os.readlink(real).encode() + b"\0")
                elif stat.S_ISREG(st.st_mode):
                    h.update(_file_digest(real).encode())
        return "sha256:" + h.hexdigest()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
