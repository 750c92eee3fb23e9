"""What ``run`` and ``create`` do once their flags are parsed (no typer here).

Two parsers feed it: typer (cli/run_cmd.py, which also renders help and flag
errors) and the fast path (cli/fastpath.py), which spares a plain ``run`` the
~60 ms of importing typer and click. Both hand over the same parameter dict,
keyed by the names of ``run_cmd._run``'s parameters.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from stackctl.cli.options import GlobalOptions
    from stackctl.cli.run_opts import RunFlags
    from stackctl.engine.api import Engine

# Parameters holding several values (click gives tuples, the fast path lists).
_MULTI = ("args", "env", "env_file", "volume", "tmpfs", "mount", "cap_add", "cap_drop",
          "label", "network_alias", "publish", "expose", "log_opt", "ulimit", "sysctl", "link",
          "add_host", "dns", "dns_search", "dns_option", "group_add", "security_opt",
          "device", "device_cgroup_rule")
_NOT_FLAGS = ("detach",)  # parameters of the command, not of the container


def flags_from_params(params: dict[str, Any]) -> RunFlags:
    from stackctl.cli.run_opts import RunFlags

    values = {k: v for k, v in params.items() if k not in _NOT_FLAGS}
    for key in _MULTI:
        values[key] = tuple(values.get(key) or ())
    return RunFlags(**values)


def run_container(g: GlobalOptions, params: dict[str, Any], *, create_only: bool) -> int:
    """Create (and unless ``create_only``, start) the container; the exit code."""
    from stackctl.cli.run_opts import to_config
    from stackctl.engine.api import Engine
    from stackctl.errors import RuntimeFailure, StackctlError
    from stackctl.timeline import mark

    mark("cli: imported")
    if (params.get("interactive") and params.get("tty") and not create_only
            and not params.get("detach") and not sys.stdin.isatty()):
        # docker run -it with a pipe on stdin: refused before anything is made
        # (the session would wait for a terminal that never comes); exit 1
        raise StackctlError("the input device is not a TTY",
                            hint="drop -t to pipe input into the container")
    try:
        flags = flags_from_params(params)
        config = to_config(flags)
        with Engine(g.root, g.run_root) as engine:
            _check_links(engine, flags.link)
            rec = engine.create(config)
            mark("engine: created")
            if create_only:
                _print(rec.id)
                return 0
            detach = bool(params.get("detach"))
            if not detach and flags.rm:
                # No detached monitor: this process supervises (saves a Python start-up).
                try:
                    return engine.run_foreground(rec.id, stdin=flags.interactive,
                                                 tty=flags.tty)
                except BaseException:
                    discard(engine, rec.id)
                    raise
            try:
                engine.start(rec.id, hold=not detach)
            except BaseException:
                discard(engine, rec.id)
                raise
            if detach:
                _print(rec.id)
                return 0
            return attach_session(engine, rec.id, stdin=flags.interactive, tty=flags.tty)
    except StackctlError as exc:
        # docker run: 125 for every error of the engine or of the flags, so a
        # script tells them from the container's own exit code (126, 127 and
        # the command's codes come through as RuntimeFailure or the return value)
        if not isinstance(exc, RuntimeFailure):
            exc.exit_code = 125
        raise


def _check_links(engine: Engine, links: tuple[str, ...]) -> None:
    """docker run: a --link to no container is refused before anything is made.
    (Only here: a stack's links name services, which its DNS resolves.)"""
    from stackctl.errors import NotFound

    for link in links:
        target = link.split(":", 1)[0]
        try:
            engine.get(target)
        except NotFound as exc:
            raise NotFound(f"--link {link}: {exc.message}", hint=exc.hint) from None


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def discard(engine: Engine, cid: str) -> None:
    """A container that never ran is not left behind (bad command, user, mount…)."""
    from stackctl.errors import StackctlError

    try:
        engine.remove(cid, force=True, volumes=True)
    except StackctlError:
        pass


def attach_session(engine: Engine, cid: str, *, stdin: bool, tty: bool,
                   replay: bool = True) -> int:
    """Attach this terminal to ``cid`` until it ends; its exit code (removal awaited)."""
    from stackctl.engine.attach import DETACHED, attach
    from stackctl.errors import NotFound, StackctlError

    rec = engine.get(cid)
    sock = engine.connect(cid)

    def forward(sig: int) -> None:
        try:
            engine.kill(cid, sig)
        except StackctlError:
            pass

    try:
        code = attach(sock, stdin=stdin, tty=tty, sock_path=engine.paths(cid).sock,
                      on_signal=forward, replay=replay)
    finally:
        sock.close()
    if code == DETACHED:  # Ctrl-P Ctrl-Q: leave it running, like docker
        return 0
    if code is None:
        try:
            code = engine.wait(cid)
        except NotFound:
            code = 0
    if rec.config.auto_remove:
        _await_removal(engine, cid)
    sys.stdout.flush()
    return code


def _await_removal(engine: Engine, cid: str) -> None:
    import time

    from stackctl.errors import NotFound

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            engine.get(cid)
        except NotFound:
            return
        time.sleep(0.01)


__all__ = ["attach_session", "discard", "flags_from_params", "run_container"]
