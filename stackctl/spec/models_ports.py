"""Ports, exposed ports and volume mounts of a service: short syntax -> long form.

The models always hold the long form; the short strings users write
(``127.0.0.1:8000-8001:80-81/udp``, ``./src:/app:ro,z``) are expanded on the
way in, as compose-go's loader does whether or not the project is normalised.
"""

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from stackctl.spec.models_base import Bool, Bytes, ExtModel, SpecModel, Str, lenient

__all__ = [
    "ServicePort",
    "ServiceVolume",
    "VolumeBind",
    "VolumeImage",
    "VolumeTmpfs",
    "VolumeVolume",
    "expand_ports",
    "parse_volume",
]

_PROTOCOLS = ("tcp", "udp", "sctp")
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


def _parse_range(text: str, what: str, spec: str) -> tuple[int, int]:
    where = f" in {spec!r}" if spec != text else ""
    m = _RANGE.fullmatch(text)
    if m is None:
        raise ValueError(f"invalid {what} port {text!r}{where}: expected a number or a range a-b")
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else start
    for p in (start, end):
        if not 0 < p <= 65535:
            raise ValueError(f"invalid {what} port {p}{where}: must be 1-65535")
    if end < start:
        raise ValueError(f"invalid {what} port range {text!r}{where}: end before start")
    return start, end


def _split_host(rest: str, spec: str) -> tuple[str | None, str | None, str]:
    """``[ip:][published:]target`` -> (host_ip, published, target); IPv6 may be bracketed."""
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0 or rest[close + 1 : close + 2] != ":":
            raise ValueError(
                f"invalid port {spec!r}: bad IPv6 address, expected [addr]:host:container"
            )
        ip = rest[1:close]
        tail = rest[close + 2 :].split(":")
        if len(tail) != 2:
            raise ValueError(f"invalid port {spec!r}: expected [ip]:host:container")
        return ip, tail[0], tail[1]
    parts = rest.split(":")
    if len(parts) == 1:
        return None, None, parts[0]
    if len(parts) == 2:
        return None, parts[0], parts[1]
    # ip:published:target, where an unbracketed IPv6 address holds more colons
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def expand_ports(spec: str | int) -> list[dict[str, Any]]:
    """One short-syntax port -> long-form dicts (ranges expanded pairwise, as compose does)."""
    text = str(spec).strip()
    proto = "tcp"
    if "/" in text:
        text, proto = text.rsplit("/", 1)
        if proto not in _PROTOCOLS:
            raise ValueError(
                f"invalid protocol {proto!r} in port {spec!r}: expected tcp, udp or sctp"
            )
    host_ip, published, target = _split_host(text, str(spec))
    t0, t1 = _parse_range(target, "container", str(spec))
    base: dict[str, Any] = {"mode": "ingress", "protocol": proto}
    if host_ip:
        base["host_ip"] = host_ip
    if published is None or published == "":
        return [{**base, "target": p} for p in range(t0, t1 + 1)]
    p0, p1 = _parse_range(published, "host", str(spec))
    if t0 == t1:
        pub = str(p0) if p0 == p1 else f"{p0}-{p1}"
        return [{**base, "target": t0, "published": pub}]
    if p1 - p0 != t1 - t0:
        raise ValueError(
            f"invalid port range {spec!r}: host range {published} and container range "
            f"{target} differ in length"
        )
    return [
        {**base, "target": t, "published": str(p0 + i)} for i, t in enumerate(range(t0, t1 + 1))
    ]


def _published(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value:
        _parse_range(value, "published", value)
    return value


class ServicePort(ExtModel):
    name: Str | None = None
    mode: Annotated[Literal["ingress", "host"], lenient] = "ingress"
    host_ip: Str | None = None
    target: Annotated[int, Field(ge=1, le=65535), lenient]
    published: Annotated[str | None, BeforeValidator(_published), lenient] = None
    protocol: Annotated[Literal["tcp", "udp", "sctp"], lenient] = "tcp"
    app_protocol: Str | None = None


def ports_list(value: Any) -> Any:
    """Expand short-syntax items of a ``ports:`` list; long-form mappings pass through."""
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for item in value:
        if isinstance(item, str | int) and not isinstance(item, bool):
            try:
                out.extend(expand_ports(item))
            except ValueError:
                out.append(item)  # reported by the item validator, at its index
        else:
            out.append(item)
    return out


def _port_item(value: Any) -> Any:
    if isinstance(value, str | int) and not isinstance(value, bool):
        expanded = expand_ports(value)  # raises the precise message
        if len(expanded) == 1:
            return expanded[0]
    return value


PortItem = Annotated[
    ServicePort,
    BeforeValidator(_port_item, json_schema_input_type=str | int | ServicePort),
    lenient,
]

_EXPOSE = re.compile(r"\d+(-\d+)?(/(tcp|udp|sctp))?")


def expose_item(value: Any) -> Any:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str) and not _EXPOSE.fullmatch(text):
        raise ValueError(f"invalid exposed port {value!r}: expected PORT[-PORT][/PROTOCOL]")
    return text


