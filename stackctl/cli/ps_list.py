"""``ps`` without typer: Docker's columns, filters and formats for a list of
containers. Both the typer command (cli/ps_cmd.py) and the typer-free fast path
(cli/fastpath.py: a plain ``stackctl ps`` spares the ~60 ms of importing typer)
call ``list_containers`` with the same parameters. ``ps_row`` is also what
``compose ps`` prints. Standard library only at module level.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from stackctl.engine.api import Engine
    from stackctl.engine.containers import ContainerRecord


def list_containers(engine: Engine, *, all_: bool = False, quiet: bool = False,
                    latest: bool = False, last: int = -1, no_trunc: bool = False,
                    size: bool = False, filter_: Sequence[str] | None = None,
                    fmt: str | None = None) -> list[str]:
    """What ``ps`` prints, one string per echo."""
    from stackctl.cli.render import format_rows, table

    filters = list(filter_ or [])
    _check(filters)
    # docker lists stopped containers with -a, -l, -n N, or a status filter only
    recs = engine.list(all_=all_ or latest or last > 0
                       or any(f.startswith("status=") for f in filters))
    created = {}
    for f in filters:
        key, _, value = f.partition("=")
        if key in ("before", "since"):
            created[value] = _created(engine.get(value))
    recs = [r for r in recs if _match(r, filters, created)]
    if latest:
        recs = recs[:1]
    elif last > 0:  # docker: -n 0 is no limit
        recs = recs[:last]
    if quiet:
        return [r.id if no_trunc else r.short_id for r in recs]
    rows = [ps_row(r, no_trunc=no_trunc, bound=_bound_ports(engine, r)) for r in recs]
    if size or (fmt is not None and ".Size" in fmt):
        _sizes(engine, recs, rows)
    for row, rec in zip(rows, recs, strict=True):
        # {{.Label "k"}}: a method of docker's ps context (not in --format json)
        row["Label"] = lambda key, labels=rec.labels: labels.get(key, "")
    if fmt and fmt != "table":
        out = format_rows(fmt, rows)
        return [out] if out else []
    extra = ["SIZE"] if size else []
    return [table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
                   "NAMES", *extra],
                  [[r["ID"], r["Image"], r["Command"], r["RunningFor"], r["Status"],
                    r["Ports"], r["Names"], *([r["Size"]] if size else [])] for r in rows])]


def _bound_ports(engine: Engine, rec: ContainerRecord) -> list[str]:
    """The ports a running container has published, host ports chosen (``-p 80``,
    ``-P``), from the network layer's record of them (net/manager.py writes
    ``run_root/net/<id>/ports`` when it publishes: reading it spares running nft)."""
    if not rec.running or not (rec.config.publish or rec.config.publish_all):
        return []
    try:
        return (engine.run_root / "net" / rec.id / "ports").read_text().split()
    except OSError:
        return []


def ps_row(rec: ContainerRecord, *, no_trunc: bool, bound: Sequence[str] = ()
           ) -> dict[str, Any]:
    """``bound``: the published ports as they were bound (``_bound_ports``)."""
    from stackctl.cli.render import ago, human_duration
    from stackctl.engine.logs import parse_time

    command = " ".join([*(rec.config.entrypoint or ()), *(rec.config.command or ())])
    command = f'"{command}"' if no_trunc or len(command) <= 20 else f'"{command[:19]}…"'
    status = _status_text(rec, human_duration, parse_time)
    return {
        "ID": rec.id if no_trunc else rec.short_id,
        "Image": rec.image_ref,
        "Command": command,
        "CreatedAt": _go_time(parse_time(rec.created)),
        "RunningFor": ago(parse_time(rec.created)),
        "Ports": ports_text(rec.config.publish, rec.config.expose, bound),
        "State": rec.status.value,
        "Status": status,
        "Names": rec.name,
        "Labels": ",".join(f"{k}={v}" for k, v in rec.labels.items()),
        # every network it joins, as docker ps --format {{.Networks}} lists them
        "Networks": ",".join(a.name for a in rec.config.attachments()) or rec.config.network,
        "Mounts": ",".join(_mount_name(m, no_trunc) for m in rec.config.mounts),
        "LocalVolumes": str(sum(m.kind != "bind" for m in rec.config.mounts)),
        "Size": "0B",
    }


def _go_time(when: float) -> str:
    """Go's time.String() in UTC, which docker ps prints for {{.CreatedAt}}."""
    import time as _time

    return _time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", _time.gmtime(when))


