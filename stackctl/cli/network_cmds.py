"""``stackctl network create|ls|inspect|rm|prune|connect|disconnect`` (Docker's shapes).

Only typer and the standard library at module level: the network layer (and
pyroute2 behind it) is imported inside the commands that touch networks.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Callable
from typing import Any, Optional, TypeVar

import typer

from stackctl.cli.options import GlobalOptions
from stackctl.cli.prompt import confirm

network = typer.Typer(help="Manage networks.", no_args_is_help=True)
PREDEFINED = ("host", "none")  # listed like Docker's; they have no bridge
_F = TypeVar("_F", bound=Callable[..., Any])


def _exit_1(fn: _F) -> _F:
    """docker network and port exit 1 on an error response of the daemon; 125 is
    run/create's code (stackctl's engine errors carry it)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if getattr(exc, "exit_code", None) == 125:
                exc.exit_code = 1  # type: ignore[attr-defined]
            raise

    return wrapper  # type: ignore[return-value]


def _manager(ctx: typer.Context) -> Any:
    from stackctl.net.manager import NetworkManager

    g: GlobalOptions = ctx.obj
    return NetworkManager(g.root, g.run_root)


def _pairs(values: Optional[list[str]], flag: str) -> dict[str, str]:  # noqa: UP045
    from stackctl.errors import UsageError

    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not key:
            raise UsageError(f"{flag} {item!r}: expected KEY=VALUE")
        out[key] = value if sep else ""
    return out


def _pseudo_id(name: str) -> str:
    return hashlib.sha256(f"stackctl-network-{name}".encode()).hexdigest()


@network.command("create")
@_exit_1
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Network name."),
    subnet: Optional[str] = typer.Option(None, "--subnet", help="CIDR, e.g. 10.20.0.0/24."),  # noqa: UP045
    gateway: Optional[str] = typer.Option(None, "--gateway", help="Gateway address."),  # noqa: UP045
    internal: bool = typer.Option(False, "--internal", help="No route out of the network."),
    label: Optional[list[str]] = typer.Option(None, "--label", help="KEY=VALUE."),  # noqa: UP045
    opt: Optional[list[str]] = typer.Option(None, "--opt", "-o", help="Driver options: "  # noqa: UP045
                                            "bridge.name=IFNAME, mtu=N."),
    driver: str = typer.Option("bridge", "--driver", "-d"),
) -> None:
    """Create a bridge network."""
    from stackctl.errors import UsageError

    if driver != "bridge":
        raise UsageError(f"--driver {driver}: only the bridge driver exists")
    # without nftables the network layer itself warns (net/networks.py), for
    # every network it makes: this one, the default one, a stack's
    with _manager(ctx) as nm:
        info = nm.create(name, subnet=subnet, gateway=gateway, internal=internal,
                         labels=_pairs(label, "--label"), options=_pairs(opt, "--opt"))
    typer.echo(info.id)


def _matches(info: Any, filters: list[str], users: int) -> bool:
    from stackctl.errors import UsageError

    for f in filters:
        key, _, value = f.partition("=")
        if key == "name":
            ok = value in info.name
        elif key == "id":
            ok = info.id.startswith(value)
        elif key == "driver":
            ok = value == ("bridge" if info.bridge else info.name)
        elif key == "label":
            k, sep, v = value.partition("=")
            ok = k in info.labels and (not sep or info.labels[k] == v)
        elif key == "dangling":
            ok = (users == 0) == (value.lower() in ("1", "true"))
        elif key == "type":
            ok = (value == "builtin") == (info.name in ("bridge", *PREDEFINED))
        else:
            raise UsageError(f"--filter {f}: unknown filter {key!r}",
                             hint="use name=, id=, driver=, label=, dangling= or type=")
        if not ok:
            return False
    return True


@network.command("ls")
@_exit_1
def ls(
    ctx: typer.Context,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only IDs."),
    filter_: Optional[list[str]] = typer.Option(None, "--filter", "-f"),  # noqa: UP045
    no_trunc: bool = typer.Option(False, "--no-trunc"),
    fmt: Optional[str] = typer.Option(None, "--format"),  # noqa: UP045
) -> None:
    """List networks."""
    import contextlib
    from types import SimpleNamespace

    from stackctl.cli.render import format_rows, table
    from stackctl.errors import StackctlError
    from stackctl.net import names

    with _manager(ctx) as nm:
        # Docker's daemon has its bridge network from the start; here it is made on
        # first use, and listing it is a use (as `network inspect bridge` is)
        with contextlib.suppress(StackctlError):  # e.g. no privileges: list what is
            nm.get(names.DEFAULT_NETWORK)
        nets = [(n, len(nm._users(n.id))) for n in nm.networks()]
    nets += [(SimpleNamespace(id=_pseudo_id(p), name=p, bridge="", labels={}, internal=False),
              0) for p in PREDEFINED]
    nets = sorted((n for n in nets if _matches(n[0], filter_ or [], n[1])),
                  key=lambda n: n[0].name)
    rows = [{"ID": n.id if no_trunc else n.id[:12], "Name": n.name,
             "Driver": "bridge" if n.bridge else n.name, "Scope": "local",
             "Internal": str(n.internal).lower(),
             "Labels": ",".join(f"{k}={v}" for k, v in n.labels.items())} for n, _ in nets]
    if quiet:
        for r in rows:
            typer.echo(r["ID"])
    elif fmt:
        typer.echo(format_rows(fmt, rows))
    else:
        typer.echo(table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
                         [[r["ID"], r["Name"], r["Driver"], r["Scope"]] for r in rows]))


