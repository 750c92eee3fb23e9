"""The launcher's command line: runc's syntax, parsed by hand (argparse would cost
~5 ms of start-up per container).
"""

from __future__ import annotations

from stackctl.engine.runtime._parent import LaunchError

TYPE_CHECKING = False  # no `typing` import at run time: launcher start-up cost
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["DEFAULT_STATE_ROOT", "USAGE", "Options", "parse_args"]

DEFAULT_STATE_ROOT = "/run/stackctl/launch"
USAGE = """    python -m stackctl.engine.runtime.launch [--root DIR] run --bundle DIR
        [--pid-file FILE] [--detach] [--console-socket SOCK] [--preserve-fds N] ID
    ... exec (--pid PID | ID) (--process process.json | [--] ARGS...) [--detach]
        [--tty] [--env K=V]... [--user U[:G]] [--cwd DIR] [--cap CAP]...
        [--pid-file FILE] [--console-socket SOCK] [--preserve-fds N]
    ... state ID | kill [--all] ID [SIGNAL] | delete [--force] ID"""


class Options:
    """The parsed command line."""

    def __init__(self) -> None:
        self.root = DEFAULT_STATE_ROOT
        self.command = ""
        self.bundle = "."
        self.pid_file: str | None = None
        self.detach = False
        self.console_socket: str | None = None
        self.preserve_fds = 0
        self.pid: int | None = None
        self.process: str | None = None
        self.tty = False
        self.all = False
        self.force = False
        self.id = ""
        self.signal = "SIGTERM"
        self.args: list[str] = []
        self.env: list[str] = []
        self.caps: list[str] = []  # exec --cap: added to the process's capability sets
        self.user: str | None = None
        self.cwd: str | None = None
        self.debug = False


_VALUED = {"--root": "root", "--bundle": "bundle", "-b": "bundle", "--pid-file": "pid_file",
           "--console-socket": "console_socket", "--preserve-fds": "preserve_fds",
           "--pid": "pid", "--process": "process", "-p": "process", "--log": "",
           "--log-format": "", "--env": "env", "-e": "env", "--user": "user", "-u": "user",
           "--cwd": "cwd", "--cap": "caps", "-c": "caps"}
_FLAGGED = {"--detach": "detach", "-d": "detach", "--tty": "tty", "-t": "tty",
            "--all": "all", "-a": "all", "--force": "force", "-f": "force", "--debug": "debug"}
_POSITIONAL = {"run": ("id",), "exec": ("id",), "state": ("id",), "kill": ("id", "signal"),
               "delete": ("id",)}


def parse_args(argv: Sequence[str]) -> Options:
    """runc's syntax: global options, a command, its options, its positionals.
    For `exec ID ARGS...`, everything after the ID is the command."""
    opts = Options()
    rest = list(argv)
    positional: list[str] = []
    while rest:
        arg = rest.pop(0)
        name, eq, inline = arg.partition("=")
        if arg == "--":
            if opts.command == "exec":
                if not positional and opts.pid is None and rest:
                    positional.append(rest.pop(0))
                opts.args = rest
            break
        if opts.command == "exec" and (positional or opts.pid is not None) and (
                not arg.startswith("-") or arg == "-"):
            opts.args = [arg, *rest]  # the command starts after the ID (or --pid N)
            break
        if name in _VALUED:
            if eq:
                value = inline
            elif rest:
                value = rest.pop(0)
            else:
                raise LaunchError(f"option {name} needs a value", 2)
            attr = _VALUED[name]
            if attr in ("preserve_fds", "pid"):
                if not value.isdigit():
                    raise LaunchError(f"option {name} needs a number, not {value!r}", 2)
                setattr(opts, attr, int(value))
            elif attr == "env":
                opts.env.append(value)
            elif attr == "caps":
                opts.caps.append(value)
            elif attr:
                setattr(opts, attr, value)
        elif arg in _FLAGGED:
            if _FLAGGED[arg]:
                setattr(opts, _FLAGGED[arg], True)
        elif arg.startswith("-") and arg != "-":
            raise LaunchError(f"unknown option {arg}\n{USAGE}", 2)
        elif not opts.command:
            if arg not in _POSITIONAL:
                raise LaunchError(f"unknown command {arg!r}\n{USAGE}", 2)
            opts.command = arg
        else:
            positional.append(arg)
    if not opts.command:
        raise LaunchError(f"no command given\n{USAGE}", 2)
    names = _POSITIONAL[opts.command]
    if len(positional) > len(names):
        raise LaunchError(f"{opts.command}: unexpected argument {positional[len(names)]!r}", 2)
    for attr, value in zip(names, positional, strict=False):
        setattr(opts, attr, value)
    if not opts.id and not (opts.command == "exec" and opts.pid is not None):
        raise LaunchError(f"{opts.command}: missing container ID", 2)
    return opts
