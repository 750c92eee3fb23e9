"""``stackctl version`` and ``stackctl system ...``."""

from __future__ import annotations

import typer

from stackctl.cli.prompt import confirm


def register(app: typer.Typer) -> None:
    @app.command("version", help="Show the stackctl version.")
    def version() -> None:
        import platform

        from stackctl import __version__

        typer.echo(f"stackctl version {__version__}")
        typer.echo(f"python {platform.python_version()}, kernel {platform.release()}")

    system = typer.Typer(help="Manage stackctl (disk usage).", no_args_is_help=True)

    @system.command("df", help="Show disk usage: images, containers, local volumes.")
    def df(ctx: typer.Context,
           verbose: bool = typer.Option(False, "--verbose", "-v", help="Per-object detail."),
           fmt: str = typer.Option("", "--format", help="table or json.")) -> None:
        from stackctl.engine.images.system_df import render_df

        typer.echo(render_df(ctx.obj.root, verbose=verbose, fmt=fmt))

    @system.command("prune", help="Remove unused data: stopped containers, unused "
                    "networks, dangling (with -a: unused) images, and with --volumes "
                    "anonymous volumes.")
    def prune(ctx: typer.Context,
              all_: bool = typer.Option(False, "--all", "-a", help="All unused images, "
                                        "not just dangling ones."),
              force: bool = typer.Option(False, "--force", "-f", help="Do not prompt."),
              volumes: bool = typer.Option(False, "--volumes", help="Prune anonymous "
                                           "volumes.")) -> None:
        from stackctl.cli.render import pruned
        from stackctl.engine.api import Engine
        from stackctl.engine.images.system_df import du
        from stackctl.engine.volumes import VolumeStore
        from stackctl.net.manager import NetworkManager

        if not force:
            items = ["all stopped containers", "all networks not used by at least one "
                     "container", *(["all anonymous volumes not used by at least one "
                                     "container"] if volumes else []),
                     "all images without at least one container associated to them"
                     if all_ else "all dangling images", "unused build cache"]
            text = "WARNING! This will remove:\n" + "".join(f"  - {i}\n" for i in items)
            if not confirm(text + "\nAre you sure you want to continue?"):
                raise typer.Exit(0)
        g = ctx.obj
        freed = 0
        with Engine(g.root, g.run_root) as engine:
            stopped = [c.id for c in engine.list(all_=True) if not c.running]
            freed += sum(du(engine.paths(cid).upper) for cid in stopped)
            removed = engine.prune()
            nets = NetworkManager(g.root, g.run_root).prune()
            vols: list[str] = []
            if volumes:
                vs = VolumeStore(g.root, engine.store)
                freed += sum(du(vs.path(v.name)) for v in vs.list()
                             if v.anonymous and not vs.users(v.name))
                vols = vs.prune()
            events, image_freed = engine.images.prune(all_unused=all_)
            freed += image_freed
        typer.echo(pruned([("Deleted Containers:", removed), ("Deleted Networks:", nets),
                           ("Deleted Volumes:", vols),
                           ("Deleted Images:", [str(e) for e in events])], freed))

    app.add_typer(system, name="system")

