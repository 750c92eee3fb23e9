"""``stackctl config``: validate the stack and print it resolved and normalised,
as ``docker compose config`` does. Exit status 0 means the stack is valid;
a problem exits with SpecError.exit_code (15) and a located message.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from stackctl.cli.project_opts import (
    EnvFilesOpt,
    FilesOpt,
    ProfilesOpt,
    ProjectDirOpt,
    ProjectNameOpt,
    load_options,
)

_OUT = "Output"


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``. Import heavy layers inside commands."""
    app.command(
        "config",
        help="Validate the stack file(s) and print the resolved, normalised stack.",
    )(config)


def config(
    services: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer needs Optional on 3.11
        typer.Argument(
            metavar="[SERVICE]...", help="Only these services (and what they depend on)."
        ),
    ] = None,
    files: FilesOpt = None,
    project_name: ProjectNameOpt = None,
    project_directory: ProjectDirOpt = None,
    env_files: EnvFilesOpt = None,
    profiles: ProfilesOpt = None,
    fmt: Annotated[
        str,
        typer.Option("--format", metavar="yaml|json", help="Output format.", rich_help_panel=_OUT),
    ] = "yaml",
    output: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--output", "-o", help="Write to this file instead of stdout.", rich_help_panel=_OUT
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only validate; the exit status says it all.")
    ] = False,
    list_services: Annotated[
        bool, typer.Option("--services", help="Print the active service names, one a line.")
    ] = False,
    list_volumes: Annotated[
        bool, typer.Option("--volumes", help="Print the volume names, one a line.")
    ] = False,
    list_networks: Annotated[
        bool, typer.Option("--networks", help="Print the network names, one a line.")
    ] = False,
    list_profiles: Annotated[
        bool, typer.Option("--profiles", help="Print every profile the services name.")
    ] = False,
    list_images: Annotated[
        bool, typer.Option("--images", help="Print the image of each active service.")
    ] = False,
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the JSON Schema of stack files (for editors).")
    ] = False,
    variables: Annotated[
        bool,
        typer.Option("--variables", help="Print the variables the stack file uses, with defaults."),
    ] = False,
    no_interpolate: Annotated[
        bool, typer.Option("--no-interpolate", help="Leave ${VARIABLES} as they are.")
    ] = False,
    no_normalize: Annotated[
        bool,
        typer.Option("--no-normalize", help="No implicit default network, names or defaults."),
    ] = False,
    no_path_resolution: Annotated[
        bool, typer.Option("--no-path-resolution", help="Keep relative paths relative.")
    ] = False,
    no_consistency: Annotated[
        bool,
        typer.Option(
            "--no-consistency",
            help="Skip the checks that referenced services, networks, volumes exist.",
        ),
    ] = False,
) -> None:
    if fmt not in ("yaml", "json"):
        from stackctl.errors import UsageError

        raise UsageError(f"--format {fmt!r}: expected yaml or json")
    if schema:
        from stackctl.spec.schema import json_schema
        from stackctl.spec.serialize import dump_json

        _emit(dump_json(json_schema()), output)
        return
    opts = load_options(
        files,
        project_name,
        project_directory,
        env_files,
        profiles,
        interpolate=not no_interpolate,
        resolve_paths=not no_path_resolution,
        normalize=not no_normalize,
    )
    if variables:
        from stackctl.lightdc import replace
        from stackctl.spec.interpolate import extract_variables
        from stackctl.spec.raw import load_raw

        found = extract_variables(load_raw(replace(opts, interpolate=False)).data)
        _emit(_variables_text(found, fmt), output)
        return
    if no_interpolate and services:
        # compose: the uninterpolated model cannot be trusted to name dependencies
        typer.echo(
            "Warning: service filtering is not applied when --no-interpolate is set", err=True
        )
        services = None
    from stackctl.spec.project import load_project

    project = load_project(opts, services=services or (), consistency=not no_consistency)
    for warning in project.warnings:
        typer.echo(f"Warning: {warning}", err=True)
    if quiet:
        return
    lines: list[str] | None = None
    # sorted, as compose lists them (its project holds maps)
    if list_services:
        lines = sorted(project.services)
    elif list_volumes:
        lines = sorted(project.volumes)
    elif list_networks:
        lines = sorted(project.networks)
    elif list_profiles:
        lines = project.all_profiles()
    elif list_images:
        lines = [
            project.services[name].image or f"{project.name}-{name}"
            for name in sorted(project.services)
        ]
    if lines is not None:
        _emit("".join(f"{line}\n" for line in lines), output)
        return
    from stackctl.spec.serialize import dump_json, dump_yaml, project_dict

    data = project_dict(project)
    if no_interpolate:
        data = _sorted(data)  # compose prints the uninterpolated model as a plain map
    _emit(dump_json(data) if fmt == "json" else dump_yaml(data), output)


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _variables_text(found: dict[str, Any], fmt: str) -> str:
    """``config --variables``: compose's table, or its JSON shape with --format json."""
    if fmt == "json":
        import json

        data = {
            name: {
                "Name": name,
                "DefaultValue": v.default or "",
                "PresenceValue": v.alternate or "",
                "Required": v.required,
            }
            for name, v in sorted(found.items())
        }
        return json.dumps(data, indent=2) + "\n"
    rows = [("NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE")]
    rows += [
        (name, str(v.required).lower(), v.default or "", v.alternate or "")
        for name, v in sorted(found.items())
    ]
    from stackctl.humanize import table

    return table(rows) + "\n"


def _emit(text: str, output: str | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    import os

    tmp = f"{output}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, output)
