"""Image references with Docker's normalisation rules.

    busybox                      -> docker.io/library/busybox:latest
    me/app:1.0                   -> docker.io/me/app:1.0
    host:5000/a/b:tag            -> host:5000/a/b:tag
    name@sha256:<64 hex>         -> docker.io/library/name@sha256:<64 hex>

The grammar is distribution/reference's: lowercase path components joined by
``/``, separators ``.``, ``_``, ``__`` or runs of ``-``; the first component is
a registry host when it contains ``.`` or ``:`` or is ``localhost``; a tag is
``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``; a digest is ``algorithm:hex``. The whole
name is at most 255 characters. Pure: no I/O.
"""

from __future__ import annotations

import re

from stackctl.errors import ImageError
from stackctl.lightdc import dataclass

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_MAX = 255

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}")
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
_HEX64 = re.compile(r"[0-9a-f]{64}")

_HINT = "use a name like busybox, me/app:1.0, host:5000/team/app:tag or name@sha256:<hex>"


@dataclass(frozen=True, order=True)
class Reference:
    """A normalised reference. ``tag`` and ``digest`` may both be set."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The repository with its domain: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        out = self.name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    @property
    def familiar_name(self) -> str:
        """The repository as Docker prints it: ``busybox``, ``me/app``, ``host:5000/a``."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_PREFIX) and self.path.count("/") == 1:
                return self.path[len(OFFICIAL_PREFIX):]
            return self.path
        return self.name

    def familiar(self) -> str:
        out = self.familiar_name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    def with_tag(self, tag: str) -> Reference:
        if not _TAG.fullmatch(tag):
            raise ImageError(f"invalid tag {tag!r}", hint="tags are [A-Za-z0-9_.-], max 128")
        return Reference(self.domain, self.path, tag, None)


def parse(ref: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise ``ref``; raise ImageError naming the problem.

    With ``default_tag`` a reference without tag or digest gets ``:latest``.
    """
    text = ref.strip()
    if not text:
        raise ImageError("invalid reference format: empty image name", hint=_HINT)
    if _HEX64.fullmatch(text):
        raise ImageError(
            f"invalid repository name ({text}): cannot be a 64-byte hexadecimal string",
            hint="an image ID is not a name; tag it with `stackctl tag ID NAME`",
        )
    remainder, digest = text, None
    if "@" in text:
        remainder, digest = text.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise ImageError(f"invalid reference format: bad digest in {ref!r}", hint=_HINT)
        if digest.startswith("sha256:") and not _SHA256.fullmatch(digest):
            raise ImageError(
                f"invalid reference format: {digest!r} is not sha256 and 64 lowercase hex",
                hint=_HINT,
            )
    tag = None
    last = remainder.rsplit("/", 1)[-1]
    if ":" in last:
        remainder, tag = remainder.rsplit(":", 1)
        if not _TAG.fullmatch(tag):
            raise ImageError(f"invalid reference format: bad tag {tag!r} in {ref!r}", hint=_HINT)
    domain, path = _split_domain(remainder, ref)
    for comp in path.split("/"):
        if not _COMPONENT.fullmatch(comp):
            if comp.lower() != comp and _COMPONENT.fullmatch(comp.lower()):
                raise ImageError(
                    f"invalid reference format: repository name ({path}) must be lowercase",
                    hint=_HINT,
                )
            raise ImageError(
                f"invalid reference format: bad path component {comp!r} in {ref!r}", hint=_HINT
            )
    if len(f"{domain}/{path}") > NAME_TOTAL_MAX:
        raise ImageError(
            f"invalid reference format: repository name longer than {NAME_TOTAL_MAX} characters",
            hint=_HINT,
        )
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def _split_domain(name: str, ref: str) -> tuple[str, str]:
    if not name:
        raise ImageError(f"invalid reference format: no repository name in {ref!r}", hint=_HINT)
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        if not _DOMAIN.fullmatch(first):
            raise ImageError(f"invalid reference format: bad registry host {first!r}", hint=_HINT)
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def normalize(ref: str) -> str:
    """The canonical string of ``ref``: ``busybox`` -> ``docker.io/library/busybox:latest``."""
    return str(parse(ref))


def familiar(ref: str) -> str:
    """The short form Docker prints: ``docker.io/library/busybox:latest`` -> ``busybox:latest``."""
    return parse(ref).familiar()


def is_digest(text: str) -> bool:
    return _SHA256.fullmatch(text) is not None


__all__ = ["DEFAULT_DOMAIN", "DEFAULT_TAG", "Reference", "familiar", "is_digest", "normalize",
           "parse"]
