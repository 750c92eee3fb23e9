"""The one error hierarchy of stackctl.

Every failure a user can cause or meet is a ``StackctlError``. Each carries a
message that says what went wrong (naming the file:line:column and key path,
the Dockerfile line, the flag, or the service), and an optional hint that says
what to do about it. Foreign exceptions (OSError, NetlinkError, sqlite3 errors,
pydantic's ValidationError) are mapped where they enter, with ``raise ... from``.
Exit codes are decided once, in the CLI, from the class.

    StackctlError
    ├── UsageError            bad flag or argument value
    ├── SpecError             stack file: YAML, schema, interpolation, merge, extends
    │   └── SpecValidationError   several located problems reported at once
    ├── BuildError            Dockerfile parse or build step failure
    │   └── DockerfileParseError
    ├── ImageError            image store: bad archive, unsafe tar, bad reference
    ├── EngineError           container engine and state store
    │   ├── NotFound              no container, image, volume, network by that name
    │   ├── AlreadyExists         a name that is taken
    │   ├── Conflict              the resource is in use / in a state that forbids it
    │   ├── InvalidStateTransition  lifecycle transition not allowed
    │   └── RuntimeFailure        the launcher could not start the container (126/127)
    ├── NetError              bridges, veths, IPAM, ports
    └── SchedulerError        dependency cycles, failed services during up/down
"""

from __future__ import annotations

from stackctl.lightdc import dataclass


class StackctlError(Exception):
    """Base class. ``hint`` tells the user what to do next."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(StackctlError):
    exit_code = 2


@dataclass(frozen=True)
class Location:
    """Where in a source file a problem is. Lines and columns are 1-based."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        out = self.file
        if self.line is not None:
            out += f":{self.line}"
            if self.column is not None:
                out += f":{self.column}"
        return out


class SpecError(StackctlError):
    """A problem in a stack file. ``location`` and ``key_path`` point at it."""

    exit_code = 15  # compose uses 15 for invalid project files

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        key_path: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.location = location
        self.key_path = key_path
        prefix = ""
        if location is not None:
            prefix = f"{location}: "
        if key_path:
            prefix += f"{key_path}: "
        super().__init__(prefix + message, hint=hint)
        self.bare_message = message


class SpecValidationError(SpecError):
    """Several problems found in one pass; ``problems`` holds each one."""

    def __init__(self, problems: list[SpecError]) -> None:
        self.problems = problems
        lines = [p.message for p in problems]
        head = f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the stack file"
        StackctlError.__init__(self, head + ":\n  " + "\n  ".join(lines))
        self.location = problems[0].location if problems else None
        self.key_path = problems[0].key_path if problems else None
        self.bare_message = head
        hints = [p.hint for p in problems if p.hint]
        self.hint = hints[0] if len(hints) == 1 else None


class BuildError(StackctlError):
    pass


class DockerfileParseError(BuildError):
    def __init__(self, message: str, *, file: str = "Dockerfile", line: int | None = None,
                 hint: str | None = None) -> None:
        self.file = file
        self.line = line
        loc = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(loc + message, hint=hint)


class ImageError(StackctlError):
    pass


class EngineError(StackctlError):
    exit_code = 125  # docker's code for errors of the engine itself


class NotFound(EngineError):
    pass


class AlreadyExists(EngineError):
    pass


class Conflict(EngineError):
    pass


class InvalidStateTransition(EngineError):
    def __init__(self, from_: str, to: str, *, what: str = "container",
                 hint: str | None = None) -> None:
        self.from_ = from_
        self.to = to
        super().__init__(f"cannot move {what} from {from_} to {to}", hint=hint)


class RuntimeFailure(EngineError):
    """The container's process could not be started. exit_code follows docker:
    126 when the command cannot be invoked, 127 when it is not found."""

    def __init__(self, message: str, *, exit_code: int = 125, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code


class NetError(StackctlError):
    pass


class SchedulerError(StackctlError):
    pass


__all__ = [
    "AlreadyExists",
    "BuildError",
    "Conflict",
    "DockerfileParseError",
    "EngineError",
    "ImageError",
    "InvalidStateTransition",
    "Location",
    "NetError",
    "NotFound",
    "RuntimeFailure",
    "SchedulerError",
    "SpecError",
    "SpecValidationError",
    "StackctlError",
    "UsageError",
]