@network.command("inspect")
@_exit_1
def inspect(ctx: typer.Context, names: list[str] = typer.Argument(...),
            fmt: Optional[str] = typer.Option(None, "--format", "-f")) -> None:  # noqa: UP045
    """Display detailed information on networks."""

    from stackctl.cli.render import inspect_text
    from stackctl.errors import StackctlError

    out, failed = [], False
    with _manager(ctx) as nm:
        for n in names:
            try:
                out.append(nm.inspect(n))
            except StackctlError as exc:
                sys.stderr.write(f"Error: {exc.message}\n")
                failed = True
    typer.echo(inspect_text(out, fmt), nl=False)
    if failed:
        raise typer.Exit(1)


@network.command("rm")
@_exit_1
def rm(ctx: typer.Context, names: list[str] = typer.Argument(...)) -> None:
    """Remove networks (refused while a container uses one)."""
    from stackctl.cli.report import report_error
    from stackctl.errors import Conflict, StackctlError

    failed = False
    with _manager(ctx) as nm:
        for n in names:
            try:
                if n in ("bridge", *PREDEFINED):
                    raise Conflict(f"{n} is a pre-defined network and cannot be removed")
                nm.remove(n)
                typer.echo(n)
            except StackctlError as exc:  # reported, and the others still go
                report_error(exc, debug=False)
                failed = True
    if failed:
        raise typer.Exit(1)


@network.command("prune")
@_exit_1
def prune(ctx: typer.Context, force: bool = typer.Option(False, "--force", "-f"),
          filter_: Optional[list[str]] = typer.Option(None, "--filter")) -> None:  # noqa: UP045
    """Remove all networks that no container uses."""
    if not force and not confirm(
            "WARNING! This will remove all custom networks not used by at least one "
            "container.\nAre you sure you want to continue?"):
        raise typer.Exit(0)
    with _manager(ctx) as nm:
        keep = {n.name for n in nm.networks() if not _matches(n, filter_ or [], 0)}
        removed = [n for n in nm.prune(keep=keep)]
    if removed:
        typer.echo("Deleted Networks:")
        for n in removed:
            typer.echo(n)


def _container(ctx: typer.Context, ref: str) -> tuple[str, str]:
    from stackctl.engine.api import Engine

    g: GlobalOptions = ctx.obj
    with Engine(g.root, g.run_root) as eng:
        rec = eng.get(ref)
    return rec.id, rec.name


@network.command("connect")
@_exit_1
def connect(
    ctx: typer.Context,
    net: str = typer.Argument(..., metavar="NETWORK"),
    container: str = typer.Argument(..., metavar="CONTAINER"),
    alias: Optional[list[str]] = typer.Option(None, "--alias", help="Extra DNS name here."),  # noqa: UP045
    ip: Optional[str] = typer.Option(None, "--ip", help="A static IPv4 address."),  # noqa: UP045
) -> None:
    """Connect a container to a network (eth1, eth2...); kept across restarts."""
    from stackctl.engine import netseam
    from stackctl.engine.api import Engine
    from stackctl.engine.containers import NetworkAttachment
    from stackctl.net.ipam import parse_address

    if ip:
        parse_address(ip, flag="--ip")
    g: GlobalOptions = ctx.obj
    with Engine(g.root, g.run_root) as eng:
        rec = eng.get(container)
        netseam.connect(eng.store, eng.paths(rec.id),
                        NetworkAttachment(net, tuple(alias or ()), ip or None))


@network.command("disconnect")
@_exit_1
def disconnect(ctx: typer.Context, net: str = typer.Argument(..., metavar="NETWORK"),
               container: str = typer.Argument(..., metavar="CONTAINER"),
               force: bool = typer.Option(False, "--force", "-f")) -> None:
    """Disconnect a container from a network (for good: restarts keep it off)."""
    from stackctl.engine import netseam
    from stackctl.engine.api import Engine

    g: GlobalOptions = ctx.obj
    with Engine(g.root, g.run_root) as eng:
        rec = eng.get(container)
        netseam.disconnect(eng.store, eng.paths(rec.id), net, force=force)


@_exit_1
def port(ctx: typer.Context, container: str = typer.Argument(..., metavar="CONTAINER"),
         private: Optional[str] = typer.Argument(None, metavar="[PRIVATE_PORT[/PROTO]]"),  # noqa: UP045
         ) -> None:
    """List port mappings or a specific mapping for the container."""
    from stackctl.errors import NotFound

    cid, name = _container(ctx, container)
    with _manager(ctx) as nm:
        maps = nm.published_ports(cid)
    if private is None:
        for m in maps:
            typer.echo(f"{m.container_port}/{m.protocol} -> {m.host_ip}:{m.host_port}")
        return
    num, _, proto = private.partition("/")
    hits = [m for m in maps if str(m.container_port) == num and m.protocol == (proto or "tcp")]
    if not hits:
        raise NotFound(f"no public port '{num}/{proto or 'tcp'}' published for {name}")
    for m in hits:
        typer.echo(f"{m.host_ip}:{m.host_port}")


def register(app: typer.Typer) -> None:
    app.command("port")(port)
    network.command("list", hidden=True)(ls)
    network.command("remove", hidden=True)(rm)
    app.add_typer(network, name="network")
