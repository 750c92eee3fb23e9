"""The step plan: typed instructions + build args + base config -> steps. Pure.

Expansion follows the Dockerfile reference:

* ARGs before the first FROM (meta args) are usable in FROM lines only; a
  stage sees one only if it redeclares it (``ARG NAME`` without a value takes
  the meta value);
* ``--build-arg`` overrides an ARG's default, and only for declared ARGs;
* ENV overrides ARG of the same name; one ENV instruction expands all its
  pairs with the environment from before it;
* RUN, CMD, ENTRYPOINT and HEALTHCHECK are not expanded here (their shell
  does it); ARG values reach RUN as environment variables, not persisted.

Config-only steps (ENV, WORKDIR, CMD...) are folded into ``StageState``
purely, so a whole stage is planned before anything runs; RUN and COPY/ADD
carry a ``RunSpec`` / ``CopySpec`` for the executor. Each step's
``created_by`` is its history text, and with the parent image ID and the
source digest it makes the cache key (see cache.py).
"""

from __future__ import annotations

import json
import posixpath
import signal
from collections.abc import Mapping

from stackctl.engine.build import instructions as ins
from stackctl.engine.build._expand import Expander, fail
from stackctl.engine.build.runmounts import RunMount, parse_mount
from stackctl.engine.build.shell import Lex
from stackctl.engine.build.stages import BuildFile, Stage
from stackctl.engine.images.config import Healthcheck, ImageConfig
from stackctl.lightdc import dataclass, replace

__all__ = ["CopySpec", "RunSpec", "StageState", "Step", "plan_stage"]

DEFAULT_SHELL = ("/bin/sh", "-c")


@dataclass(frozen=True)
class StageState:
    config: ImageConfig
    author: str = ""
    args: tuple[tuple[str, str | None], ...] = ()  # declared ARGs in scope, in order
    cmd_set: bool = False  # CMD given in this stage (ENTRYPOINT keeps it)

    def arg_values(self) -> dict[str, str]:
        return {k: v for k, v in self.args if v is not None}

    def env(self) -> dict[str, str]:
        """The expansion environment: ARGs, overridden by ENV."""
        return {**self.arg_values(), **self.config.env_dict}


@dataclass(frozen=True)
class RunSpec:
    argv: tuple[str, ...]
    env: tuple[str, ...]  # image Env + ARG values (ARGs not persisted)
    user: str
    workdir: str
    network: str  # "none" | "host"
    mounts: tuple[RunMount, ...] = ()
    scripts: tuple[tuple[str, str], ...] = ()  # (name, data) files under /dev/pipes
    insecure: bool = False  # --security=insecure: all capabilities, devices, rw /sys


@dataclass(frozen=True)
class CopySpec:
    sources: tuple[str, ...]
    contents: tuple[tuple[str, str], ...]  # heredoc (name, expanded data)
    dest: str  # absolute, cleaned, trailing "/" kept
    from_: str | None
    chown: str | None
    chmod: str | None
    excludes: tuple[str, ...] = ()
    add: bool = False
    checksum: str | None = None
    unpack: bool | None = None  # ADD --unpack; None: local archives are extracted


@dataclass(frozen=True)
class Step:
    instruction: ins.Instruction
    kind: str  # "config" | "workdir" | "run" | "copy"
    created_by: str
    state: StageState  # after this step
    run: RunSpec | None = None
    copy: CopySpec | None = None


def _ports(inst: ins.Expose, ex: Expander, file: str) -> list[str]:
    out = []
    for raw in inst.ports:
        for spec in ex.words(raw):
            port, _, proto = spec.partition("/")
            proto = (proto or "tcp").lower()
            lo, _, hi = port.partition("-")
            if proto not in ("tcp", "udp", "sctp") or not lo.isdigit() or (hi and
                                                                        not hi.isdigit()):
                fail(inst, file, f"invalid containerPort: {spec}",
                     hint="write EXPOSE 80, 80/udp or 8000-8010/tcp")
            for p in range(int(lo), int(hi or lo) + 1):
                out.append(f"{p}/{proto}")
    return out


def _check_signal(inst: ins.Instruction, sig: str, file: str) -> None:
    name = sig.upper()
    if sig.isdigit() or name in signal.Signals.__members__ or \
            ("SIG" + name) in signal.Signals.__members__ or name.startswith("SIGRTM"):
        return
    fail(inst, file, f"Invalid signal: {sig}", hint="use a name like SIGTERM or a number")


def _shell_argv(state: StageState, cmd: tuple[str, ...], prepend: bool) -> tuple[str, ...]:
    if not prepend:
        return cmd
    return (*(state.config.shell or DEFAULT_SHELL), *cmd)


