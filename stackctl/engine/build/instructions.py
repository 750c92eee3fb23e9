"""AST nodes -> typed instructions, one ``parse_xxx`` per instruction.

Values stay unexpanded here (``ENV A=$B`` keeps ``$B``): expansion needs the
build arguments and the environment of the stage, which the plan knows. What
can be checked from the text alone is checked here, with the Dockerfile line
in the error: argument counts, flags, JSON-only forms, stage names,
HEALTHCHECK options, ONBUILD triggers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from stackctl.engine.build._durations import parse_duration
from stackctl.engine.build._flags import FlagError, Flags, parse_flags
from stackctl.engine.build.heredoc import chomp, parse_heredoc
from stackctl.engine.build.parser import Node
from stackctl.errors import DockerfileParseError
from stackctl.lightdc import dataclass

__all__ = [
    "Add", "Arg", "ArgDef", "Cmd", "Copy", "Entrypoint", "Env", "Expose", "From",
    "Healthcheck", "InlineFile", "Instruction", "KeyValue", "Label", "Maintainer",
    "Onbuild", "Run", "Shell", "StopSignal", "User", "Volume", "Workdir",
    "parse_instruction",
]

INSTRUCTIONS = (
    "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck",
    "label", "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume",
    "workdir",
)
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")


class _Bad(ValueError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True, eq=False)  # compared by identity: cheaper to define
class Instruction:
    node: Node

    @property
    def line(self) -> int:
        return self.node.start_line

    @property
    def text(self) -> str:
        """The instruction as written (continuations joined), for history."""
        return self.node.original.strip()


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str  # unexpanded, quotes kept


@dataclass(frozen=True)
class ArgDef:
    name: str
    default: str | None  # unexpanded


@dataclass(frozen=True)
class InlineFile:
    """A heredoc body: a RUN script or a COPY/ADD source."""

    name: str
    data: str
    expand: bool


@dataclass(frozen=True, eq=False)
class From(Instruction):
    base: str
    stage_name: str | None
    platform: str | None


@dataclass(frozen=True, eq=False)
class Run(Instruction):
    cmd: tuple[str, ...]
    prepend_shell: bool
    files: tuple[InlineFile, ...]
    mounts: tuple[str, ...]
    network: str | None
    security: str | None


@dataclass(frozen=True, eq=False)
class Cmd(Instruction):
    cmd: tuple[str, ...]
    prepend_shell: bool


@dataclass(frozen=True, eq=False)
class Entrypoint(Instruction):
    cmd: tuple[str, ...]
    prepend_shell: bool


@dataclass(frozen=True, eq=False)
class Env(Instruction):
    pairs: tuple[KeyValue, ...]


@dataclass(frozen=True, eq=False)
class Label(Instruction):
    pairs: tuple[KeyValue, ...]


@dataclass(frozen=True, eq=False)
class Arg(Instruction):
    args: tuple[ArgDef, ...]


@dataclass(frozen=True, eq=False)
class Maintainer(Instruction):
    name: str


@dataclass(frozen=True, eq=False)
class Expose(Instruction):
    ports: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Volume(Instruction):
    paths: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class User(Instruction):
    user: str


@dataclass(frozen=True, eq=False)
class Workdir(Instruction):
    path: str


@dataclass(frozen=True, eq=False)
class Copy(Instruction):
    sources: tuple[str, ...]
    contents: tuple[InlineFile, ...]
    dest: str
    from_: str | None
    chown: str | None
    chmod: str | None
    link: bool
    excludes: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Add(Instruction):
    sources: tuple[str, ...]
    contents: tuple[InlineFile, ...]
    dest: str
    chown: str | None
    chmod: str | None
    link: bool
    checksum: str | None
    excludes: tuple[str, ...]
    unpack: bool | None = None  # --unpack: None = archives from the context are extracted


@dataclass(frozen=True, eq=False)
class Shell(Instruction):
    shell: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Healthcheck(Instruction):
    test: tuple[str, ...]  # ("NONE",) | ("CMD", ...) | ("CMD-SHELL", cmd)
    interval_ns: int = 0
    timeout_ns: int = 0
    start_period_ns: int = 0
    start_interval_ns: int = 0
    retries: int = 0


@dataclass(frozen=True, eq=False)
class StopSignal(Instruction):
    signal: str


@dataclass(frozen=True, eq=False)
class Onbuild(Instruction):
    expression: str  # the trigger instruction's text, run in child builds


def _flags(node: Node, spec: dict[str, str]) -> Flags:
    try:
        return parse_flags(node.flags, spec, node.cmd)
    except FlagError as exc:
        raise _Bad(str(exc), exc.hint) from None


def _exactly_one(node: Node) -> str:
    if len(node.args) != 1:
        raise _Bad(f"{node.cmd.upper()} requires exactly one argument")
    return node.args[0]


def _at_least_one(node: Node) -> None:
    if not node.args:
        raise _Bad(f"{node.cmd.upper()} requires at least one argument")


def _cmdline(node: Node) -> tuple[tuple[str, ...], bool]:
    if not node.args:
        return (), not node.json
    if node.json:
        return node.args, False
    return (" ".join(node.args),), True


def _pairs(node: Node) -> tuple[KeyValue, ...]:
    _at_least_one(node)
    out = []
    for i in range(0, len(node.args), 3):
        key, value = node.args[i], node.args[i + 1]
        if not key:
            raise _Bad(f"{node.cmd.upper()} names can not be blank")
        out.append(KeyValue(key, value))
    return tuple(out)


def parse_from(node: Node) -> From:
    flags = _flags(node, {"platform": "string"})
    args = node.args
    name = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise _Bad(
                f"invalid name for build stage: {args[2]!r}, "
                "name can't start with a number or contain symbols",
                hint="stage names are letters, digits, '-', '_' and '.', starting with a letter",
            )
    elif len(args) != 1:
        raise _Bad(
            "FROM requires either one or three arguments",
            hint="write 'FROM image' or 'FROM image AS name'",
        )
    return From(node, args[0], name, flags.string("platform"))


def parse_run(node: Node) -> Run:
    flags = _flags(node, {"mount": "list", "network": "string", "security": "string",
                          "device": "list"})
    network = flags.string("network")
    if network is not None and network not in ("default", "none", "host"):
        raise _Bad(f"unsupported network mode {network!r}", hint="use none, host or default")
    security = flags.string("security")
    if security is not None and security not in ("sandbox", "insecure"):
        raise _Bad(f"unsupported security mode {security!r}", hint="use sandbox or insecure")
    if flags.strings("device"):
        raise _Bad("RUN --device is not supported by this builder",
                   hint="remove --device; build steps get the standard /dev only")
    cmd, shell = _cmdline(node)
    if not cmd and not node.heredocs:
        raise _Bad("RUN requires at least one argument")
    files = tuple(InlineFile(h.name, chomp(h.content) if h.chomp else h.content, h.expand)
                  for h in node.heredocs)
    return Run(node, cmd, shell, files, flags.strings("mount"), network, security)


def parse_cmd(node: Node) -> Cmd:
    _flags(node, {})
    cmd, shell = _cmdline(node)
    return Cmd(node, cmd, shell)


def parse_entrypoint(node: Node) -> Entrypoint:
    _flags(node, {})
    cmd, shell = _cmdline(node)
    return Entrypoint(node, cmd, shell)


def parse_env(node: Node) -> Env:
    _flags(node, {})
    return Env(node, _pairs(node))


def parse_label(node: Node) -> Label:
    _flags(node, {})
    return Label(node, _pairs(node))


def parse_arg(node: Node) -> Arg:
    _flags(node, {})
    _at_least_one(node)
    out = []
    for word in node.args:
        name, eq, default = word.partition("=")
        if not name:
            raise _Bad("ARG names can not be blank")
        out.append(ArgDef(name, default if eq else None))
    return Arg(node, tuple(out))


def parse_maintainer(node: Node) -> Maintainer:
    _flags(node, {})
    return Maintainer(node, _exactly_one(node))


def parse_expose(node: Node) -> Expose:
    _flags(node, {})
    _at_least_one(node)
    return Expose(node, node.args)


def parse_volume(node: Node) -> Volume:
    _flags(node, {})
    _at_least_one(node)
    for path in node.args:
        if not path.strip():
            raise _Bad("VOLUME specified can not be an empty string")
    return Volume(node, node.args)


def parse_user(node: Node) -> User:
    _flags(node, {})
    return User(node, _exactly_one(node))


def parse_workdir(node: Node) -> Workdir:
    _flags(node, {})
    return Workdir(node, _exactly_one(node))


def _sources(node: Node) -> tuple[tuple[str, ...], tuple[InlineFile, ...], str]:
    if len(node.args) < 2:
        raise _Bad(
            f"{node.cmd.upper()} requires at least two arguments, but only one was provided. "
            "Destination could not be determined.",
            hint=f"write '{node.cmd.upper()} <src>... <dest>'",
        )
    *srcs, dest = node.args
    if parse_heredoc(dest) is not None:
        raise _Bad(f"{node.cmd.upper()} cannot accept a heredoc as a destination")
    bodies = {h.name: h for h in node.heredocs}
    paths: list[str] = []
    contents: list[InlineFile] = []
    for src in srcs:
        doc = parse_heredoc(src)
        if doc is None or doc.name not in bodies:
            paths.append(src)
            continue
        body = bodies[doc.name]
        data = chomp(body.content) if body.chomp else body.content
        contents.append(InlineFile(doc.name, data, body.expand))
    return tuple(paths), tuple(contents), dest


def parse_copy(node: Node) -> Copy:
    flags = _flags(node, {"from": "string", "chown": "string", "chmod": "string",
                          "link": "bool", "exclude": "list", "parents": "bool"})
    if flags.boolean("parents"):
        raise _Bad("COPY --parents is not supported by this builder (a labs feature)",
                   hint="copy each directory to its destination explicitly")
    srcs, contents, dest = _sources(node)
    return Copy(node, srcs, contents, dest, flags.string("from"), flags.string("chown"),
                flags.string("chmod"), flags.boolean("link"), flags.strings("exclude"))


def parse_add(node: Node) -> Add:
    flags = _flags(node, {"chown": "string", "chmod": "string", "link": "bool",
                          "checksum": "string", "keep-git-dir": "bool", "exclude": "list",
                          "unpack": "bool"})
    if flags.boolean("keep-git-dir"):
        raise _Bad("ADD --keep-git-dir is not supported (git sources are not)",
                   hint="clone the repository into the build context and COPY it")
    srcs, contents, dest = _sources(node)
    unpack = flags.values.get("unpack")
    return Add(node, srcs, contents, dest, flags.string("chown"), flags.string("chmod"),
               flags.boolean("link"), flags.string("checksum"), flags.strings("exclude"),
               unpack if isinstance(unpack, bool) else None)


def parse_shell(node: Node) -> Shell:
    _flags(node, {})
    if not node.json:
        raise _Bad("SHELL requires the arguments to be in JSON form",
                   hint='write SHELL ["/bin/sh", "-c"]')
    _at_least_one(node)
    return Shell(node, node.args)


def _duration(flags: Flags, name: str) -> int:
    raw = flags.string(name)
    if not raw:
        return 0
    try:
        value = parse_duration(raw)
    except ValueError as exc:
        raise _Bad(f"--{name}: {exc}", hint="durations look like 30s, 1m30s, 500ms") from None
    if 0 < value < 1_000_000:
        raise _Bad(f"Interval {name!r} cannot be less than 1ms")
    return value


def parse_healthcheck(node: Node) -> Healthcheck:
    _at_least_one(node)
    kind = node.args[0].upper()
    rest = node.args[1:]
    if kind == "NONE":
        if rest:
            raise _Bad("HEALTHCHECK NONE takes no arguments")
        _flags(node, {})
        return Healthcheck(node, ("NONE",))
    flags = _flags(node, {"interval": "string", "timeout": "string", "start-period": "string",
                          "start-interval": "string", "retries": "string"})
    if kind != "CMD":
        raise _Bad(f"Unknown type {kind!r} in HEALTHCHECK (try CMD)",
                   hint="write HEALTHCHECK CMD <command> or HEALTHCHECK NONE")
    if not rest:
        raise _Bad("Missing command after HEALTHCHECK CMD")
    test = ("CMD", *rest) if node.json else ("CMD-SHELL", " ".join(rest))
    retries = 0
    if raw := flags.string("retries"):
        try:
            retries = int(raw)
        except ValueError:
            raise _Bad(f"--retries: invalid number {raw!r}") from None
        if retries < 0:
            raise _Bad(f"--retries cannot be negative ({retries})")
    return Healthcheck(node, test, _duration(flags, "interval"), _duration(flags, "timeout"),
                       _duration(flags, "start-period"), _duration(flags, "start-interval"),
                       retries)


def parse_stopsignal(node: Node) -> StopSignal:
    _flags(node, {})
    return StopSignal(node, _exactly_one(node))


def parse_onbuild(node: Node) -> Onbuild:
    _flags(node, {})
    if node.child is None:
        raise _Bad("ONBUILD requires at least one argument")
    trigger = node.child.cmd.upper()
    if trigger == "ONBUILD":
        raise _Bad("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise _Bad(f"{trigger} isn't allowed as an ONBUILD trigger")
    parse_instruction(node.child)  # the trigger must itself be valid
    expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", node.original)
    for doc in node.heredocs:
        expression += "\n" + doc.content + doc.name
    return Onbuild(node, expression)


_PARSERS: dict[str, Callable[[Node], Any]] = {
    "from": parse_from, "run": parse_run, "cmd": parse_cmd, "entrypoint": parse_entrypoint,
    "env": parse_env, "label": parse_label, "arg": parse_arg, "maintainer": parse_maintainer,
    "expose": parse_expose, "volume": parse_volume, "user": parse_user,
    "workdir": parse_workdir, "copy": parse_copy, "add": parse_add, "shell": parse_shell,
    "healthcheck": parse_healthcheck, "stopsignal": parse_stopsignal,
    "onbuild": parse_onbuild,
}


def parse_instruction(node: Node, *, file: str = "Dockerfile") -> Instruction:
    """The typed instruction for ``node``; DockerfileParseError names the line."""
    parser = _PARSERS.get(node.cmd)
    if parser is None:
        import difflib

        word = node.original.split()[0] if node.original.split() else node.cmd
        close = difflib.get_close_matches(node.cmd, INSTRUCTIONS, n=1, cutoff=0.6)
        hint = (f"did you mean {close[0].upper()}?" if close
                else "see the Dockerfile reference for the list of instructions")
        raise DockerfileParseError(f"unknown instruction: {word}", file=file,
                                   line=node.start_line, hint=hint)
    try:
        result: Instruction = parser(node)
    except _Bad as exc:
        raise DockerfileParseError(str(exc), file=file, line=node.start_line,
                                   hint=exc.hint) from None
    return result
