"""Authentication flows (Bearer tokens, Basic) and the push protocol's variants."""

from __future__ import annotations

import json
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl.engine.images.store import ImageRecord, ImageStore
from stackctl.engine.registry.login import login, logout
from stackctl.engine.registry.pull import pull_image
from stackctl.engine.registry.push import push_image
from stackctl.errors import ImageError, NotFound, UsageError
from tests.registry.server import Registry

USERS = {"alice": "wonderland"}


@pytest.fixture
def fresh_root() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="stackctl-test-"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _tagged(root: Path, image: ImageRecord, name: str) -> None:
    with ImageStore(root) as store:
        store.tag(image.id, name)


@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_push_needs_login_then_works(auth: str, app_image: tuple[Path, ImageRecord],
                                     fresh_root: Path) -> None:
    root, image = app_image
    with Registry(auth=auth, users=USERS) as reg:
        name = f"{reg.host}/team/app:1"
        _tagged(root, image, name)
        with ImageStore(root) as store, pytest.raises(ImageError, match="unauthorized") as err:
            push_image(store, name)
        assert err.value.hint == f"run stackctl login {reg.host}"

        with pytest.raises(ImageError, match=r"login to .* failed: unauthorized"):
            login(root, reg.host, "alice", "wrong")
        assert not (root / "auth.json").exists()

        assert login(root, f"http://{reg.host}/v2/", "alice", "wonderland") == reg.host
        assert stat.S_IMODE((root / "auth.json").stat().st_mode) == 0o600
        with ImageStore(root) as store:
            assert push_image(store, name).digest == image.manifest_digest

        # another machine: no login -> a clear error; after login the pull works
        with ImageStore(fresh_root) as store:
            with pytest.raises(ImageError, match=r"unauthorized|requires authentication") as err:
                pull_image(store, name)
            assert f"stackctl login {reg.host}" in (err.value.hint or "")
            login(fresh_root, reg.host, "alice", "wonderland")
            assert pull_image(store, name).record.id == image.id
        assert logout(fresh_root, reg.host) == (reg.host, True)
        assert logout(fresh_root, reg.host) == (reg.host, False)


def test_anonymous_pull_with_bearer_tokens(app_image: tuple[Path, ImageRecord],
                                           fresh_root: Path) -> None:
    root, image = app_image
    with Registry(auth="bearer", users=USERS, anonymous_pull=True) as reg:
        name = f"{reg.host}/team/app:1"
        _tagged(root, image, name)
        login(root, reg.host, "alice", "wonderland")
        with ImageStore(root) as store:
            push_image(store, name)
        with ImageStore(fresh_root) as store:
            assert pull_image(store, name).record.id == image.id
        tokens = reg.count("GET", "/token")
        assert 0 < tokens <= 6  # cached per scope, not one per request


def test_saved_login_that_the_registry_refuses(app_image: tuple[Path, ImageRecord]) -> None:
    root, image = app_image
    with Registry(auth="basic", users=USERS) as reg:
        name = f"{reg.host}/team/app:1"
        _tagged(root, image, name)
        (root / "auth.json").write_text(json.dumps(
            {"auths": {reg.host: {"username": "alice", "password": "old"}}}))
        with ImageStore(root) as store, pytest.raises(ImageError) as err:
            push_image(store, name)
        assert "was refused" in (err.value.hint or "")


def test_chunked_upload_and_cross_repository_mount(registry: Registry,
                                                   app_image: tuple[Path, ImageRecord],
                                                   fresh_root: Path) -> None:
    root, image = app_image
    first, second = f"{registry.host}/team/app:1", f"{registry.host}/team/copy:2"
    _tagged(root, image, first)
    with ImageStore(root) as store:
        res = push_image(store, first, chunk_size=256 << 10)
        assert res.uploaded == 3
        assert registry.count("PATCH", "") >= 4  # the busybox layer went up in chunks
        store.tag(image.id, second)
        res = push_image(store, second)
        assert (res.mounted, res.uploaded, res.existing) == (3, 0, 0)
    with ImageStore(fresh_root) as store:
        assert pull_image(store, second).record.manifest_digest == image.manifest_digest


def test_push_by_digest_and_unknown_image(registry: Registry,
                                          app_image: tuple[Path, ImageRecord]) -> None:
    root, image = app_image
    _tagged(root, image, f"{registry.host}/team/app:1")
    with ImageStore(root) as store:
        res = push_image(store, f"{registry.host}/team/app@{image.manifest_digest}")
        assert res.digest == image.manifest_digest and res.tag == ""
        assert image.manifest_digest in registry.manifests["team/app"]
        with pytest.raises(NotFound, match="does not exist locally"):
            push_image(store, f"{registry.host}/team/nothing:1")


def test_push_compressed(registry: Registry, app_image: tuple[Path, ImageRecord],
                         fresh_root: Path) -> None:
    root, image = app_image
    name = f"{registry.host}/team/app:gz"
    _tagged(root, image, name)
    with ImageStore(root) as store:
        res = push_image(store, name, compress=True)
        assert res.digest != image.manifest_digest and res.uploaded == 3
        plain = sum(d.size for d in store.manifest(image).layers)
        again = push_image(store, name, compress=True)  # same bytes: nothing to upload
        assert (again.digest, again.existing, again.uploaded) == (res.digest, 3, 0)
        with pytest.raises(UsageError, match="by digest with --compress"):
            push_image(store, f"{registry.host}/team/app@{image.manifest_digest}",
                       compress=True)
    assert (root / "registry" / "gzip.json").is_file()
    with ImageStore(fresh_root) as store:
        pulled = pull_image(store, name)
        assert pulled.record.id == image.id and pulled.record.manifest_digest == res.digest
        layers = store.manifest(pulled.record).layers
        assert {d.media_type for d in layers} == {"application/vnd.oci.image.layer.v1.tar+gzip"}
        assert sum(d.size for d in layers) < plain
        top = store.layer_dirs(pulled.record)[-1]
        assert (top / "app" / "hello.txt").read_text() == "hello from the registry\n"


def test_basic_auth_asked_only_per_repository(app_image: tuple[Path, ImageRecord]) -> None:
    root, image = app_image
    with Registry(auth="basic", users=USERS) as reg:
        reg.open_base = True  # the ping sees no challenge; the first real request gets one
        name = f"{reg.host}/team/app:1"
        _tagged(root, image, name)
        login(root, reg.host, "alice", "wonderland")
        with ImageStore(root) as store:
            assert push_image(store, name).digest == image.manifest_digest
