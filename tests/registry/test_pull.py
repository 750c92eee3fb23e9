"""Pull: media types, indexes, digests, redirects, and every way a registry can fail."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from stackctl.engine.images.store import ImageStore
from stackctl.engine.registry.client import RegistryClient
from stackctl.engine.registry.hosts import Endpoint
from stackctl.engine.registry.pull import PullEvent, pull_image
from stackctl.errors import ImageError, NotFound
from tests.registry.craft import DOCKER, OCI, Crafted, craft_image, craft_index
from tests.registry.server import Registry

LAYERS = [{"bin/tool": b"#!/bin/sh\necho tool\n", "etc/motd": b"one\n"},
          {"etc/motd": b"two\n", "srv/data.bin": bytes(range(256)) * 400}]


def _assert_nothing_left(store: ImageStore, crafted: Crafted) -> None:
    assert store.list() == []
    assert list(store.tmp.glob("ingest-*")) == []
    assert not store.content.has(crafted.manifest_digest)


@pytest.mark.parametrize("types", [DOCKER, OCI], ids=["docker-schema2", "oci"])
def test_pull_gzip_layers_of_both_media_types(registry: Registry, roots: tuple[Path, Path],
                                              types: dict[str, str]) -> None:
    crafted = craft_image(registry, "lib/tool", "v1", LAYERS, types=types)
    with ImageStore(roots[0]) as store:
        res = pull_image(store, f"{registry.host}/lib/tool:v1")
        assert res.record.id == crafted.config_digest
        assert res.record.manifest_digest == crafted.manifest_digest
        assert store.manifest(res.record).media_type == types["manifest"]
        top = store.layer_dirs(res.record)[-1]
        assert (top / "etc" / "motd").read_bytes() == b"two\n"
        assert res.record.config.cmd == ("sh",)


def test_index_picks_the_host_platform_or_the_asked_one(registry: Registry,
                                                         roots: tuple[Path, Path]) -> None:
    amd = craft_image(registry, "multi", None, LAYERS[:1], arch="amd64")
    arm = craft_image(registry, "multi", None, [{"arm": b"arm64\n"}], arch="arm64")
    index = craft_index(registry, "multi", "latest", [
        (arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        (amd, {"os": "linux", "architecture": "amd64"})])
    with ImageStore(roots[0]) as store:
        res = pull_image(store, f"{registry.host}/multi", platform="linux/amd64")
        assert res.record.id == amd.config_digest and res.digest == index
        res = pull_image(store, f"{registry.host}/multi:latest", platform="linux/arm64")
        assert res.record.id == arm.config_digest
        assert res.record.image.architecture == "arm64"
        with pytest.raises(ImageError, match="no matching manifest for linux/riscv64"):
            pull_image(store, f"{registry.host}/multi", platform="linux/riscv64")


def test_pull_by_digest_records_a_digest_reference(registry: Registry,
                                                   roots: tuple[Path, Path]) -> None:
    crafted = craft_image(registry, "lib/tool", "v1", LAYERS)
    name = f"{registry.host}/lib/tool@{crafted.manifest_digest}"
    with ImageStore(roots[0]) as store:
        res = pull_image(store, name)
        assert res.reference == name
        assert store.resolve(name).id == crafted.config_digest
        assert not res.record.dangling  # a prune of dangling images keeps it


def test_redirected_blobs_are_followed(roots: tuple[Path, Path]) -> None:
    with Registry(redirect_blobs=True) as reg:
        crafted = craft_image(reg, "lib/tool", "v1", LAYERS)
        with ImageStore(roots[0]) as store:
            assert pull_image(store, f"{reg.host}/lib/tool:v1").record.id == crafted.config_digest
        assert reg.count("GET", "/_storage/" + crafted.layer_digests[0]) == 1


def test_lying_registry_corrupt_layer(registry: Registry, roots: tuple[Path, Path]) -> None:
    crafted = craft_image(registry, "lib/tool", "v1", LAYERS)
    registry.corrupt.add(crafted.layer_digests[1])
    with ImageStore(roots[0]) as store:
        with pytest.raises(ImageError, match="does not match its digest") as err:
            pull_image(store, f"{registry.host}/lib/tool:v1")
        assert registry.host in str(err.value)
        _assert_nothing_left(store, crafted)
        assert not store.content.has(crafted.layer_digests[1])


def test_lying_registry_manifest_digest(registry: Registry, roots: tuple[Path, Path]) -> None:
    crafted = craft_image(registry, "lib/tool", "v1", LAYERS)
    registry.lie_digest = True
    with ImageStore(roots[0]) as store:
        with pytest.raises(ImageError, match=r"manifest .* does not match its digest"):
            pull_image(store, f"{registry.host}/lib/tool:v1")
        _assert_nothing_left(store, crafted)


def test_config_diff_ids_must_match_the_layers(registry: Registry,
                                               roots: tuple[Path, Path]) -> None:
    crafted = craft_image(registry, "lib/tool", "v1", LAYERS, bad_diff_id=True)
    with ImageStore(roots[0]) as store:
        with pytest.raises(ImageError, match=r"layer 1 .* does not match the image config"):
            pull_image(store, f"{registry.host}/lib/tool:v1")
        assert store.list() == []
        assert not store.content.has(crafted.manifest_digest)


def test_interrupted_pull_resumes_without_refetching(registry: Registry,
                                                    roots: tuple[Path, Path]) -> None:
    crafted = craft_image(registry, "lib/tool", "v1", LAYERS)
    bottom, top = crafted.layer_digests
    registry.break_after[top] = 100
    name = f"{registry.host}/lib/tool:v1"
    with ImageStore(roots[0]) as store:
        with pytest.raises(ImageError, match=r"broke off|ended after"):
            pull_image(store, name, max_concurrent=1, sleep=lambda _s: None)
        assert store.content.has(bottom) and not store.content.has(top)
        assert store.list() == [] and list(store.tmp.glob("ingest-*")) == []
        del registry.break_after[top]
        res = pull_image(store, name)
        assert res.fetched == 1 and res.record.id == crafted.config_digest
    assert registry.count("GET", "/blobs/" + bottom) == 1
    assert registry.count("GET", "/blobs/" + top) == 1 + 4  # 1 + 3 retries, then the re-pull


@pytest.mark.parametrize("honour_range", [True, False])
def test_a_broken_connection_is_resumed_mid_blob(registry: Registry, roots: tuple[Path, Path],
                                                 honour_range: bool) -> None:
    crafted = craft_image(registry, "lib/tool", "v1", LAYERS)
    top = crafted.layer_digests[1]
    cut = len(registry.blobs[top]) // 2
    registry.break_once[top] = cut
    registry.honour_range = honour_range
    sleeps: list[float] = []
    events: list[PullEvent] = []
    with ImageStore(roots[0]) as store:
        res = pull_image(store, f"{registry.host}/lib/tool:v1", sleep=sleeps.append,
                         progress=events.append)
        assert res.record.id == crafted.config_digest
    assert registry.ranges == [f"bytes={cut}-"]
    assert sleeps == [0.5]
    assert [e.detail for e in events if e.kind == "retrying"] == \
        [f"{cut}/{len(registry.blobs[top])} bytes"]


def test_unknown_manifest_and_repository(registry: Registry, roots: tuple[Path, Path]) -> None:
    craft_image(registry, "lib/tool", "v1", LAYERS)
    with ImageStore(roots[0]) as store:
        with pytest.raises(NotFound, match="manifest unknown") as err:
            pull_image(store, f"{registry.host}/lib/tool:nope")
        assert "lib/tool:nope" in str(err.value)
        with pytest.raises(NotFound, match="repository does not exist"):
            pull_image(store, f"{registry.host}/lib/missing:v1")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_names_the_host(roots: tuple[Path, Path]) -> None:
    host = f"127.0.0.1:{_closed_port()}"
    with ImageStore(roots[0]) as store, pytest.raises(ImageError, match="connection refused"):
        pull_image(store, f"{host}/a:1")


def test_tls_to_a_plain_http_registry_is_a_clear_error(registry: Registry,
                                                       roots: tuple[Path, Path]) -> None:
    client = RegistryClient(Endpoint(registry.host, registry.host, secure=True))
    with ImageStore(roots[0]) as store, client, \
            pytest.raises(ImageError, match=f"TLS handshake with registry {registry.host}") \
            as err:
        pull_image(store, f"{registry.host}/a:1", client=client)
    assert "--insecure" in (err.value.hint or "")


def test_single_platform_image_for_another_arch(registry: Registry,
                                                roots: tuple[Path, Path]) -> None:
    from stackctl.engine.registry.platform import host_platform

    other = "s390x" if host_platform().architecture != "s390x" else "amd64"
    craft_image(registry, "lib/odd", "v1", LAYERS[:1], arch=other)
    events: list[PullEvent] = []
    with ImageStore(roots[0]) as store:
        with pytest.raises(ImageError, match=f"the image is for linux/{other}"):
            pull_image(store, f"{registry.host}/lib/odd:v1", platform=str(host_platform()))
        pull_image(store, f"{registry.host}/lib/odd:v1", progress=events.append)
    [warning] = [e for e in events if e.kind == "warning"]
    assert f"platform (linux/{other}) does not match the detected host platform" in \
        warning.detail


def test_a_half_read_response_does_not_poison_the_connection(registry: Registry) -> None:
    crafted = craft_image(registry, "lib/tool", "v1", LAYERS)
    with RegistryClient.open(Path("/nonexistent"), registry.host) as client:
        resp = client.open_blob("lib/tool", crafted.layer_digests[1], what="t")
        assert len(resp.read(10)) == 10
        client.transport.discard(resp)
        got = client.get_manifest("lib/tool", "v1", what="t")
        assert got.digest == crafted.manifest_digest
        again = client.get_manifest("lib/tool", "v1", what="t")  # a reused connection
        assert again.data == got.data


def test_pull_of_an_index_by_digest_resolves_by_that_digest(registry: Registry,
                                                            roots: tuple[Path, Path],
                                                            tmp_path: Path) -> None:
    amd = craft_image(registry, "multi", None, LAYERS[:1], arch="amd64")
    index = craft_index(registry, "multi", "latest",
                        [(amd, {"os": "linux", "architecture": "amd64"})])
    name = f"{registry.host}/multi@{index}"
    with ImageStore(roots[0]) as store:
        res = pull_image(store, name, platform="linux/amd64")
        assert res.reference == name and res.digest == index
        assert store.resolve(name).id == amd.config_digest
    with ImageStore(tmp_path) as store:  # already there by tag: the digest ref is added
        pull_image(store, f"{registry.host}/multi:latest", platform="linux/amd64")
        again = pull_image(store, name, platform="linux/amd64")
        assert again.up_to_date and store.resolve(name).id == amd.config_digest


def test_a_layer_repeated_in_one_image(registry: Registry, roots: tuple[Path, Path]) -> None:
    same = {"etc/motd": b"again\n"}
    crafted = craft_image(registry, "lib/rep", "v1", [same, {"x": b"1"}, same])
    assert crafted.layer_digests[0] == crafted.layer_digests[2]
    with ImageStore(roots[0]) as store:
        res = pull_image(store, f"{registry.host}/lib/rep:v1")
        assert res.fetched == 2
        assert len(store.layer_dirs(res.record)) == 3
    assert registry.count("GET", "/blobs/" + crafted.layer_digests[0]) == 1


def test_two_concurrent_pulls_of_one_image(registry: Registry, roots: tuple[Path, Path]) -> None:
    import threading

    crafted = craft_image(registry, "lib/tool", "v1", LAYERS)
    errors: list[BaseException] = []

    def pull() -> None:
        try:
            with ImageStore(roots[0]) as store:
                pull_image(store, f"{registry.host}/lib/tool:v1")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=pull) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with ImageStore(roots[0]) as store:
        [rec] = store.list()
        assert rec.id == crafted.config_digest
        assert list(store.tmp.glob("ingest-*")) == []
        assert (store.layer_dirs(rec)[-1] / "etc" / "motd").read_bytes() == b"two\n"


def test_a_registry_answering_503_is_retried_then_given_up(registry: Registry,
                                                          roots: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    from stackctl.engine.registry.registry_errors import TransientRegistryError

    crafted = craft_image(registry, "lib/tool", "v1", LAYERS)
    top = crafted.layer_digests[1]
    registry.unavailable[top] = 2
    sleeps: list[float] = []
    with ImageStore(roots[0]) as store:
        res = pull_image(store, f"{registry.host}/lib/tool:v1", sleep=sleeps.append)
        assert res.record.id == crafted.config_digest and sleeps == [0.5, 1.0]
    registry.unavailable[crafted.layer_digests[0]] = 10
    with ImageStore(tmp_path) as store:
        with pytest.raises(TransientRegistryError, match="answered 503") as err:
            pull_image(store, f"{registry.host}/lib/tool:v1", sleep=lambda _s: None)
        assert "try again later" in (err.value.hint or "")
        assert store.list() == []


@pytest.mark.parametrize(("change", "message"), [
    ({"layer": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"},
     "foreign \\(non-distributable\\) layer"),
    ({"layer": "application/vnd.oci.image.layer.v1.tar+zstd"}, "zstd-compressed"),
    ({"config": "application/vnd.cncf.helm.config.v1+json"}, "not a container image"),
    ({"manifest": "application/vnd.docker.distribution.manifest.v1+prettyjws"},
     "schema 1 manifest format"),
])
def test_unsupported_content_is_refused_before_any_download(
        registry: Registry, roots: tuple[Path, Path], change: dict[str, str],
        message: str) -> None:
    crafted = craft_image(registry, "lib/odd", "v1", LAYERS[:1], types={**DOCKER, **change})
    with ImageStore(roots[0]) as store, pytest.raises(ImageError, match=message):
        pull_image(store, f"{registry.host}/lib/odd:v1")
    assert registry.count("GET", "/blobs/" + crafted.layer_digests[0]) == 0
