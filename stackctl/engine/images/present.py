"""How images are shown: Docker's listing rows, filters, sizes, ages, and inspect JSON.

Pure functions over ``ImageRecord`` values (the clock is a parameter), so the
CLI only renders and the shapes are unit-tested.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from stackctl.engine.images import reference
from stackctl.engine.images.store import ImageRecord
from stackctl.errors import UsageError
from stackctl.humanize import human_duration
from stackctl.humanize import human_size as _human_size
from stackctl.lightdc import dataclass

NONE = "<none>"


def human_size(size: float) -> str:
    """``docker images``' SIZE: go-units HumanSizeWithPrecision(size, 3)."""
    return _human_size(size, 3)


def parse_time(text: str) -> datetime | None:
    if not text:
        return None
    # Python 3.11 parses at most microseconds: trim nanoseconds, keep the zone
    m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", text)
    if not m:
        return None
    frac = (m.group(2) or "")[:7]
    zone = m.group(3) or "Z"
    try:
        return datetime.fromisoformat(m.group(1) + frac + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None


def go_time(created: str) -> str:
    """Go's time.String(), which docker prints for CreatedAt: ``2024-05-01 12:00:00 +0000 UTC``."""
    t = parse_time(created)
    if t is None:
        return created
    from datetime import UTC

    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def ago(created: str, now: datetime) -> str:
    t = parse_time(created)
    if t is None:
        return "N/A"
    return human_duration(max(0.0, (now - t).total_seconds())) + " ago"


@dataclass(frozen=True)
class Row:
    """One line of ``images``: an image under one of its names (or none)."""

    repository: str
    tag: str
    digest: str
    id: str
    created_since: str
    created_at: str
    size: str
    record: ImageRecord

    def fields(self, no_trunc: bool) -> dict[str, str]:
        return {
            "Repository": self.repository, "Tag": self.tag, "Digest": self.digest,
            "ID": self.record.id if no_trunc else self.record.short_id,
            "CreatedSince": self.created_since, "CreatedAt": self.created_at,
            "Size": self.size, "Containers": "N/A", "SharedSize": "N/A",
            "UniqueSize": "N/A", "VirtualSize": self.size,
        }


@dataclass(frozen=True)
class Filters:
    dangling: bool | None = None
    references: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    before: str | None = None
    since: str | None = None


def parse_filters(items: Sequence[str]) -> Filters:
    dangling: bool | None = None
    refs: list[str] = []
    labels: list[str] = []
    before = since = None
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"bad format of filter (expected name=value): {item!r}",
                             hint="e.g. --filter dangling=true, --filter reference=busy*")
        key = key.strip().lower()
        if key == "dangling":
            if value.lower() not in ("true", "false", "1", "0"):
                raise UsageError(f"invalid filter 'dangling={value}'",
                                 hint="dangling takes true or false")
            dangling = value.lower() in ("true", "1")
        elif key == "reference":
            refs.append(value)
        elif key == "label":
            labels.append(value)
        elif key == "before":
            before = value
        elif key == "since":
            since = value
        else:
            raise UsageError(f"invalid filter {key!r}",
                             hint="filters: dangling, reference, label, before, since")
    return Filters(dangling, tuple(refs), tuple(labels), before, since)


def _label_match(rec: ImageRecord, want: str) -> bool:
    key, eq, value = want.partition("=")
    labels = rec.config.labels_dict
    return key in labels and (not eq or labels[key] == value)


def _ref_match(ref: str, pattern: str) -> bool:
    r = reference.parse(ref)
    fam, tag = r.familiar_name, r.tag or ""
    if ":" in pattern.rsplit("/", 1)[-1]:
        return fnmatch.fnmatchcase(f"{fam}:{tag}", pattern) or \
            fnmatch.fnmatchcase(f"{r.name}:{tag}", pattern)
    return fnmatch.fnmatchcase(fam, pattern) or fnmatch.fnmatchcase(r.name, pattern)


