"""``compose ps``, ``logs``, ``top``, ``port``, ``images``: looking at a stack's containers.

They work from the containers' labels, so they need only ``-p`` when the stack
file is gone. Only typer and the standard library are imported at module level.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer

from stackctl.cli._compose import (
    Services,
    compose_app,
    project_containers,
    records_of,
    runner_for,
)
from stackctl.cli._stack import stream_logs


@compose_app.command(help="List the stack's containers.")
def ps(ctx: typer.Context, services: Services = None,
       all_: Annotated[bool, typer.Option("--all", "-a", help="Also stopped ones.")] = False,
       quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only IDs.")] = False,
       list_services: Annotated[bool, typer.Option("--services", help="Only service names.")
                                ] = False,
       fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table") -> None:
    from stackctl.cli.ps_cmd import ps_row
    from stackctl.cli.render import table

    with runner_for(ctx) as runner:
        found = project_containers(runner, services, all_=all_, oneoff=True)
        if list_services:
            for name in sorted({c.service for c in found}):
                typer.echo(name)
            return
        recs = records_of(runner, found)
    if quiet:
        for rec in recs:
            typer.echo(rec.id)
        return
    rows = []
    for c, rec in zip(found, recs, strict=True):
        row: dict[str, Any] = dict(ps_row(rec, no_trunc=False))
        row.update(Service=c.service, Name=rec.name, Project=rec.labels.get(
            "stackctl.project", ""), Health=rec.health.status if rec.health else "",
            ExitCode=str(rec.exit_code or 0), Publishers=list(rec.config.publish))
        rows.append(row)
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(table(["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"],
                     [[r["Name"], r["Image"], r["Command"], r["Service"], r["RunningFor"],
                       r["Status"], r["Ports"]] for r in rows]))


@compose_app.command(help="Show the services' logs, prefixed by container.")
def logs(ctx: typer.Context, services: Services = None,
         follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
         tail: Annotated[Optional[str], typer.Option("--tail", help="Lines from the end.")  # noqa: UP045
                         ] = None,
         timestamps: Annotated[bool, typer.Option("--timestamps", "-t")] = False,
         no_prefix: Annotated[bool, typer.Option("--no-log-prefix")] = False,
         index: Annotated[Optional[int], typer.Option("--index")] = None) -> None:  # noqa: UP045
    from stackctl.errors import UsageError

    if tail not in (None, "all") and not str(tail).isdigit():
        raise UsageError(f"--tail {tail!r}: expected a number or all")
    with runner_for(ctx) as runner:
        found = project_containers(runner, services, index=index)
        stream_logs(runner.driver.engine(), found, follow=follow,
                    tail=int(tail) if tail and tail != "all" else None,
                    timestamps=timestamps, prefix=not no_prefix,
                    on_interrupt=lambda n: False)


@compose_app.command(help="Show the processes running in each container.")
def top(ctx: typer.Context, services: Services = None) -> None:
    from stackctl.cli.render import table

    with runner_for(ctx) as runner:
        eng = runner.driver.engine()
        for c in project_containers(runner, services, all_=False):
            titles, rows = eng.top(c.name)
            typer.echo(c.name)
            typer.echo(table(titles, rows))
            typer.echo("")


@compose_app.command(help="Print the public address a service's port is published on.")
def port(ctx: typer.Context, service: Annotated[str, typer.Argument()],
         private_port: Annotated[str, typer.Argument()],
         protocol: Annotated[str, typer.Option("--protocol")] = "tcp",
         index: Annotated[int, typer.Option("--index")] = 1) -> None:
    from stackctl.errors import NotFound

    with runner_for(ctx) as runner:
        found = project_containers(runner, [service], index=index)
        if not found:
            raise NotFound(f'service "{service}" has no container #{index}')
        rec = runner.driver.engine().get(found[0].name)
        published = _published(runner, rec)
    for host_ip, host_port, target, proto in published:
        if str(target) == private_port.split("/")[0] and proto == protocol:
            typer.echo(f"{host_ip or '0.0.0.0'}:{host_port}")
            return
    raise NotFound(f"no port {private_port}/{protocol} published for {service}")


def _published(runner: Any, rec: Any) -> list[tuple[str, int, int, str]]:
    try:
        maps = runner.driver.networks().published_ports(rec.id)
    except Exception:  # no network layer for this container (none/host): none published
        return []
    return [(str(getattr(m, "host_ip", "") or ""), int(m.host_port), int(m.container_port),
             str(getattr(m, "protocol", "tcp"))) for m in maps]


@compose_app.command(help="List the images the stack's containers use.")
def images(ctx: typer.Context, services: Services = None,
           quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False) -> None:
    from stackctl.cli.render import human_size, table

    with runner_for(ctx) as runner:
        eng = runner.driver.engine()
        rows = []
        for rec in records_of(runner, project_containers(runner, services)):
            image = eng.images.get(rec.image_id)
            repo, _, tag = rec.image_ref.rpartition(":") if ":" in rec.image_ref.split("/")[-1] \
                else (rec.image_ref, "", "latest")
            rows.append([rec.name, repo, tag, image.short_id, human_size(image.size)])
    if quiet:
        for r in rows:
            typer.echo(r[3])
        return
    typer.echo(table(["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"], rows))