# --- volumes -----------------------------------------------------------------


class VolumeBind(SpecModel):
    propagation: Str | None = None
    create_host_path: Bool | None = None
    recursive: Annotated[Literal["enabled", "disabled", "writable", "readonly"], lenient] | None = (
        None
    )
    selinux: Annotated[Literal["z", "Z"], lenient] | None = None


class VolumeVolume(SpecModel):
    nocopy: Bool | None = None
    subpath: Str | None = None
    labels: dict[str, Str] | None = None


def _octal_mode(value: Any) -> Any:
    if isinstance(value, str) and not value.startswith("$"):
        try:
            return int(value, 8)
        except ValueError:
            raise ValueError(
                f"invalid file mode {value!r}: expected an octal number such as 0440"
            ) from None
    return value


FileMode = Annotated[int, BeforeValidator(_octal_mode), lenient]


class VolumeTmpfs(SpecModel):
    size: Bytes | None = None
    mode: FileMode | None = None


class VolumeImage(SpecModel):
    subpath: Str | None = None


_MODES_BIND_PROP = {"shared", "slave", "private", "rshared", "rslave", "rprivate"}
_MODES_CONSISTENCY = {"cached", "delegated", "consistent"}


def _is_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or source in (".", "..")


def parse_volume(spec: str) -> dict[str, Any]:
    """``[SOURCE:]TARGET[:MODE,...]`` -> the long form compose-go produces."""
    parts = spec.split(":")
    if len(parts) > 3 or any(p == "" for p in parts):
        raise ValueError(f"invalid volume {spec!r}: expected [SOURCE:]TARGET[:MODE]")
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0], "volume": {}}
    source, target = parts[0], parts[1]
    out: dict[str, Any] = {"source": source, "target": target}
    bind = _is_path(source)
    out["type"] = "bind" if bind else "volume"
    sub: dict[str, Any] = {"create_host_path": True} if bind else {}
    for opt in parts[2].split(",") if len(parts) == 3 else []:
        if opt == "ro":
            out["read_only"] = True
        elif opt == "rw":
            out["read_only"] = False
        elif opt in ("z", "Z") and bind:
            sub["selinux"] = opt
        elif opt in _MODES_BIND_PROP and bind:
            sub["propagation"] = opt
        elif opt in _MODES_CONSISTENCY:
            out["consistency"] = opt
        elif opt == "nocopy" and not bind:
            sub["nocopy"] = True
        else:
            kind = "bind mount" if bind else "named volume"
            raise ValueError(f"invalid mode {opt!r} for a {kind} in volume {spec!r}")
    if out.get("read_only") is False:
        del out["read_only"]
    out["bind" if bind else "volume"] = sub
    return out


def _volume_item(value: Any) -> Any:
    if isinstance(value, str):
        return parse_volume(value)
    return value


class ServiceVolume(ExtModel):
    type: Annotated[Literal["bind", "volume", "tmpfs", "npipe", "cluster", "image"], lenient]
    source: Str | None = None
    target: Str
    read_only: Bool | None = None
    consistency: Str | None = None
    bind: VolumeBind | None = None
    volume: VolumeVolume | None = None
    tmpfs: VolumeTmpfs | None = None
    image: VolumeImage | None = None

    @field_validator("target")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") and "$" not in value:
            raise ValueError(f"mount target {value!r} must be an absolute path in the container")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "ServiceVolume":
        if self.type in ("bind", "npipe", "image") and not self.source:
            raise ValueError(f"a {self.type} mount needs a source")
        if self.type == "tmpfs" and self.source:
            raise ValueError("a tmpfs mount takes no source")
        for kind in ("bind", "volume", "tmpfs", "image"):
            if getattr(self, kind) is not None and self.type != kind:
                raise ValueError(f"{kind} options do not apply to a mount of type {self.type}")
        return self


VolumeItem = Annotated[
    ServiceVolume,
    BeforeValidator(_volume_item, json_schema_input_type=str | ServiceVolume),
    lenient,
]