def rows(records: Sequence[ImageRecord], now: datetime, *, show_all: bool = False,
         filters: Filters = Filters(), before_created: str | None = None,
         since_created: str | None = None) -> list[Row]:
    """The ``images`` listing, newest first, one row per name (Docker's order)."""
    parents = {r.parent for r in records if r.parent}
    out: list[Row] = []
    for rec in records:
        if not show_all and rec.dangling and rec.id in parents:
            continue  # an intermediate build image
        if filters.dangling is not None and rec.dangling != filters.dangling:
            continue
        if not all(_label_match(rec, lab) for lab in filters.labels):
            continue
        if before_created is not None and not rec.created < before_created:
            continue
        if since_created is not None and not rec.created > since_created:
            continue
        names = list(rec.refs)
        if filters.references:
            names = [n for n in names if any(_ref_match(n, p) for p in filters.references)]
            if not names:
                continue
        size = human_size(rec.size)
        created_at = go_time(rec.created)
        since = ago(rec.created, now)
        if not names:
            out.append(Row(NONE, NONE, NONE, rec.short_id, since, created_at, size, rec))
        for name in names:
            r = reference.parse(name)
            digest = r.digest or rec.manifest_digest
            out.append(Row(r.familiar_name, r.tag or NONE, digest, rec.short_id, since,
                           created_at, size, rec))
    return out


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_until(value: str, now: datetime) -> datetime:
    """``until=`` of prune filters: a Go duration (``24h``, ``1h30m``) before ``now``,
    an RFC 3339 timestamp, or Unix seconds."""
    text = value.strip()
    parts = _DURATION.findall(text)
    if parts and "".join(n + u for n, u in parts) == text:
        from datetime import timedelta

        return now - timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))
    if re.fullmatch(r"\d+(\.\d+)?", text):
        from datetime import UTC

        return datetime.fromtimestamp(float(text), UTC)
    stamp = parse_time(text if "T" in text else text + "T00:00:00Z")
    if stamp is None:
        raise UsageError(f"invalid filter 'until={value}'",
                         hint="give a duration like 24h or a timestamp like 2024-01-02T15:04:05Z")
    return stamp


def prune_keep(filters: Sequence[str], now: datetime) -> Callable[[ImageRecord], bool] | None:
    """The ``image prune --filter`` values as a predicate of images to *keep*."""
    labels: list[tuple[bool, str, str | None]] = []
    until: datetime | None = None
    for f in filters:
        key, _, value = f.partition("=")
        negate = key.endswith("!")
        key = key.rstrip("!").strip().lower()
        if key == "until" and not negate:
            until = parse_until(value, now)
            continue
        if key != "label":
            raise UsageError(f"invalid filter {f!r} for image prune",
                             hint="image prune filters: until=24h, label=K[=V], label!=K[=V]")
        k, eq, v = value.partition("=")
        labels.append((negate, k, v if eq else None))
    if not labels and until is None:
        return None

    def keep(rec: ImageRecord) -> bool:
        if until is not None:
            created = parse_time(rec.created)
            if created is not None and created >= until:
                return True
        have = rec.config.labels_dict
        # pruned only if every label filter matches: keep on the first that does not
        return any((k in have and (v is None or have[k] == v)) == negate
                   for negate, k, v in labels)

    return keep


def render_template(template: str, fields: dict[str, Any]) -> str:
    """A small subset of Go templates: ``{{.Field}}``, ``{{json .}}``, ``{{json .Field}}``,
    and ``\\t``/``\\n`` escapes (as the docker CLI accepts them)."""
    def sub(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        if expr == "json .":
            return json.dumps(fields, separators=(",", ":"))
        as_json = expr.startswith("json ")
        if as_json:
            expr = expr[5:].strip()
        if not expr.startswith("."):
            raise UsageError(f"template: unsupported expression {{{{{m.group(1)}}}}}",
                             hint="use {{.Field}} or {{json .}}")
        value: Any = fields
        for part in expr[1:].split("."):
            if not part:
                continue
            if not isinstance(value, dict) or part not in value:
                raise UsageError(f"template: no field {expr!r}",
                                 hint=f"fields: {', '.join(sorted(fields))}")
            value = value[part]
        if as_json or isinstance(value, dict | list):
            return json.dumps(value, separators=(",", ":"))
        return str(value)

    text = template.replace("\\t", "\t").replace("\\n", "\n")
    return re.sub(r"\{\{(.*?)\}\}", sub, text)


def inspect(rec: ImageRecord, *, layer_sizes: Sequence[int] = ()) -> dict[str, Any]:
    """``docker image inspect``'s shape."""
    img = rec.image
    cfg = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False,
           "AttachStdout": False, "AttachStderr": False, "Tty": False, "OpenStdin": False,
           "StdinOnce": False, "Env": None, "Cmd": None, "Image": "", "Volumes": None,
           "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None}
    cfg.update(img.config.to_json())
    parsed = [reference.parse(r) for r in rec.refs]
    repo_digests = sorted({f"{p.name}@{p.digest or rec.manifest_digest}" for p in parsed})
    comment = img.history[-1].comment if img.history else ""
    return {
        "Id": rec.id,
        "RepoTags": [p.familiar() for p in parsed if p.tag is not None and p.digest is None],
        "RepoDigests": [reference.familiar(d) for d in repo_digests],
        "Parent": rec.parent,
        "Comment": comment,
        "Created": img.created,
        "DockerVersion": "",
        "Author": img.author,
        "Config": cfg,
        "Architecture": img.architecture,
        **({"Variant": img.variant} if img.variant else {}),
        "Os": img.os,
        "Size": rec.size,
        "GraphDriver": {"Name": "overlay2", "Data": None},
        "RootFS": {"Type": "layers", "Layers": list(img.diff_ids)},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


__all__ = ["Filters", "Row", "ago", "go_time", "human_duration", "human_size", "inspect",
           "parse_filters", "parse_time", "parse_until", "prune_keep", "render_template", "rows"]
