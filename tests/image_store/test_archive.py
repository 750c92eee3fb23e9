"""save/load: round trips keep digests; docker-archive (old and new) and OCI archives load."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from stackctl.engine.images.archive import load, save
from stackctl.engine.images.config import Image, ImageConfig
from stackctl.engine.images.store import ImageStore
from stackctl.errors import ImageError
from tests.fixtures_images import import_busybox
from tests.images import tar_bytes


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_round_trip_keeps_every_digest(roots: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = roots
    rec = import_busybox(root)
    with ImageStore(root) as store:
        store.tag("busybox", "me/bb:2")
        save(store, ["busybox", "me/bb:2"], tmp_path / "a.tar")
        save(store, ["busybox", "me/bb:2"], tmp_path / "b.tar")
        assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    with ImageStore(tmp_path / "fresh") as fresh:
        [(loaded, names)] = load(fresh, tmp_path / "a.tar")
        assert loaded.id == rec.id and loaded.manifest_digest == rec.manifest_digest
        assert names == ["docker.io/library/busybox:latest", "docker.io/me/bb:2"]
        assert loaded.diff_ids == rec.diff_ids and loaded.size == rec.size
        assert (fresh.layer_dirs(loaded)[0] / "bin" / "busybox").is_file()
        # loading again is idempotent
        [(again, _)] = load(fresh, io.BytesIO((tmp_path / "a.tar").read_bytes()))
        assert again.id == rec.id and len(fresh.list()) == 1


def test_saved_archive_is_docker_and_oci(roots: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = roots
    rec = import_busybox(root)
    with ImageStore(root) as store:
        save(store, ["busybox"], tmp_path / "a.tar")
    with tarfile.open(tmp_path / "a.tar") as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        repos = json.load(tar.extractfile("repositories"))  # type: ignore[arg-type]
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    hexid = rec.id.split(":")[1]
    assert manifest == [{"Config": f"blobs/sha256/{hexid}", "RepoTags": ["busybox:latest"],
                         "Layers": [f"blobs/sha256/{rec.diff_ids[0].split(':')[1]}"]}]
    assert list(repos) == ["busybox"]
    assert {"oci-layout", "index.json", f"blobs/sha256/{hexid}"} <= names
    assert index["manifests"][0]["digest"] == rec.manifest_digest


def test_load_legacy_docker_archive(roots: tuple[Path, Path]) -> None:
    """The pre-25 docker save layout: <id>.json, <layer>/layer.tar, manifest.json."""
    root, _ = roots
    l1 = tar_bytes({"a.txt": b"one"})
    l2 = tar_bytes({"b.txt": b"two"})
    cfg = Image(config=ImageConfig(cmd=("cat", "/a.txt")),
                diff_ids=(sha(l1), sha(l2)), created="2024-01-01T00:00:00Z",
                architecture="amd64").to_bytes()
    cid = sha(cfg).split(":")[1]
    data = tar_bytes({
        f"{cid}.json": cfg,
        "l1/layer.tar": l1, "l1/VERSION": b"1.0", "l2/layer.tar": gzip.compress(l2),
        "manifest.json": json.dumps([{"Config": f"{cid}.json", "RepoTags": ["old:1"],
                                      "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode(),
        "repositories": b'{"old":{"1":"l2"}}',
    })
    with ImageStore(root) as store:
        [(rec, names)] = load(store, io.BytesIO(data))
        assert rec.id == f"sha256:{cid}" and names == ["docker.io/library/old:1"]
        lowers = store.layer_dirs("old:1")
        assert (lowers[0] / "a.txt").read_bytes() == b"one"
        assert (lowers[1] / "b.txt").read_bytes() == b"two"
        assert rec.config.cmd == ("cat", "/a.txt")


def test_load_oci_archive_with_gzip_layers_and_platform_index(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    raw = tar_bytes({"hello": b"hi"})
    gz = gzip.compress(raw)
    cfg = Image(diff_ids=(sha(raw),), created="2024-01-01T00:00:00Z").to_bytes()
    man = json.dumps({"schemaVersion": 2,
                      "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": sha(cfg), "size": len(cfg)},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                  "digest": sha(gz), "size": len(gz)}]}).encode()
    from stackctl.engine.images.config import host_architecture

    idx = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(man),
         "size": len(man), "platform": {"os": "linux", "architecture": host_architecture()}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" +
         "0" * 64, "size": 1, "platform": {"os": "linux", "architecture": "s390x"}},
    ]}).encode()
    top = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(idx),
         "size": len(idx), "annotations": {"org.opencontainers.image.ref.name": "x/y:3"}}]})
    data = tar_bytes({"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json":
                    top.encode(), **{f"blobs/sha256/{sha(b).split(':')[1]}": b
                                     for b in (gz, cfg, man, idx)}})
    with ImageStore(root) as store:
        [(rec, names)] = load(store, io.BytesIO(data))
        assert names == ["docker.io/x/y:3"]
        assert rec.manifest_digest == sha(man)  # kept byte-exact
        layer = store.layers_of(rec)[0]
        assert layer.blob.digest == sha(gz) and layer.diff_id == sha(raw)
        assert (store.layer_dirs(rec)[0] / "hello").read_bytes() == b"hi"


@pytest.mark.parametrize("damage", ["bad-blob", "bad-diff-id", "no-index", "not-tar"])
def test_damaged_archives_load_nothing(roots: tuple[Path, Path], tmp_path: Path,
                                       damage: str) -> None:
    root, _ = roots
    import_busybox(root)
    with ImageStore(root) as store:
        save(store, ["busybox"], tmp_path / "a.tar")
    with tarfile.open(tmp_path / "a.tar") as tar:
        files = {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                 for m in tar.getmembers() if m.isreg()}
    if damage == "bad-blob":
        for name in files:
            if name.startswith("blobs/") and len(files[name]) > 100000:
                mid = len(files[name]) // 2
                files[name] = files[name][:mid] + b"X" * 16 + files[name][mid + 16:]
    elif damage == "bad-diff-id":
        # a docker-only archive whose layer does not match the config's diff_ids
        del files["index.json"]
        for name in files:
            if name.startswith("blobs/") and len(files[name]) > 100000:
                files[name] = tar_bytes({"other": b"x"})
    elif damage == "no-index":
        del files["index.json"], files["manifest.json"]
    data = b"garbage" * 100 if damage == "not-tar" else tar_bytes(files)
    with ImageStore(tmp_path / "fresh") as fresh:
        with pytest.raises(ImageError):
            load(fresh, io.BytesIO(data))
        assert fresh.list() == []
        fresh.collect_garbage()
        assert fresh.content.digests() == []
        assert list((tmp_path / "fresh" / "tmp").iterdir()) == []


def test_save_two_images_sharing_a_base(roots: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = roots
    base = import_busybox(root)
    step = tmp_path / "step"
    step.mkdir()
    (step / "app").write_text("v1")
    with ImageStore(root) as store:
        with store.writing():
            layer = store.add_layer_from_dir(step, parent_diff_ids=base.diff_ids)
            child = store.add_child(base, layer=layer, created_by="COPY app", refs=["app:1"])
        save(store, ["busybox", "app:1"], tmp_path / "both.tar")
    with tarfile.open(tmp_path / "both.tar") as tar:
        blobs = [n for n in tar.getnames() if n.startswith("blobs/sha256/")]
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    # 2 manifests + 2 configs + 2 distinct layers: the shared base layer is stored once
    assert len(blobs) == 6
    assert [m["RepoTags"] for m in manifest] == [["busybox:latest"], ["app:1"]]
    with ImageStore(tmp_path / "fresh") as fresh:
        loaded = load(fresh, tmp_path / "both.tar")
        assert sorted(r.id for r, _ in loaded) == sorted([base.id, child.id])
        assert (fresh.layer_dirs("app:1")[-1] / "app").read_text() == "v1"
        assert len(list((tmp_path / "fresh" / "layers").iterdir())) == 2