def _mount_name(m: Any, no_trunc: bool) -> str:
    # docker ps: a volume by name, a bind by its source, cut to 15 characters (Ellipsis)
    name = str(m.source)
    return name if no_trunc or len(name) <= 15 else name[:14] + "…"


def ports_text(publish: Sequence[str], expose: Sequence[str] = (),
               bound: Sequence[str] = ()) -> str:
    """Docker's PORTS column (docker/cli's DisplayablePorts): ``127.0.0.1:8080->80/tcp``
    for a port published on another number, consecutive ports published on their own
    numbers as one range (``0.0.0.0:9000-9001->9000-9001/udp``), ``3306/tcp`` for an
    exposed one that is not published. ``bound`` (``IP:HOST->PORT/PROTO``, as the
    ports were published) replaces the ``-p`` specs when known: a random host port
    shows as the one chosen; without it, as the container port."""
    from stackctl.errors import StackctlError
    from stackctl.net.ports import parse_publish

    ports: list[tuple[int, str, int, str]] = []  # (container port, ip, host port, proto)
    unparsed: list[str] = []
    published: set[str] = set()
    for line in bound:
        left, _, right = line.partition("->")
        ip, _, host = left.rpartition(":")
        private, _, proto = right.partition("/")
        if host.isdigit() and private.isdigit():
            published.add(f"{private}/{proto or 'tcp'}")
            ports.append((int(private), ip, int(host), proto or "tcp"))
    for spec in () if ports else publish:
        try:
            mappings = parse_publish(spec)
        except StackctlError:
            unparsed.append(spec)
            continue
        for m in mappings:
            published.add(f"{m.container_port}/{m.protocol}")
            ip = str(m.host_ip) if m.host_port else ""
            ports.append((m.container_port, ip, m.host_port, m.protocol))
    for port in expose:
        number, _, proto = port.partition("/")
        key = f"{number}/{proto or 'tcp'}"
        if key not in published and number.isdigit():
            published.add(key)
            ports.append((int(number), "", 0, proto or "tcp"))
    return ", ".join([*unparsed, *_displayable(sorted(ports))])


def _displayable(ports: list[tuple[int, str, int, str]]) -> list[str]:
    """docker's grouping, over ports sorted by container port, ip, host port, proto."""
    groups: dict[str, list[int]] = {}  # in the order docker makes its keys
    out: list[str] = []
    mapped: list[str] = []
    for private, ip, public, proto in ports:
        if ip and public != private:
            mapped.append(f"{ip}:{public}->{private}/{proto}")
            continue
        key = f"{ip}/{proto}" if ip else proto
        group = groups.get(key)
        if group is not None and private == group[1] + 1:
            group[1] = private
            continue
        if group is not None:
            out.append(_group(key, *group))
        groups[key] = [private, private]
    out += [_group(key, first, last) for key, (first, last) in groups.items()]
    return out + mapped


def _group(key: str, first: int, last: int) -> str:
    ip, _, proto = key.rpartition("/")
    ports = str(first) if first == last else f"{first}-{last}"
    return f"{ip}:{ports}->{ports}/{proto}" if ip else f"{ports}/{proto}"


def _status_text(rec: ContainerRecord, human: Any, parse_time: Any) -> str:
    import time as _time

    s = rec.status.value
    if s in ("running", "paused") and rec.started_at:
        text = "Up " + str(human(_time.time() - parse_time(rec.started_at)))
        if rec.health is not None:
            hs = rec.health.status
            text += f" ({'health: starting' if hs == 'starting' else hs})"
        return text + (" (Paused)" if s == "paused" else "")
    if s == "exited":
        since = parse_time(rec.finished_at) if rec.finished_at else None
        when = f" {human(_time.time() - since)} ago" if since else ""
        return f"Exited ({rec.exit_code or 0}){when}"
    if s == "restarting":
        return f"Restarting ({rec.exit_code or 0}) Less than a second ago"
    return {"created": "Created", "removing": "Removal In Progress", "dead": "Dead"}.get(s, s)


_STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


_KEYS = ("status", "name", "id", "label", "exited", "ancestor", "health", "before", "since",
         "volume", "network", "publish", "expose", "is-task")


def _check(filters: list[str]) -> None:
    """Refuse a filter docker refuses, whether or not any container is listed. Exit 1:
    docker's daemon refuses it (the fast path reports it without cli/app.py)."""
    from stackctl.errors import UsageError

    for f in filters:
        key, _, value = f.partition("=")
        err = None
        if key not in _KEYS:
            err = UsageError(f"--filter {f}: invalid filter {key!r}",
                             hint="use status, name, id, label, exited, ancestor, health, "
                                  "before, since, volume, network, publish or expose")
        elif key == "status" and value not in _STATUSES:
            err = UsageError(f"--filter {f}: unrecognised filter value for status: "
                             f"{value}", hint="one of " + ", ".join(_STATUSES))
        elif key == "exited" and not value.lstrip("-").isdigit():
            err = UsageError(f"--filter {f}: exited takes an exit code (a number)")
        if err is not None:
            err.exit_code = 1
            raise err


def _match(rec: ContainerRecord, filters: list[str], created: dict[str, float]) -> bool:
    """Docker's ps filters: values of one key are alternatives (status=running
    --filter status=exited lists both), except labels, which must all match;
    different keys must all hold. ``created`` maps before=/since= references to
    their times."""
    by_key: dict[str, list[str]] = {}
    for f in filters:
        key, _, value = f.partition("=")
        by_key.setdefault(key, []).append(value)
    for key, values in by_key.items():
        hits = (_one(rec, key, value, created) for value in values)
        if not (all(hits) if key == "label" else any(hits)):
            return False
    return True


def _one(rec: ContainerRecord, key: str, value: str, created: dict[str, float]) -> bool:
    import re

    from stackctl.net.ports import parse_publish

    if key == "status":
        return rec.status.value == value
    if key == "name":  # docker: a regular expression, searched in the name
        return re.search(value, rec.name) is not None
    if key in ("before", "since"):
        mine = _created(rec)
        return mine < created[value] if key == "before" else mine > created[value]
    if key == "volume":
        return any(value in (m.source, m.target) for m in rec.config.mounts)
    if key == "network":
        return any(a.name == value for a in rec.config.attachments()) or \
            rec.config.network == value
    if key in ("publish", "expose"):
        want = value if "/" in value else value + "/tcp"
        ports = {f"{m.host_port if key == 'publish' else m.container_port}/{m.protocol}"
                 for spec in rec.config.publish for m in parse_publish(spec)}
        if key == "expose":
            ports |= {p if "/" in p else p + "/tcp" for p in rec.config.expose}
        return want in ports
    if key == "is-task":
        return value.lower() in ("0", "false")
    if key == "id":
        return rec.id.startswith(value)
    if key == "label":
        k, sep, v = value.partition("=")
        return k in rec.labels and (not sep or rec.labels[k] == v)
    if key == "exited":
        return rec.status.value == "exited" and rec.exit_code == int(value)
    if key == "ancestor":
        return rec.image_ref == value or rec.image_id.startswith(value)
    return (rec.health.status if rec.health else "none") == value  # health


def _created(rec: ContainerRecord) -> float:
    from stackctl.engine.logs import parse_time

    return float(parse_time(rec.created))


def _sizes(engine: Engine, recs: list[ContainerRecord], rows: list[dict[str, Any]]) -> None:
    """docker ps -s: the writable layer's size, and with the image's ("virtual")."""
    from stackctl.engine.images.system_df import du
    from stackctl.errors import StackctlError
    from stackctl.humanize import human_size

    for rec, row in zip(recs, rows, strict=True):
        rw = du(engine.paths(rec.id).upper)
        try:
            image = engine.images.get(rec.image_id).size
        except StackctlError:
            image = 0
        row["Size"] = f"{human_size(rw, 3)} (virtual {human_size(rw + image, 3)})"


__all__ = ["list_containers", "ports_text", "ps_row"]
