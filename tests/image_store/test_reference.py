"""Docker reference normalisation (distribution/reference's rules)."""

from __future__ import annotations

import pytest

from stackctl.engine.images import reference
from stackctl.errors import ImageError

HEX = "a" * 64


@pytest.mark.parametrize(
    ("given", "normal", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("me/app:1.0", "docker.io/me/app:1.0", "me/app:1.0"),
        ("host:5000/a/b:tag", "host:5000/a/b:tag", "host:5000/a/b:tag"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("registry.example.com/team/app", "registry.example.com/team/app:latest",
         "registry.example.com/team/app:latest"),
        (f"busybox@sha256:{HEX}", f"docker.io/library/busybox@sha256:{HEX}",
         f"busybox@sha256:{HEX}"),
        (f"busybox:1@sha256:{HEX}", f"docker.io/library/busybox:1@sha256:{HEX}",
         f"busybox:1@sha256:{HEX}"),
        ("a__b/c-d---e.f_g:T_a.g-1", "docker.io/a__b/c-d---e.f_g:T_a.g-1",
         "a__b/c-d---e.f_g:T_a.g-1"),
        ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest"),
    ],
)
def test_normalise(given: str, normal: str, familiar: str) -> None:
    assert reference.normalize(given) == normal
    assert reference.familiar(normal) == familiar


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("", "empty"),
        ("Busybox", "must be lowercase"),
        ("busy box", "bad path component"),
        ("busybox:", "bad tag"),
        ("busybox:-x", "bad tag"),
        ("busybox:" + "t" * 129, "bad tag"),
        ("busybox@sha256:abc", "bad digest"),
        ("busybox@sha256:" + "A" * 64, "sha256 and 64"),
        ("busybox@md5", "bad digest"),
        ("a//b", "bad path component"),
        ("-a", "bad path component"),
        ("a-", "bad path component"),
        (HEX, "64-byte hexadecimal"),
        ("a/" * 130 + "b", "longer than 255"),
        ("bad_host!:5000/x", "bad registry host"),
    ],
)
def test_invalid(bad: str, fragment: str) -> None:
    with pytest.raises(ImageError) as err:
        reference.parse(bad)
    assert fragment in str(err.value)
    assert err.value.hint


def test_no_default_tag_when_asked() -> None:
    ref = reference.parse("busybox", default_tag=False)
    assert ref.tag is None and str(ref) == "docker.io/library/busybox"


def test_with_tag() -> None:
    assert str(reference.parse("me/app:1").with_tag("2")) == "docker.io/me/app:2"
    with pytest.raises(ImageError):
        reference.parse("me/app").with_tag("bad tag")
