"""Which stages a build needs and what they start from. Pure.

* meta ARGs (before the first FROM) plus BuildKit's automatic platform ARGs
  make the global scope that FROM lines expand with;
* the target stage (the last one by default) and, transitively, the stages
  it uses (``FROM stage``, ``COPY --from=stage``, ``RUN --mount from=stage``)
  are built; no other stage is, whatever it contains.
"""

from __future__ import annotations

from collections.abc import Mapping

from stackctl.engine.build import instructions as ins
from stackctl.engine.build._expand import Expander, fail
from stackctl.engine.build.runmounts import parse_mount
from stackctl.engine.build.stages import BuildFile, Stage
from stackctl.engine.images.config import host_architecture
from stackctl.errors import DockerfileParseError

__all__ = ["base_name", "meta_values", "needed_stages", "platform_warning", "predefined_args"]


def predefined_args() -> dict[str, str]:
    """BuildKit's automatic platform ARGs (global scope)."""
    arch = host_architecture()
    plat = f"linux/{arch}"
    return {"BUILDPLATFORM": plat, "BUILDOS": "linux", "BUILDARCH": arch, "BUILDVARIANT": "",
            "TARGETPLATFORM": plat, "TARGETOS": "linux", "TARGETARCH": arch,
            "TARGETVARIANT": ""}


def meta_values(build: BuildFile, build_args: Mapping[str, str]) -> dict[str, str | None]:
    """The global-scope ARG values usable in FROM lines."""
    scope: dict[str, str | None] = dict(predefined_args())
    for arg in build.meta_args:
        env = {k: v for k, v in scope.items() if v is not None}
        ex = Expander(arg, env, build.ast.escape, build.file)
        for d in arg.args:
            if d.name in build_args:
                scope[d.name] = build_args[d.name]
            elif d.default is not None:
                scope[d.name] = ex.word(d.default)
            else:
                scope.setdefault(d.name, None)
    return scope


def base_name(build: BuildFile, stage: Stage, meta: Mapping[str, str | None]) -> str:
    env = {k: v for k, v in meta.items() if v is not None}
    name = Expander(stage.source, env, build.ast.escape, build.file).word(stage.source.base)
    if not name:
        fail(stage.source, build.file, f"base name ({stage.source.base}) should not be blank",
             hint="set the build arg used in FROM, or give it a default")
    return name


def platform_warning(build: BuildFile, stage: Stage,
                     meta: Mapping[str, str | None]) -> str | None:
    """Images are single-platform here: say so when FROM asks for another."""
    raw = stage.source.platform
    if not raw:
        return None
    env = {k: v for k, v in meta.items() if v is not None}
    wanted = Expander(stage.source, env, build.ast.escape, build.file).word(raw)
    host = predefined_args()["BUILDPLATFORM"]
    if wanted in ("", host):
        return None
    return (f"{build.file}:{stage.source.line}: FROM --platform={wanted} is not the host "
            f"platform ({host}); the local image is used as it is")


def needed_stages(build: BuildFile, target: str | None,
                  meta: Mapping[str, str | None]) -> list[Stage]:
    """The target and the stages it uses (FROM stage, COPY --from), in order.
    Stages nothing needs are not built."""
    if target:
        last = build.stage(target)
        if last is None:
            names = ", ".join(s.name for s in build.stages if s.name) or "none"
            raise DockerfileParseError(f"target stage {target!r} could not be found",
                                       file=build.file, hint=f"stages: {names}")
    else:
        last = build.stages[-1]
    want = {last.index}
    for stage in reversed(build.stages[: last.index + 1]):
        if stage.index not in want:
            continue
        dep = build.stage(base_name(build, stage, meta))
        if dep is not None and dep.index < stage.index:
            want.add(dep.index)
        for cmd in stage.commands:
            refs = [cmd.from_] if isinstance(cmd, ins.Copy) and cmd.from_ else []
            if isinstance(cmd, ins.Run):
                refs += [_mount_from(raw) for raw in cmd.mounts]
            for ref in refs:
                dep = build.stage(ref) if ref else None
                if dep is not None and dep.index < stage.index:
                    want.add(dep.index)
    return [s for s in build.stages if s.index in want]


def _mount_from(raw: str) -> str:
    try:
        return parse_mount(raw).from_
    except ValueError:
        return ""  # reported with its line when the stage is planned
