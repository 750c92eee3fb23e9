"""Pure parts of the image store: chain IDs, config round trips, --change, listing
rows and filters, sizes and ages, templates, prune plans, GC marks, disk usage."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from stackctl.engine.images import present
from stackctl.engine.images.changes import apply_changes
from stackctl.engine.images.config import Healthcheck, HistoryEntry, Image, ImageConfig
from stackctl.engine.images.gc import Root, mark
from stackctl.engine.images.layers import chain_ids, detect_compression
from stackctl.engine.images.store import ImageRecord, plan_prune
from stackctl.engine.images.usage import compute
from stackctl.errors import ImageError, UsageError

D1, D2, D3 = ("sha256:" + c * 64 for c in "123")


def rec(ident: str, refs: tuple[str, ...] = (), diff_ids: tuple[str, ...] = (D1,),
        parent: str = "", created: str = "2024-01-01T00:00:00Z",
        labels: tuple[tuple[str, str], ...] = ()) -> ImageRecord:
    return ImageRecord("sha256:" + ident * 64, "sha256:" + "f" * 64, created, 1000,
                       Image(config=ImageConfig(labels=labels), diff_ids=diff_ids), refs,
                       parent)


def test_chain_ids_follow_the_oci_formula() -> None:
    assert chain_ids([D1]) == [D1]
    second = "sha256:" + hashlib.sha256(f"{D1} {D2}".encode()).hexdigest()
    third = "sha256:" + hashlib.sha256(f"{second} {D3}".encode()).hexdigest()
    assert chain_ids([D1, D2, D3]) == [D1, second, third]
    assert chain_ids([D2, D1])[1] != chain_ids([D1, D2])[1]


def test_detect_compression() -> None:
    assert detect_compression(b"\x1f\x8b\x08") == "gzip"
    assert detect_compression(b"BZh91") == "bzip2"
    assert detect_compression(b"\xfd7zXZ\x00") == "xz"
    assert detect_compression(b"\x28\xb5\x2f\xfd") == "zstd"
    assert detect_compression(b"etc/\x00\x00") is None


def test_config_round_trip_and_canonical_bytes() -> None:
    cfg = ImageConfig(user="app", exposed_ports=("80/tcp",), env=("A=1", "PATH=/bin"),
                      entrypoint=("/init",), cmd=("sh",), volumes=("/data",),
                      working_dir="/srv", labels=(("a", "b"),), stop_signal="SIGQUIT",
                      healthcheck=Healthcheck(("CMD", "true"), interval=10**9, retries=3),
                      on_build=("RUN x",), shell=("/bin/bash", "-c"))
    img = Image(config=cfg, diff_ids=(D1,), created="2024-01-01T00:00:00Z",
                history=(HistoryEntry(created="x", created_by="y", empty_layer=True),),
                architecture="amd64")
    doc = json.loads(img.to_bytes())
    assert doc["config"]["ExposedPorts"] == {"80/tcp": {}}
    assert doc["config"]["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 10**9,
                                            "Retries": 3}
    assert doc["rootfs"] == {"type": "layers", "diff_ids": [D1]}
    assert Image.from_bytes(img.to_bytes()) == img
    assert cfg.env_dict == {"A": "1", "PATH": "/bin"}
    assert cfg.with_env("A", "2").env == ("A=2", "PATH=/bin")
    # unknown keys survive a load
    raw = dict(doc, moby_extra={"k": 1})
    assert json.loads(Image.from_json(raw).to_bytes())["moby_extra"] == {"k": 1}
    with pytest.raises(ImageError):
        Image.from_bytes(b"[1]")


def test_changes() -> None:
    cfg = apply_changes(ImageConfig(), [
        "CMD echo hi", 'ENTRYPOINT ["/init"]', "ENV A=1 B=\"two words\"", "ENV LEGACY some value",
        "EXPOSE 80 53/udp", "LABEL x=y", "USER 1000:1000", "WORKDIR /a", "WORKDIR b",
        "VOLUME /data /logs", "STOPSIGNAL SIGTERM", "ONBUILD RUN make",
    ])
    assert cfg.cmd == ("/bin/sh", "-c", "echo hi") and cfg.entrypoint == ("/init",)
    assert cfg.env == ("A=1", "B=two words", "LEGACY=some value")
    assert cfg.exposed_ports == ("53/udp", "80/tcp") and cfg.labels == (("x", "y"),)
    assert cfg.user == "1000:1000" and cfg.working_dir == "/a/b"
    assert cfg.volumes == ("/data", "/logs") and cfg.stop_signal == "SIGTERM"
    assert cfg.on_build == ("RUN make",)
    for bad in ("RUN x", "CMD", "EXPOSE http", "ENV =x", "FROM busybox"):
        with pytest.raises(ImageError) as err:
            apply_changes(ImageConfig(), [bad])
        assert "--change" in err.value.message and err.value.hint


def test_human_size_and_duration() -> None:
    assert present.human_size(0) == "0B"
    assert present.human_size(999) == "999B"
    assert present.human_size(1985721) == "1.99MB"
    assert present.human_size(1_000_000_000) == "1GB"
    assert present.human_size(123_456_789_012) == "123GB"
    cases = {0.5: "Less than a second", 1: "1 second", 59: "59 seconds",
             60: "About a minute", 119: "About a minute", 3000: "50 minutes",
             3600: "About an hour", 7200: "2 hours", 3 * 86400: "3 days",
             20 * 86400: "2 weeks", 100 * 86400: "3 months", 800 * 86400: "2 years"}
    for seconds, text in cases.items():
        assert present.human_duration(seconds) == text, seconds


def test_rows_filters_and_intermediates() -> None:
    now = datetime(2024, 1, 1, 0, 10, tzinfo=UTC)
    base = rec("a", ("docker.io/library/busybox:latest", "docker.io/me/bb:1"))
    mid = rec("b", (), parent=base.id, created="2024-01-01T00:01:00.123456789Z")
    top = rec("c", ("docker.io/me/app:2",), parent=mid.id, labels=(("tier", "web"),))
    loose = rec("d")
    images = [top, mid, base, loose]
    listing = present.rows(images, now)
    assert [(r.repository, r.tag) for r in listing] == [
        ("me/app", "2"), ("busybox", "latest"), ("me/bb", "1"), ("<none>", "<none>")]
    assert len(present.rows(images, now, show_all=True)) == 5
    assert listing[1].created_since == "10 minutes ago"
    only = present.rows(images, now, filters=present.parse_filters(["dangling=true"]))
    assert [r.record.id for r in only] == [loose.id]
    refs = present.rows(images, now, filters=present.parse_filters(["reference=me/*"]))
    assert [(r.repository, r.tag) for r in refs] == [("me/app", "2"), ("me/bb", "1")]
    tagged = present.rows(images, now, filters=present.parse_filters(["reference=*:latest"]))
    assert [r.repository for r in tagged] == ["busybox"]
    labelled = present.rows(images, now, filters=present.parse_filters(["label=tier=web"]))
    assert [r.record.id for r in labelled] == [top.id]
    for bad in (["nope"], ["color=red"], ["dangling=maybe"]):
        with pytest.raises(UsageError):
            present.parse_filters(bad)


def test_template_and_inspect() -> None:
    r = rec("a", ("docker.io/library/busybox:latest",))
    fields = {"Repository": "busybox", "Config": {"Cmd": ["sh"]}}
    assert present.render_template("{{.Repository}}\\t{{json .Config.Cmd}}", fields) \
        == 'busybox\t["sh"]'
    assert present.render_template("{{.Config.Cmd}}", fields) == '["sh"]'
    with pytest.raises(UsageError):
        present.render_template("{{.Nope}}", fields)
    doc = present.inspect(r)
    assert doc["RepoTags"] == ["busybox:latest"]
    assert doc["RepoDigests"] == ["busybox@sha256:" + "f" * 64]
    assert doc["RootFS"] == {"Type": "layers", "Layers": [D1]}
    assert present.ago("2024-01-01T00:00:00.123456789+00:00",
                       datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=5)) == "5 hours ago"


def test_plan_prune() -> None:
    tagged = rec("a", ("docker.io/library/x:1",))
    dangling = rec("b")
    used = rec("c")
    parent_of_tagged = rec("d")
    child = rec("e", ("docker.io/library/y:1",), parent=parent_of_tagged.id)
    images = [tagged, dangling, used, parent_of_tagged, child]
    ids = {r.id for r in plan_prune(images, {used.id}, all_unused=False)}
    assert ids == {dangling.id}
    ids = {r.id for r in plan_prune(images, {used.id}, all_unused=True)}
    assert ids == {tagged.id, dangling.id, parent_of_tagged.id, child.id}


def test_gc_mark() -> None:
    m = mark([Root("sha256:m", "sha256:c", ("sha256:l1", "sha256:l2"), (D1, D2))])
    assert m.blobs == {"sha256:m", "sha256:c", "sha256:l1", "sha256:l2"}
    assert m.chains == set(chain_ids([D1, D2]))
    assert mark([]).blobs == frozenset()


def test_disk_usage_counts_shared_layers_once() -> None:
    a = rec("a", diff_ids=(D1, D2))
    b = rec("b", diff_ids=(D1, D3))
    ca, cb = chain_ids([D1, D2]), chain_ids([D1, D3])
    sizes = {ca[0]: 100, ca[1]: 10, cb[1]: 20}
    usage = compute([a, b], sizes, {a.id: 2})
    ua, ub = usage.images
    assert (ua.size, ua.shared_size, ua.unique_size, ua.containers) == (110, 100, 10, 2)
    assert (ub.size, ub.shared_size, ub.unique_size) == (120, 100, 20)
    assert usage.total_size == 130 and usage.active == 1
    assert usage.reclaimable == 20 and usage.reclaimable_percent == 15


def test_max_lowers_fits_the_mount_page() -> None:
    from pathlib import Path

    from stackctl.engine.images.layers import LOWERDIR_BUDGET, max_lowers

    for base in ("/var/lib/stackctl/layers", "/tmp/stackctl-test-abcdefgh/root/layers",
                 "/" + "x" * 300):
        n = max_lowers(Path(base))
        lower = ":".join(f"{base}/{'a' * 64}/diff" for _ in range(n))
        assert n >= 2 and (len(lower) <= LOWERDIR_BUDGET or n == 2)
    assert max_lowers(Path("/var/lib/stackctl/layers")) >= 25


def test_prune_filters() -> None:
    now = datetime(2024, 1, 2, tzinfo=UTC)
    old = rec("a", created="2024-01-01T00:00:00Z", labels=(("keep", "no"),))
    new = rec("b", created="2024-01-01T23:30:00Z")
    assert present.prune_keep([], now) is None
    keep = present.prune_keep(["until=1h"], now)
    assert keep is not None and not keep(old) and keep(new)
    assert present.parse_until("1h30m", now) == now - timedelta(minutes=90)
    assert present.parse_until("2024-01-01", now) == datetime(2024, 1, 1, tzinfo=UTC)
    assert present.parse_until("1704067200", now) == datetime(2024, 1, 1, tzinfo=UTC)
    keep = present.prune_keep(["label=keep=no"], now)
    assert keep is not None and not keep(old) and keep(new)
    keep = present.prune_keep(["label!=keep"], now)
    assert keep is not None and keep(old) and not keep(new)
    for bad in (["until=soon"], ["dangling=true"]):
        with pytest.raises(UsageError):
            present.prune_keep(bad, now)


def test_commit_config_merge() -> None:
    from stackctl.engine.images.commit import RunOverrides, merged_config

    image = ImageConfig(env=("PATH=/bin", "A=1"), cmd=("sh",), entrypoint=("/init",),
                        exposed_ports=("80/tcp",), labels=(("a", "1"),))
    same = merged_config(image, RunOverrides())
    assert same == image
    cfg = merged_config(image, RunOverrides(
        command=("echo", "x"), env=("A=2", "B=3"), working_dir="/w", user="app",
        labels={"b": "2"}, expose=("53/udp", "8080"), health_test=("CMD", "true"),
        health_interval=1.5, stop_signal="SIGINT"), changes=["ENV C=4"])
    assert cfg.cmd == ("echo", "x") and cfg.entrypoint == ("/init",)
    assert cfg.env == ("PATH=/bin", "A=2", "B=3", "C=4")
    assert cfg.working_dir == "/w" and cfg.user == "app"
    assert cfg.labels == (("a", "1"), ("b", "2"))
    assert cfg.exposed_ports == ("53/udp", "80/tcp", "8080/tcp")
    assert cfg.healthcheck is not None and cfg.healthcheck.interval == 1_500_000_000
    assert cfg.stop_signal == "SIGINT"
    # --entrypoint resets the image's CMD; an empty --entrypoint clears it
    assert merged_config(image, RunOverrides(entrypoint=("/x",))).cmd is None
    cleared = merged_config(image, RunOverrides(entrypoint=(), command=("ls",)))
    assert cleared.entrypoint is None and cleared.cmd == ("ls",)


def test_created_at_is_gos_time_string() -> None:
    assert present.go_time("2024-05-01T12:00:00.123456789Z") == "2024-05-01 12:00:00 +0000 UTC"
    assert present.go_time("2024-05-01T14:00:00+02:00") == "2024-05-01 12:00:00 +0000 UTC"
    assert present.go_time("garbage") == "garbage"


def test_digest_refs_are_not_tags() -> None:
    from stackctl.engine.images.content import Descriptor
    from stackctl.engine.images.layout import IndexEntry, index_bytes

    dig = "sha256:" + "e" * 64
    r = rec("a", ("docker.io/library/busybox:1", f"docker.io/library/busybox@{dig}"))
    doc = present.inspect(r)
    assert doc["RepoTags"] == ["busybox:1"]
    assert doc["RepoDigests"] == [f"busybox@{dig}", "busybox@sha256:" + "f" * 64]
    listing = present.rows([r], datetime(2024, 1, 2, tzinfo=UTC))
    assert [(x.tag, x.digest) for x in listing] == [("1", "sha256:" + "f" * 64),
                                                   ("<none>", dig)]
    index = json.loads(index_bytes([IndexEntry(Descriptor("m", dig, 1),
                                               f"docker.io/library/busybox@{dig}")]))
    annots = index["manifests"][0]["annotations"]
    assert "org.opencontainers.image.ref.name" not in annots