def _run(inst: ins.Run, state: StageState, ex: Expander, file: str,
         default_network: str) -> tuple[RunSpec, str]:
    args = state.arg_values()
    env_dict = state.config.env_dict
    env = list(state.config.env) + [f"{k}={v}" for k, v in args.items() if k not in env_dict]
    cmd = inst.cmd
    scripts: tuple[tuple[str, str], ...] = ()
    if inst.files:
        from stackctl.engine.build.heredoc import parse_heredoc

        single = len(cmd) == 1 and parse_heredoc(cmd[0]) is not None
        if single and inst.files[0].data.startswith("#!"):
            scripts = ((inst.files[0].name, inst.files[0].data),)
            cmd = ("/dev/pipes/" + inst.files[0].name,)
            prepend = False
        elif single:
            cmd, prepend = (inst.files[0].data,), inst.prepend_shell
        else:
            cmd = (cmd[0] + "".join("\n" + f.data + f.name for f in inst.files),)
            prepend = inst.prepend_shell
    else:
        prepend = inst.prepend_shell
    argv = _shell_argv(state, cmd, prepend)
    mounts = []
    for raw in inst.mounts:
        try:
            mounts.append(parse_mount(ex.word(raw)))
        except ValueError as exc:
            fail(inst, file, f"--mount={raw}: {exc}",
                 hint="e.g. --mount=type=cache,target=/root/.cache")
    wanted = inst.network if inst.network not in (None, "default") else default_network
    network = "host" if wanted == "host" else "none"
    spec = RunSpec(tuple(argv), tuple(env), state.config.user, state.config.working_dir or "/",
                   network, tuple(mounts), scripts, insecure=inst.security == "insecure")
    shown = " ".join(argv) if prepend else json.dumps(list(argv))
    prefix = f"|{len(args)} " + " ".join(f"{k}={v}" for k, v in args.items()) + " " \
        if args else ""
    return spec, f"RUN {prefix}{shown}"


def _copy(inst: ins.Copy | ins.Add, state: StageState, ex: Expander) -> CopySpec:
    sources = tuple(ex.word(s) for s in inst.sources)
    raw_dest = ex.word(inst.dest)
    workdir = state.config.working_dir or "/"
    dest = posixpath.normpath(posixpath.join(workdir, raw_dest))
    if raw_dest.endswith("/") or raw_dest in (".", "") or raw_dest.endswith("/."):
        dest = dest.rstrip("/") + "/"
    lex_doc = Lex(escape=ex.lex.escape, skip_quotes=True)
    contents = tuple(
        (f.name, lex_doc.process_word(f.data, ex.env) if f.expand else f.data)
        for f in inst.contents)
    from_ = ex.word(inst.from_) if isinstance(inst, ins.Copy) and inst.from_ else None
    return CopySpec(
        sources, contents, dest, from_,
        ex.word(inst.chown) if inst.chown else None,
        ex.word(inst.chmod) if inst.chmod else None,
        tuple(ex.word(e) for e in inst.excludes),
        add=isinstance(inst, ins.Add),
        checksum=inst.checksum if isinstance(inst, ins.Add) else None,
        unpack=inst.unpack if isinstance(inst, ins.Add) else None,
    )


