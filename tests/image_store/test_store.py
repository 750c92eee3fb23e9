"""ImageStore on a real state root: import, resolve, tag, remove, layer dirs, index.json."""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from stackctl.engine.images.store import ImageStore
from stackctl.engine.state import StateStore
from stackctl.errors import Conflict, ImageError, NotFound
from tests.fixtures_images import import_busybox
from tests.images import busybox_rootfs_tar, tar_bytes


def test_fixture_imports_busybox(busybox_image: tuple[Path, str]) -> None:
    root, ref = busybox_image
    with ImageStore(root) as store:
        rec = store.resolve(ref)
        assert rec.refs == ("docker.io/library/busybox:latest",)
        assert rec.config.cmd == ("sh",)
        [lower] = store.layer_dirs(rec)
        assert (lower / "bin" / "busybox").is_file()
        assert os.readlink(lower / "bin" / "sh") == "/bin/busybox"
        assert stat.S_IMODE((lower / "tmp").stat().st_mode) == 0o1777
        assert (lower / "etc" / "passwd").read_text().startswith("root:")


def test_import_is_oci_layout(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    with ImageStore(root) as store:
        rec = store.import_tar(busybox_rootfs_tar(), "bb:1")
        layout = root / "images"
        assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
        index = json.loads((layout / "index.json").read_text())
        [entry] = index["manifests"]
        assert entry["digest"] == rec.manifest_digest
        assert entry["annotations"]["org.opencontainers.image.ref.name"] == "1"
        manifest = json.loads(store.content.read_bytes(rec.manifest_digest))
        assert manifest["config"]["digest"] == rec.id
        [layer] = manifest["layers"]
        # an uncompressed layer: blob digest == diff ID
        assert layer["digest"] == rec.diff_ids[0]
        for digest in (rec.id, rec.manifest_digest, layer["digest"]):
            assert store.content.verify(digest)
        cfg = json.loads(store.config_bytes(rec))
        assert cfg["rootfs"] == {"type": "layers", "diff_ids": list(rec.diff_ids)}
        assert cfg["history"][0]["created_by"] == "stackctl import"


def test_import_gzip_stream_with_changes(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    data = tar_bytes({"hello.txt": b"hi\n"})
    with ImageStore(root) as store:
        rec = store.import_tar(io.BytesIO(gzip.compress(data)), "hello",
                               changes=["ENV A=1 B=two", 'CMD ["cat", "/hello.txt"]',
                                        "EXPOSE 80", "WORKDIR /srv", "USER app"],
                               message="first")
        assert rec.config.env == ("A=1", "B=two")
        assert rec.config.cmd == ("cat", "/hello.txt")
        assert rec.config.exposed_ports == ("80/tcp",)
        assert rec.config.working_dir == "/srv" and rec.config.user == "app"
        assert rec.image.history[0].comment == "first"
        import hashlib

        assert rec.diff_ids[0] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert (store.layer_dirs(rec)[0] / "hello.txt").read_bytes() == b"hi\n"


def test_resolve_forms(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    rec = import_busybox(root)
    with ImageStore(root) as store:
        hexid = rec.id.split(":")[1]
        for name in ("busybox", "busybox:latest", "docker.io/library/busybox:latest",
                     rec.id, hexid, hexid[:12], hexid[:3], f"sha256:{hexid[:10]}",
                     f"busybox@{rec.manifest_digest}"):
            assert store.resolve(name).id == rec.id, name
        for missing in ("busybox:2", "nothing", "ffffffffffff", "sha256:", "Bad Name"):
            with pytest.raises(NotFound) as err:
                store.resolve(missing)
            assert "No such image" in err.value.message


def test_tag_untag_remove(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    rec = import_busybox(root)
    with ImageStore(root) as store:
        store.tag("busybox", "me/bb:v1")
        assert store.resolve("me/bb:v1").id == rec.id
        assert store.get(rec.id).refs == ("docker.io/library/busybox:latest",
                                          "docker.io/me/bb:v1")
        # by ID with two tags: refused without force
        with pytest.raises(Conflict):
            store.remove(rec.short_id)
        # by name with another tag left: only untags
        events = store.remove("me/bb:v1")
        assert [str(e) for e in events] == ["Untagged: me/bb:v1"]
        events = store.remove("busybox")
        assert [str(e) for e in events] == ["Untagged: busybox:latest", f"Deleted: {rec.id}"]
        assert store.list() == []
        # blobs and the unpacked layer went with it
        assert store.content.digests() == []
        assert not any((root / "layers").iterdir())
        index = json.loads((root / "images" / "index.json").read_text())
        assert index["manifests"] == []


def test_remove_refuses_image_in_use(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    rec = import_busybox(root)
    with StateStore(root) as state:
        with state.transaction() as db:
            db.execute("INSERT INTO containers(id, name, image_id, image_ref, config, status, "
                       "created) VALUES ('c' , 'web', ?, 'busybox', '{}', 'exited', 'now')",
                       (rec.id,))
        with ImageStore(root, state) as store:
            with pytest.raises(Conflict) as err:
                store.remove("busybox")
            assert "used by container" in err.value.message
            # forced: untagged, kept (dangling) while the container needs its layers
            events = store.remove("busybox", force=True)
            assert [e.kind for e in events] == ["Untagged"]
            assert store.get(rec.id).dangling
            assert store.layer_dirs(rec)[0].is_dir()


def test_shared_layer_is_unpacked_once(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    with ImageStore(root) as store:
        a = store.import_tar(busybox_rootfs_tar(), "a")
        b = store.import_tar(busybox_rootfs_tar(), "b")
        assert a.id != b.id  # different created times
        assert store.layer_dirs(a) == store.layer_dirs(b)
        assert len(list((root / "layers").iterdir())) == 1
        store.remove("a")
        assert store.layer_dirs(b)[0].is_dir()


def test_bad_archive_leaves_nothing(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    with ImageStore(root) as store:
        for bad in (b"", b"this is not a tar archive at all" * 40,
                    tar_bytes({"../evil": b"x"})):
            with pytest.raises(ImageError):
                store.import_tar(io.BytesIO(bad), "bad")
        assert store.list() == []
        assert store.content.digests() == []
        assert list((root / "layers").iterdir()) == []
        assert list((root / "tmp").iterdir()) == []
        with pytest.raises(ImageError):
            store.import_tar(io.BytesIO(tar_bytes({"a": b"x"})), "Bad:Ref")


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteout devices and trusted xattrs need root")
def test_layer_added_without_parents_is_linked_not_unpacked_twice(
        roots: tuple[Path, Path]) -> None:
    root, _ = roots
    base = import_busybox(root)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind in (("opq", tarfile.DIRTYPE), ("opq/.wh..wh..opq", tarfile.REGTYPE),
                           ("etc/.wh.hostname", tarfile.REGTYPE), ("new", tarfile.REGTYPE)):
            info = tarfile.TarInfo(name)
            info.type = kind
            tar.addfile(info, io.BytesIO(b""))
    with ImageStore(root) as store, store.writing():
        layer = store.add_layer(io.BytesIO(buf.getvalue()))  # parent chain not given
        child = store.add_child(base, layer=layer, created_by="step")
        top = store.layer_dirs(child)[-1]
        early = store.layers.path(layer.diff_id)
        assert top != early
        assert (top / "new").stat().st_ino == (early / "new").stat().st_ino
        assert os.getxattr(top / "opq", "trusted.overlay.opaque") == b"y"
        assert stat.S_ISCHR((top / "etc" / "hostname").lstat().st_mode)
        with pytest.raises(ImageError, match="inside writing"):
            store.collect_garbage()
    with ImageStore(root) as store:
        store.collect_garbage()
        assert not early.exists() and (top / "new").exists()


@pytest.mark.parametrize("compress", ["bz2", "xz", "gzip"])
def test_import_compressed_rootfs(roots: tuple[Path, Path], compress: str) -> None:
    import bz2
    import lzma

    root, _ = roots
    data = tar_bytes({"./etc/motd": b"hello\n", "./bin/tool": b"#!/bin/sh\n"})
    packed = {"bz2": bz2.compress, "xz": lzma.compress, "gzip": gzip.compress}[compress](data)
    with ImageStore(root) as store:
        rec = store.import_tar(io.BytesIO(packed), f"c:{compress}")
        import hashlib

        assert rec.diff_ids == ("sha256:" + hashlib.sha256(data).hexdigest(),)
        assert (store.layer_dirs(rec)[0] / "etc" / "motd").read_bytes() == b"hello\n"


def test_config_only_child_and_history(roots: tuple[Path, Path]) -> None:
    from stackctl.lightdc import replace

    root, _ = roots
    base = import_busybox(root)
    with ImageStore(root) as store:
        child = store.add_child(base, config=replace(base.config, cmd=("echo", "hi")),
                                created_by='/bin/sh -c #(nop)  CMD ["echo" "hi"]',
                                refs=["child"])
        assert child.diff_ids == base.diff_ids and child.parent == base.id
        assert store.layer_dirs(child) == store.layer_dirs(base)
        assert [h.empty_layer for h in store.history(child)] == [False, True]
        assert store.resolve("child").config.cmd == ("echo", "hi")
        # the base is still tagged, so the child keeps it; pruning all takes both
        events, _freed = store.prune(all_unused=True)
        assert {e.what for e in events if e.kind == "deleted"} == {base.id, child.id}


def test_rmi_deletes_untagged_build_parents(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    base = import_busybox(root)
    with ImageStore(root) as store:
        step1 = store.add_child(base, created_by="step 1")
        step2 = store.add_child(step1, created_by="step 2")
        top = store.add_child(step2, created_by="step 3", refs=["app:1"])
        keep = store.add_child(step1, created_by="other", refs=["other:1"])
        events = [str(e) for e in store.remove("app:1")]
        # step2 went with it; step1 stays: "other" still builds on it; base is tagged
        assert events == ["Untagged: app:1", f"Deleted: {top.id}", f"Deleted: {step2.id}"]
        assert {r.id for r in store.list()} == {base.id, step1.id, keep.id}
        store.remove("other:1", no_prune=True)
        assert {r.id for r in store.list()} == {base.id, step1.id}
