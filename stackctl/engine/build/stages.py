"""A parsed Dockerfile as build stages: the meta ARGs before the first FROM,
then each stage with its typed instructions."""

from __future__ import annotations

from stackctl.engine.build.instructions import Arg, From, Instruction, parse_instruction
from stackctl.engine.build.parser import Dockerfile, parse
from stackctl.errors import DockerfileParseError
from stackctl.lightdc import dataclass

__all__ = ["BuildFile", "Stage", "describe", "load"]


@dataclass(frozen=True)
class Stage:
    index: int
    source: From
    commands: tuple[Instruction, ...]

    @property
    def name(self) -> str | None:
        return self.source.stage_name

    @property
    def ref(self) -> str:
        """How the user refers to this stage: its name, or its index."""
        return self.name or str(self.index)

    @property
    def label(self) -> str:
        """How progress output names it (BuildKit's ``stage-N`` when unnamed)."""
        return self.name or f"stage-{self.index}"


@dataclass(frozen=True)
class BuildFile:
    ast: Dockerfile
    meta_args: tuple[Arg, ...]
    stages: tuple[Stage, ...]

    @property
    def file(self) -> str:
        return self.ast.file

    def stage(self, ref: str) -> Stage | None:
        """A stage by name (case-insensitive) or by index."""
        for stage in self.stages:
            if stage.name is not None and stage.name == ref.lower():
                return stage
        if ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None


def load(source: str | bytes, *, file: str = "Dockerfile") -> BuildFile:
    """Parse text into stages; every error names ``file`` and the line."""
    ast = parse(source, file=file)
    meta: list[Arg] = []
    stages: list[tuple[From, list[Instruction]]] = []
    seen: dict[str, int] = {}
    for node in ast.nodes:
        inst = parse_instruction(node, file=file)
        if isinstance(inst, From):
            if inst.stage_name is not None:
                if inst.stage_name in seen:
                    raise DockerfileParseError(
                        f"duplicate stage name {inst.stage_name!r}", file=file, line=inst.line,
                        hint=f"the first stage of that name is on line {seen[inst.stage_name]}",
                    )
                seen[inst.stage_name] = inst.line
            stages.append((inst, []))
        elif not stages:
            if not isinstance(inst, Arg):
                raise DockerfileParseError(
                    f"{node.cmd.upper()} before the first FROM", file=file, line=inst.line,
                    hint="only ARG may come before FROM; start the Dockerfile with FROM",
                )
            meta.append(inst)
        else:
            stages[-1][1].append(inst)
    if not stages:
        raise DockerfileParseError(
            "no build stage in the Dockerfile", file=file, line=ast.end_line,
            hint="add a FROM instruction",
        )
    return BuildFile(
        ast,
        tuple(meta),
        tuple(Stage(i, src, tuple(cmds)) for i, (src, cmds) in enumerate(stages)),
    )


def describe(build: BuildFile) -> str:
    """A stable text form of the typed result (the corpus's expected files)."""
    from stackctl.lightdc import fields

    def one(inst: Instruction) -> str:
        parts = [f"{inst.line}:", type(inst).__name__]
        for f in fields(inst):
            if f.name == "node":
                continue
            value = getattr(inst, f.name)
            if value in (None, (), False, 0):
                continue
            parts.append(f"{f.name}={value!r}")
        return " ".join(parts)

    lines = [f"meta {one(a)}" for a in build.meta_args]
    for stage in build.stages:
        lines.append(f"stage {stage.ref} {one(stage.source)}")
        lines.extend("  " + one(c) for c in stage.commands)
    return "\n".join(lines) + "\n"