def _config_step(inst: ins.Instruction, state: StageState, ex: Expander,
                 meta: Mapping[str, str | None], build_args: Mapping[str, str],
                 file: str) -> tuple[StageState, str]:
    cfg = state.config
    if isinstance(inst, ins.Env):
        pairs = [(ex.word(p.key), ex.word(p.value)) for p in inst.pairs]
        for k, v in pairs:
            cfg = cfg.with_env(k, v)
        return replace(state, config=cfg), "ENV " + " ".join(f"{k}={v}" for k, v in pairs)
    if isinstance(inst, ins.Label):
        labels = {ex.word(p.key): ex.word(p.value) for p in inst.pairs}
        text = " ".join(f"{k}={v}" for k, v in labels.items())
        return replace(state, config=cfg.with_labels(labels)), "LABEL " + text
    if isinstance(inst, ins.Arg):
        args = dict(state.args)
        shown = []
        for d in inst.args:
            value: str | None
            if d.name in build_args:
                value = build_args[d.name]
            elif d.default is not None:
                value = ex.word(d.default)
            else:
                value = meta.get(d.name)
            args[d.name] = value
            ex.env = {**{k: v for k, v in args.items() if v is not None}, **cfg.env_dict}
            shown.append(d.name if value is None else f"{d.name}={value}")
        return replace(state, args=tuple(args.items())), "ARG " + " ".join(shown)
    if isinstance(inst, ins.Workdir):
        path = posixpath.normpath(posixpath.join(cfg.working_dir or "/", ex.word(inst.path)))
        return replace(state, config=replace(cfg, working_dir=path)), f"WORKDIR {path}"
    if isinstance(inst, ins.User):
        user = ex.word(inst.user)
        return replace(state, config=replace(cfg, user=user)), f"USER {user}"
    if isinstance(inst, ins.Expose):
        ports = tuple(sorted(set(cfg.exposed_ports) | set(_ports(inst, ex, file))))
        return (replace(state, config=replace(cfg, exposed_ports=ports)),
                "EXPOSE " + " ".join(_ports(inst, ex, file)))
    if isinstance(inst, ins.Volume):
        vols = [ex.word(v) for v in inst.paths]
        if any(not v for v in vols):
            fail(inst, file, "VOLUME specified can not be an empty string")
        merged = tuple(sorted(set(cfg.volumes) | set(vols)))
        return replace(state, config=replace(cfg, volumes=merged)), "VOLUME " + json.dumps(vols)
    if isinstance(inst, ins.StopSignal):
        sig = ex.word(inst.signal)
        _check_signal(inst, sig, file)
        return replace(state, config=replace(cfg, stop_signal=sig)), f"STOPSIGNAL {sig}"
    if isinstance(inst, ins.Cmd):
        argv = _shell_argv(state, inst.cmd, inst.prepend_shell)
        return (replace(state, config=replace(cfg, cmd=argv), cmd_set=True),
                "CMD " + json.dumps(list(argv)))
    if isinstance(inst, ins.Entrypoint):
        argv = _shell_argv(state, inst.cmd, inst.prepend_shell)
        cfg = replace(cfg, entrypoint=argv, cmd=cfg.cmd if state.cmd_set else None)
        return replace(state, config=cfg), "ENTRYPOINT " + json.dumps(list(argv))
    if isinstance(inst, ins.Healthcheck):
        hc = Healthcheck(inst.test, inst.interval_ns, inst.timeout_ns, inst.start_period_ns,
                         inst.start_interval_ns, inst.retries)
        return (replace(state, config=replace(cfg, healthcheck=hc)),
                "HEALTHCHECK " + json.dumps(hc.to_json(), sort_keys=True))
    if isinstance(inst, ins.Shell):
        return replace(state, config=replace(cfg, shell=inst.shell)), \
            "SHELL " + json.dumps(list(inst.shell))
    if isinstance(inst, ins.Maintainer):
        return replace(state, author=inst.name), f"MAINTAINER {inst.name}"
    if isinstance(inst, ins.Onbuild):
        return (replace(state, config=replace(cfg, on_build=(*cfg.on_build, inst.expression))),
                f"ONBUILD {inst.expression}")
    raise AssertionError(f"not a config instruction: {inst!r}")


def onbuild_triggers(config: ImageConfig, escape: str = "\\") -> list[ins.Instruction]:
    """The base image's ONBUILD triggers as instructions, run right after FROM."""
    from stackctl.engine.build.parser import parse

    out = []
    for expr in config.on_build:
        for node in parse(expr, file="ONBUILD trigger").nodes:
            out.append(ins.parse_instruction(node, file="ONBUILD trigger"))
    return out


def plan_stage(build: BuildFile, stage: Stage, base: ImageConfig, *, base_author: str = "",
               meta: Mapping[str, str | None], build_args: Mapping[str, str],
               labels: Mapping[str, str] | None = None,
               network: str = "none") -> list[Step]:
    """The steps of one stage, each with the stage state after it. ``network``
    is the RUN default (``build --network``); ``RUN --network`` overrides it."""
    commands = [*onbuild_triggers(base, build.ast.escape), *stage.commands]
    state = StageState(replace(base, on_build=()), author=base_author)
    steps: list[Step] = []
    for inst in commands:
        ex = Expander(inst, state.env(), build.ast.escape, build.file)
        if isinstance(inst, ins.Run):
            run, text = _run(inst, state, ex, build.file, network)
            steps.append(Step(inst, "run", text, state, run=run))
        elif isinstance(inst, (ins.Copy, ins.Add)):
            spec = _copy(inst, state, ex)
            word = "ADD" if spec.add else "COPY"
            flags = "".join(f" --{k}={v}" for k, v in (("from", spec.from_),
                            ("chown", spec.chown), ("chmod", spec.chmod)) if v)
            docs = ("<<" + name for name, _ in spec.contents)
            text = f"{word}{flags} " + " ".join((*spec.sources, *docs, spec.dest))
            steps.append(Step(inst, "copy", text, state, copy=spec))
        elif isinstance(inst, ins.From):
            fail(inst, build.file, "FROM is not allowed here (ONBUILD trigger)")
        else:
            state, text = _config_step(inst, state, ex, meta, build_args, build.file)
            # WORKDIR creates its directory (owned by USER), as BuildKit does.
            kind = "workdir" if isinstance(inst, ins.Workdir) and \
                state.config.working_dir != "/" else "config"
            steps.append(Step(inst, kind, text, state))
    if labels:
        last = stage.commands[-1] if stage.commands else stage.source
        cfg = state.config.with_labels(dict(labels))
        state = replace(state, config=cfg)
        text = "LABEL " + " ".join(f"{k}={v}" for k, v in sorted(labels.items()))
        steps.append(Step(last, "config", text, state))
    return steps
