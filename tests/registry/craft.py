"""Images made directly on the test registry (no local store): gzip layers, Docker v2
schema 2 or OCI media types, multi-platform indexes. For pull tests."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from dataclasses import dataclass

from tests.registry.server import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Registry,
    sha256,
)

DOCKER = {"manifest": DOCKER_MANIFEST, "config": "application/vnd.docker.container.image.v1+json",
          "layer": "application/vnd.docker.image.rootfs.diff.tar.gzip", "index": DOCKER_LIST}
OCI = {"manifest": OCI_MANIFEST, "config": "application/vnd.oci.image.config.v1+json",
       "layer": "application/vnd.oci.image.layer.v1.tar+gzip", "index": OCI_INDEX}


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass(frozen=True)
class Crafted:
    manifest_digest: str
    config_digest: str
    layer_digests: tuple[str, ...]


def craft_image(reg: Registry, repo: str, tag: str | None, layers: list[dict[str, bytes]], *,
                types: dict[str, str] = DOCKER, arch: str = "amd64",
                bad_diff_id: bool = False) -> Crafted:
    blobs, diff_ids = [], []
    for files in layers:
        raw = layer_tar(files)
        diff_ids.append(sha256(raw if not bad_diff_id else raw + b"x"))
        blobs.append(gzip.compress(raw, mtime=0))
    config = json.dumps({"architecture": arch, "os": "linux",
                         "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "history": [{"created_by": f"layer {i}"} for i in range(len(blobs))]},
                        sort_keys=True).encode()
    cdigest = reg.put_blob(repo, config)
    ldigests = tuple(reg.put_blob(repo, b) for b in blobs)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": types["manifest"],
        "config": {"mediaType": types["config"], "digest": cdigest, "size": len(config)},
        "layers": [{"mediaType": types["layer"], "digest": d, "size": len(b)}
                   for d, b in zip(ldigests, blobs, strict=True)]}).encode()
    mdigest = reg.put_manifest(repo, tag, types["manifest"], manifest)
    return Crafted(mdigest, cdigest, ldigests)


def craft_index(reg: Registry, repo: str, tag: str, entries: list[tuple[Crafted, dict[str, str]]],
                *, types: dict[str, str] = DOCKER) -> str:
    manifests = []
    for crafted, platform in entries:
        _media, data = reg.manifests[repo][crafted.manifest_digest]
        manifests.append({"mediaType": types["manifest"], "digest": crafted.manifest_digest,
                          "size": len(data), "platform": platform})
    doc = json.dumps({"schemaVersion": 2, "mediaType": types["index"],
                      "manifests": manifests}).encode()
    return reg.put_manifest(repo, tag, types["index"], doc)
