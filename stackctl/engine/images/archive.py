"""``save`` and ``load``: image archives that docker and OCI tools exchange.

``save`` writes one tar that is both formats at once, as Docker 25+ does:

    oci-layout, index.json, blobs/sha256/<hex>   an OCI image layout (manifests,
                                                 configs, uncompressed layer tars)
    manifest.json                                docker-archive: [{Config, RepoTags, Layers}]
    repositories                                 legacy {repo: {tag: top layer hex}}

Entries are sorted with mtime 0 and root owner, so saving the same images
twice gives byte-identical archives.

``load`` reads either: an OCI layout (index.json, following nested indexes to
the manifest for this platform) keeps manifest and config bytes exact, so a
round trip gives the same image IDs *and* manifest digests; a docker-archive
(manifest.json, including the pre-25 ``<id>.json`` + ``<layer>/layer.tar``
form) keeps the config bytes exact. Names come from ``io.containerd.image.name``
/ ``org.opencontainers.image.ref.name`` annotations or ``RepoTags``. Every
blob is verified against its digest and every layer against the config's
diff ID before anything is recorded; members are only read, never extracted
to disk (layers are unpacked by the store's safe extractor).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

from stackctl.engine.images import reference
from stackctl.engine.images.config import Image, host_architecture
from stackctl.engine.images.content import Descriptor, digest_hex
from stackctl.engine.images.layers import ingest_layer_blob
from stackctl.engine.images.layout import (
    ANNOT_IMAGE_NAME,
    ANNOT_REF_NAME,
    IndexEntry,
    Manifest,
    index_bytes,
    parse_index,
)
from stackctl.engine.images.store import ImageRecord, ImageStore, Layer
from stackctl.errors import ImageError

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
_BAD = "the archive is not a docker save / OCI layout archive, or it is damaged"


# -- save ---------------------------------------------------------------------------------


def save(store: ImageStore, names: Sequence[str], dest: Path | IO[bytes], *,
         docker: bool = True) -> None:
    """Write the named images (and every tag they were named by) into one archive."""
    picked: list[tuple[ImageRecord, list[str]]] = []
    for name in names:
        rec = store.resolve(name)
        try:
            ref = str(reference.parse(name))
            tags = [ref] if ref in rec.refs and "@" not in ref else []
        except ImageError:
            tags = []  # saved by ID: docker writes no RepoTags then
        for prev, prev_tags in picked:
            if prev.id == rec.id:
                prev_tags.extend(t for t in tags if t not in prev_tags)
                break
        else:
            picked.append((rec, tags))
    blobs: dict[str, None] = {}
    entries: list[IndexEntry] = []
    docker_manifest: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for rec, tags in picked:
        manifest = store.manifest(rec)
        mdesc = Descriptor(manifest.media_type, rec.manifest_digest,
                           store.content.size(rec.manifest_digest))
        for d in (rec.manifest_digest, rec.id, *(x.digest for x in manifest.layers)):
            blobs[d] = None
        entries.extend(IndexEntry(mdesc, t) for t in tags)
        if not tags:
            entries.append(IndexEntry(mdesc, None))
        layer_paths = [f"blobs/sha256/{digest_hex(x.digest)}" for x in manifest.layers]
        docker_manifest.append({
            "Config": f"blobs/sha256/{digest_hex(rec.id)}",
            "RepoTags": [reference.familiar(t) for t in tags] or None,
            "Layers": layer_paths,
        })
        for t in tags:
            r = reference.parse(t)
            if layer_paths:
                repositories.setdefault(r.familiar_name, {})[r.tag or "latest"] = \
                    layer_paths[-1].rsplit("/", 1)[1]
    with ExitStack() as stack:
        if isinstance(dest, Path):
            tmp = dest.with_name(f".{dest.name}.tmp")
            fh: IO[bytes] = stack.enter_context(open(tmp, "wb"))
        else:
            fh = dest
        with tarfile.open(fileobj=fh, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _add_dir(tar, "blobs")
            _add_dir(tar, "blobs/sha256")
            for digest in sorted(blobs):
                path = store.content.path(digest)
                info = _info(f"blobs/sha256/{digest_hex(digest)}", path.stat().st_size)
                with open(path, "rb") as src:
                    tar.addfile(info, src)
            _add_bytes(tar, "index.json", index_bytes(entries))
            if docker:
                _add_bytes(tar, "manifest.json", json.dumps(docker_manifest).encode())
                if repositories:
                    _add_bytes(tar, "repositories", json.dumps(repositories).encode())
            _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        if isinstance(dest, Path):
            fh.flush()
            fh.close()
            tmp.replace(dest)


def _info(name: str, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid = size, 0, 0o644, 0, 0
    return info


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = _info(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    tar.addfile(info)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


# -- load ---------------------------------------------------------------------------------


def load(store: ImageStore, src: Path | IO[bytes]) -> list[tuple[ImageRecord, list[str]]]:
    """Load every image of an archive; return each record with the names it got."""
    with _seekable(store, src) as path:
        try:
            tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 - closed below
        except (tarfile.TarError, OSError) as exc:
            raise ImageError(f"cannot read the image archive: {exc}", hint=_BAD) from exc
        with tar:
            reader = _Reader(tar)
            if reader.has("index.json"):
                return _load_oci(store, reader)
            if reader.has("manifest.json"):
                return _load_docker(store, reader)
            raise ImageError("the archive has neither index.json nor manifest.json", hint=_BAD)


@contextmanager
def _seekable(store: ImageStore, src: Path | IO[bytes]) -> Iterator[Path]:
    if isinstance(src, Path):
        if not src.is_file():
            raise ImageError(f"open {src}: no such file", hint="give an archive made by save")
        yield src
        return
    store.tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=store.tmp, prefix="load-") as spool:
        shutil.copyfileobj(src, spool, 1 << 20)
        spool.flush()
        yield Path(spool.name)


class _Reader:
    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.members = {m.name.lstrip("./") if m.name.startswith("./") else m.name: m
                        for m in tar.getmembers()}

    def has(self, name: str) -> bool:
        return name in self.members

    def open(self, name: str) -> IO[bytes]:
        m = self.members.get(name.lstrip("/"))
        if m is None or not m.isreg():
            raise ImageError(f"the archive has no file {name!r}", hint=_BAD)
        fh = self.tar.extractfile(m)
        assert fh is not None
        return fh

    def read(self, name: str, limit: int = 16 << 20) -> bytes:
        with self.open(name) as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise ImageError(f"{name} in the archive is too large for a JSON document", hint=_BAD)
        return data

    def blob(self, digest: str) -> bytes:
        data = self.read(f"blobs/sha256/{digest_hex(digest)}")
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise ImageError(f"blob {digest} in the archive does not match its digest", hint=_BAD)
        return data


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ImageError(f"{what} in the archive is not valid JSON: {exc}", hint=_BAD) from exc


def _ingest_layer(store: ImageStore, fh: IO[bytes], media_type: str | None,
                  expected: str | None) -> Layer:
    return ingest_layer_blob(store, fh, media_type, expected)


def _check_diff_ids(image: Image, layers: list[Layer], what: str) -> None:
    got = tuple(x.diff_id for x in layers)
    if got != image.diff_ids:
        raise ImageError(f"{what}: layer contents do not match the config's diff_ids "
                         f"({len(got)} layers, {len(image.diff_ids)} diff IDs)", hint=_BAD)


def _load_oci(store: ImageStore, r: _Reader) -> list[tuple[ImageRecord, list[str]]]:
    docker_tags: dict[str, list[str]] = {}
    if r.has("manifest.json"):
        for item in _json(r.read("manifest.json"), "manifest.json") or ():
            cfg = str(item.get("Config", ""))
            docker_tags.setdefault(cfg.rsplit("/", 1)[-1].removesuffix(".json"), []).extend(
                item.get("RepoTags") or ())
    out: dict[str, tuple[ImageRecord, list[str]]] = {}
    for desc, annots in parse_index(r.read("index.json")):
        mdesc = _pick_platform(r, desc)
        mbytes = r.blob(mdesc.digest)
        manifest = Manifest.from_bytes(mbytes)
        cbytes = r.blob(manifest.config.digest)
        image = Image.from_bytes(cbytes)
        layers = []
        with store.writing():
            for ld in manifest.layers:
                with r.open(f"blobs/sha256/{digest_hex(ld.digest)}") as fh:
                    layers.append(_ingest_layer(store, fh, ld.media_type, ld.digest))
            _check_diff_ids(image, layers, f"image {manifest.config.digest[:19]}")
            names = _names(annots, docker_tags.get(digest_hex(manifest.config.digest), []))
            rec = store.add_image(image, layers, names, config_bytes=cbytes,
                                  manifest_bytes=mbytes)
        prev = out.get(rec.id)
        merged = sorted({*(prev[1] if prev else []), *names})
        out[rec.id] = (rec, merged)
    return [(store.get(i), n) for i, (_rec, n) in out.items()]


def _pick_platform(r: _Reader, desc: Descriptor, depth: int = 0) -> Descriptor:
    if desc.media_type not in INDEX_TYPES:
        return desc
    if depth > 4:
        raise ImageError("image indexes nested too deeply", hint=_BAD)
    arch = host_architecture()
    candidates = []
    for sub in _json(r.blob(desc.digest), "image index").get("manifests") or ():
        plat = sub.get("platform") or {}
        if plat.get("os", "linux") == "linux" and plat.get("architecture", arch) == arch:
            candidates.append(Descriptor(sub.get("mediaType", ""), sub["digest"],
                                         int(sub["size"])))
    for cand in candidates:
        if r.has(f"blobs/sha256/{digest_hex(cand.digest)}"):
            return _pick_platform(r, cand, depth + 1)
    raise ImageError(f"the archive has no image for linux/{arch}",
                     hint="save the image for this platform")


def _names(annots: dict[str, str], repo_tags: list[str]) -> list[str]:
    full = annots.get(ANNOT_IMAGE_NAME)
    if full:
        return [str(reference.parse(full))]
    # ref.name is usually a bare tag ("latest"); tools like skopeo put a whole name there
    ref_name = annots.get(ANNOT_REF_NAME, "")
    if any(c in ref_name for c in "/:"):
        try:
            return [str(reference.parse(ref_name))]
        except ImageError:
            pass
    return [str(reference.parse(t)) for t in repo_tags]


def _load_docker(store: ImageStore, r: _Reader) -> list[tuple[ImageRecord, list[str]]]:
    items = _json(r.read("manifest.json"), "manifest.json")
    if not isinstance(items, list):
        raise ImageError("manifest.json is not a list", hint=_BAD)
    out = []
    for item in items:
        cbytes = r.read(str(item.get("Config", "")))
        image = Image.from_bytes(cbytes)
        with store.writing():
            layers = []
            for path in item.get("Layers") or ():
                with r.open(str(path)) as fh:
                    layers.append(_ingest_layer(store, fh, None, None))
            _check_diff_ids(image, layers, f"image {item.get('Config')}")
            names = [str(reference.parse(t)) for t in item.get("RepoTags") or ()]
            rec = store.add_image(image, layers, names, config_bytes=cbytes)
        out.append((rec, names))
    return out


__all__ = ["load", "save"]
