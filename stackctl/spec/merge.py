"""Compose's merge rules, for ``-f base -f override`` and for ``extends``.

``merge(base, base_pos, over, over_pos, path)`` returns the merged value and
its Pos tree; inputs are never modified (the result may share untouched
subtrees with them). The rules, by key path (``*`` = any name):

- mappings merge key by key, recursively; a scalar in ``over`` replaces;
  ``null`` in ``over`` keeps the base value (compose-go does the same);
- sequences are appended, except the paths in ``_UNIQUE`` where entries are
  appended then de-duplicated by an identity (ports by host_ip/published/
  target/protocol, volumes by target, secrets/configs by target, dns,
  expose, cap_add... by value): a later entry takes the place of the earlier
  one with the same identity;
- ``environment``, ``labels``, ``sysctls``, ``extra_hosts``, ``build.args``...
  (``_BY_NAME``) accept list or mapping form: both sides become mappings and
  merge by name;
- ``command``, ``entrypoint``, ``healthcheck.test`` are replaced whole;
- ``build`` (string = context), ``depends_on`` and ``networks`` (list form =
  names) become mappings first; ``logging`` merges only for the same driver;
  IPAM pools (``networks.*.ipam.config``) merge by subnet;
- ``!reset`` in ``over`` removes the key, ``!override`` replaces the value.

Positions follow the values: an entry taken from ``over`` points into the
override file, a merged mapping keeps the location of its base key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stackctl.errors import SpecError
from stackctl.spec.options import KeyPath, format_key_path
from stackctl.spec.yamlpos import RESET, Override, Pos

__all__ = ["merge", "merge_documents"]

Located = tuple[Any, Pos]
Rule = Callable[[Any, Pos, Any, Pos, KeyPath], Located]
Pattern = tuple[str, ...]


def merge_documents(base: dict[str, Any], base_pos: Pos, over: dict[str, Any],
                    over_pos: Pos) -> tuple[dict[str, Any], Pos]:
    """Merge one whole stack file onto another."""
    data, pos = merge(base, base_pos, over, over_pos, ())
    assert isinstance(data, dict)
    return data, pos


def merge(base: Any, base_pos: Pos, over: Any, over_pos: Pos, path: KeyPath) -> Located:
    if isinstance(over, Override):
        return over.value, over_pos
    if isinstance(base, Override):
        base = base.value
    if base is RESET:
        return over, over_pos
    rule = _rule(path)
    if rule is not None:
        return rule(base, base_pos, over, over_pos, path)
    return _default(base, base_pos, over, over_pos, path)


def _default(base: Any, bpos: Pos, over: Any, opos: Pos, path: KeyPath) -> Located:
    if over is None:
        return base, bpos
    if isinstance(base, dict):
        if not isinstance(over, dict):
            raise _mismatch(base, over, opos, path)
        return _merge_mappings(base, bpos, over, opos, path)
    if isinstance(base, list):
        if not isinstance(over, list):
            raise _mismatch(base, over, opos, path)
        return base + over, Pos(bpos.where, _kids(bpos, base) + _kids(opos, over))
    return over, opos


def _merge_mappings(base: dict[str, Any], bpos: Pos, over: dict[str, Any], opos: Pos,
                    path: KeyPath) -> Located:
    out = dict(base)
    bkids = bpos.children if isinstance(bpos.children, dict) else {}
    kids = dict(bkids)
    for key, value in over.items():
        vpos = opos.child(key)
        if value is RESET:
            out.pop(key, None)
            kids.pop(key, None)
        elif key not in out:
            out[key], kids[key] = value, vpos
        else:
            out[key], kids[key] = merge(out[key], kids.get(key, bpos), value, vpos,
                                        (*path, key))
    return out, Pos(bpos.where, kids)


def _kids(pos: Pos, seq: list[Any]) -> list[Pos]:
    c = pos.children
    if isinstance(c, list) and len(c) == len(seq):
        return list(c)
    return [pos] * len(seq)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a sequence"
    return "a scalar"


def _mismatch(base: Any, over: Any, opos: Pos, path: KeyPath) -> SpecError:
    return SpecError(
        f"cannot merge {_kind(over)} into {_kind(base)}",
        location=opos.loc, key_path=format_key_path(path) or None,
        hint="write the same form in both files, or tag the value with !override to replace it",
    )


# -- rules -------------------------------------------------------------------

def _replace(base: Any, bpos: Pos, over: Any, opos: Pos, path: KeyPath) -> Located:
    return over, opos


def _as_sequence(value: Any, pos: Pos) -> tuple[list[Any], list[Pos]]:
    if value is None:
        return [], []
    if isinstance(value, list):
        return value, _kids(pos, value)
    return [value], [pos]  # a single entry, e.g. dns: 1.1.1.1 or env_file: .env


def _unique(identity: Callable[[Any], Any]) -> Rule:
    def rule(base: Any, bpos: Pos, over: Any, opos: Pos, path: KeyPath) -> Located:
        if over is None:
            return base, bpos
        items, kids = _as_sequence(base, bpos)
        more, more_kids = _as_sequence(over, opos)
        out: list[Any] = []
        out_kids: list[Pos] = []
        seen: dict[Any, int] = {}
        for item, kid in zip(items + more, kids + more_kids, strict=True):
            key = _hashable(identity(item))
            if key in seen:
                out[seen[key]], out_kids[seen[key]] = item, kid
            else:
                seen[key] = len(out)
                out.append(item)
                out_kids.append(kid)
        return out, Pos(bpos.where, out_kids)

    return rule


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _same(item: Any) -> Any:
    # 80 and "80" are the same entry (expose, dns...): compare scalars as text.
    return item if isinstance(item, dict | list) else str(item)


def _port_identity(item: Any) -> Any:
    if isinstance(item, dict):
        ip = str(item.get("host_ip") or "")
        published = item.get("published")
        return (
            "" if ip == "0.0.0.0" else ip,
            "" if published is None else str(published),
            str(item.get("target")),
            str(item.get("protocol") or "tcp"),
        )
    text = str(item)
    protocol = "tcp"
    if "/" in text:
        text, protocol = text.rsplit("/", 1)
    ip = ""
    if text.startswith("["):  # [::1]:8080:80
        end = text.find("]")
        ip, text = text[1:end], text[end + 2:]
    parts = text.rsplit(":", 2)
    if len(parts) == 3:
        ip = parts[0]
    published = parts[-2] if len(parts) >= 2 else ""
    return ("" if ip == "0.0.0.0" else ip, published, parts[-1], protocol)


def _volume_target(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target", _hashable(item))
    parts = str(item).split(":")
    return parts[0] if len(parts) == 1 else parts[1]


def _mount_target(default_dir: str) -> Callable[[Any], Any]:
    def identity(item: Any) -> Any:
        if isinstance(item, dict):
            target = item.get("target")
            return target if target else f"{default_dir}/{item.get('source')}"
        return f"{default_dir}/{item}"

    return identity


def _env_file_path(item: Any) -> Any:
    return item.get("path") if isinstance(item, dict) else item


def _to_mapping(value: Any, pos: Pos, split: Callable[[str], tuple[str, Any]],
                multi: bool = False) -> tuple[dict[str, Any], dict[str, Pos]]:
    """List form (``KEY=VALUE`` strings) or mapping form -> mapping + Pos by key.
    A key listed twice keeps the last value, or with ``multi`` all of them as a
    list (a host may have several addresses in extra_hosts)."""
    if isinstance(value, dict):
        kids = pos.children if isinstance(pos.children, dict) else {}
        return dict(value), {k: kids.get(k, pos) for k in value}
    out: dict[str, Any] = {}
    out_kids: dict[str, Pos] = {}
    if isinstance(value, list):
        for item, kid in zip(value, _kids(pos, value), strict=True):
            key, val = split(str(item))
            if multi and key in out:
                previous = out[key]
                val = [*(previous if isinstance(previous, list) else [previous]), val]
            else:
                out_kids[key] = kid
            out[key] = val
    return out, out_kids


def _split_assignment(item: str) -> tuple[str, Any]:
    key, sep, value = item.partition("=")
    return key, (value if sep else None)


def _split_host(item: str) -> tuple[str, Any]:
    # "host=ip" (current syntax) or "host:ip" (legacy; the ip may be IPv6).
    sep = "=" if "=" in item else ":"
    host, found, ip = item.partition(sep)
    if not found or not host or not ip:
        raise ValueError(item)
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    return host, ip


def _by_name(split: Callable[[str], tuple[str, Any]] = _split_assignment,
             multi: bool = False) -> Rule:
    def rule(base: Any, bpos: Pos, over: Any, opos: Pos, path: KeyPath) -> Located:
        if over is None:
            return base, bpos
        if not isinstance(base, dict | list) or not isinstance(over, dict | list):
            return over, opos  # not a valid form: let validation report it
        try:
            out, kids = _to_mapping(base, bpos, split, multi)
            more, more_kids = _to_mapping(over, opos, split, multi)
        except ValueError:  # a malformed entry: keep the lists for validation to report
            return _default(base, bpos, over, opos, path)
        for key, value in more.items():
            if value is RESET:
                out.pop(key, None)
                kids.pop(key, None)
            else:
                out[key], kids[key] = value, more_kids[key]
        return out, Pos(bpos.where, kids)

    return rule


def _names_to_mapping(default: dict[str, Any] | None) -> Rule:
    """depends_on / networks: a list of names is a mapping with default values."""
    def convert(value: Any, pos: Pos) -> tuple[Any, Pos]:
        if not isinstance(value, list):
            return value, pos
        kids = _kids(pos, value)
        return ({str(v): (dict(default) if default is not None else None) for v in value},
                Pos(pos.where, {str(v): k for v, k in zip(value, kids, strict=True)}))

    def rule(base: Any, bpos: Pos, over: Any, opos: Pos, path: KeyPath) -> Located:
        base, bpos = convert(base, bpos)
        over, opos = convert(over, opos)
        return _default(base, bpos, over, opos, path)

    return rule


def _build(base: Any, bpos: Pos, over: Any, opos: Pos, path: KeyPath) -> Located:
    def convert(value: Any, pos: Pos) -> tuple[Any, Pos]:
        if isinstance(value, str):
            return {"context": value}, Pos(pos.where, {"context": pos})
        return value, pos

    base, bpos = convert(base, bpos)
    over, opos = convert(over, opos)
    return _default(base, bpos, over, opos, path)


def _logging(base: Any, bpos: Pos, over: Any, opos: Pos, path: KeyPath) -> Located:
    if (isinstance(base, dict) and isinstance(over, dict) and "driver" in base
            and "driver" in over and base["driver"] != over["driver"]):
        return over, opos  # another driver: its options would not apply
    return _default(base, bpos, over, opos, path)


def _ipam_config(base: Any, bpos: Pos, over: Any, opos: Pos, path: KeyPath) -> Located:
    """networks.*.ipam.config: pools with the same subnet merge; others are added."""
    if not isinstance(base, list) or not isinstance(over, list):
        return _default(base, bpos, over, opos, path)
    out = list(base)
    kids = _kids(bpos, base)
    by_subnet = {item.get("subnet"): i for i, item in enumerate(out)
                 if isinstance(item, dict) and item.get("subnet")}
    for item, kid in zip(over, _kids(opos, over), strict=True):
        subnet = item.get("subnet") if isinstance(item, dict) else None
        if subnet in by_subnet:
            i = by_subnet[subnet]
            out[i], merged_pos = _merge_mappings(out[i], kids[i], item, kid, (*path, i))
            kids[i] = merged_pos
        else:
            if subnet:
                by_subnet[subnet] = len(out)
            out.append(item)
            kids.append(kid)
    return out, Pos(bpos.where, kids)


def _ulimit(base: Any, bpos: Pos, over: Any, opos: Pos, path: KeyPath) -> Located:
    if isinstance(base, dict) and isinstance(over, dict):
        return _merge_mappings(base, bpos, over, opos, path)
    return (base, bpos) if over is None else (over, opos)


_S = ("services", "*")
_RULES: dict[Pattern, Rule] = {
    (*_S, "command"): _replace,
    (*_S, "entrypoint"): _replace,
    (*_S, "healthcheck", "test"): _replace,
    (*_S, "build"): _build,
    (*_S, "depends_on"): _names_to_mapping({"condition": "service_started", "required": True}),
    (*_S, "networks"): _names_to_mapping(None),
    (*_S, "logging"): _logging,
    (*_S, "ulimits", "*"): _ulimit,
    ("networks", "*", "ipam", "config"): _ipam_config,
    (*_S, "extra_hosts"): _by_name(_split_host, multi=True),
    (*_S, "build", "extra_hosts"): _by_name(_split_host, multi=True),
    (*_S, "ports"): _unique(_port_identity),
    (*_S, "volumes"): _unique(_volume_target),
    (*_S, "devices"): _unique(_volume_target),
    (*_S, "secrets"): _unique(_mount_target("/run/secrets")),
    (*_S, "configs"): _unique(_mount_target("")),
    (*_S, "env_file"): _unique(_env_file_path),
    (*_S, "label_file"): _unique(_same),
}
for _name in ("environment", "labels", "annotations", "sysctls", "build.args", "build.labels",
              "build.additional_contexts", "deploy.labels", "logging.options"):
    _RULES[(*_S, *_name.split("."))] = _by_name()
for _name in ("networks.*.labels", "volumes.*.labels", "networks.*.ipam.options",
              "networks.*.driver_opts", "volumes.*.driver_opts"):
    _RULES[tuple(_name.split("."))] = _by_name()
for _name in ("expose", "dns", "dns_search", "dns_opt", "cap_add", "cap_drop", "profiles",
              "links", "tmpfs", "build.tags", "build.platforms", "build.cache_from",
              "networks.*.aliases", "networks.*.link_local_ips"):
    _RULES[(*_S, *_name.split("."))] = _unique(_same)

# Indexed by (length, last key) so the lookup done at every merged key is a
# dict hit plus a short comparison, not a scan of every pattern.
_INDEX: dict[tuple[int, str], list[tuple[Pattern, Rule]]] = {}
for _pattern, _rule_fn in _RULES.items():
    _INDEX.setdefault((len(_pattern), _pattern[-1]), []).append((_pattern, _rule_fn))


def _rule(path: KeyPath) -> Rule | None:
    n = len(path)
    if n < 2 or path[0] not in ("services", "networks", "volumes"):
        return None
    last = path[-1]
    for candidates in (_INDEX.get((n, last)) if isinstance(last, str) else None,
                       _INDEX.get((n, "*"))):
        for pattern, rule in candidates or ():
            if all(p == "*" or p == part for p, part in zip(pattern, path, strict=True)):
                return rule
    return None
