"""``--security-opt`` (compose's ``security_opt``): Docker's grammar and what each
option does here. Pure apart from looking at which security modules the host has;
shared by the CLI, the stack loader (its warnings) and the engine, so it imports
nothing of theirs.

    no-new-privileges[:true|false]   the process (and its children) cannot gain
                                     privileges through setuid/setgid binaries or
                                     file capabilities (Docker's default: off)
    seccomp=unconfined               no seccomp filter (builtin: Docker's default one)
    systempaths=unconfined           /proc and /sys paths unmasked and writable
    apparmor=PROFILE, label=...      AppArmor and SELinux: on a host without them
                                     Docker ignores them, and so does stackctl, with
                                     a warning; stackctl applies neither, so on a
                                     host that has them only the options that ask
                                     for no confinement are accepted

Options are stored as given (Docker's HostConfig.SecurityOpt), ``key:value``
spelled ``key=value`` as Docker normalises the deprecated colon form.
"""

from __future__ import annotations

import os

from stackctl.errors import UsageError

_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_LABEL_KEYS = ("user", "role", "type", "level", "filetype")


class SecurityOpts:
    """What a container's options mean: the launcher's switches, and the options
    that are accepted but change nothing on this host (warned about)."""

    __slots__ = ("ignored", "no_new_privileges", "seccomp", "unmasked_paths")

    def __init__(self) -> None:
        self.no_new_privileges = False
        self.seccomp = "default"  # or "unconfined"
        self.unmasked_paths = False  # systempaths=unconfined
        self.ignored: list[str] = []


def host_has_apparmor() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def host_has_selinux() -> bool:
    return os.path.exists("/sys/fs/selinux/enforce")


def normalize(opt: str, flag: str = "--security-opt") -> str:
    """One option, checked, as Docker stores it (``key=value``, or the bare
    ``no-new-privileges``)."""
    text = opt.strip()
    if text == "no-new-privileges":
        return text
    key, sep, value = text.partition("=")
    if not sep:
        key, sep, value = text.partition(":")  # Docker's deprecated KEY:VALUE
    if not sep:
        raise UsageError(f"{flag} {opt!r}: invalid security option",
                         hint="use KEY=VALUE: no-new-privileges, seccomp=unconfined, "
                              "apparmor=PROFILE, label=..., systempaths=unconfined")
    if key == "no-new-privileges":
        if value not in _TRUE + _FALSE:
            raise UsageError(f"{flag} {opt!r}: invalid value for no-new-privileges",
                             hint="no-new-privileges, or no-new-privileges=true|false")
    elif key == "seccomp":
        if value not in ("unconfined", "builtin"):
            raise UsageError(f"{flag} {opt!r}: stackctl applies Docker's default seccomp "
                             "profile or none; profile files are not supported",
                             hint="use seccomp=unconfined, or leave the default")
    elif key == "systempaths":
        if value != "unconfined":
            raise UsageError(f"{flag} {opt!r}: systempaths takes only 'unconfined'")
    elif key == "label":
        sub = value.partition(":")[0]
        if value not in ("disable", "nested") and sub not in _LABEL_KEYS:
            raise UsageError(f"{flag} {opt!r}: invalid label option",
                             hint="label=disable, or label=user:|role:|type:|level:VALUE")
    elif key != "apparmor":
        raise UsageError(f"{flag} {opt!r}: unknown security option {key!r}",
                         hint="no-new-privileges, seccomp, apparmor, label, systempaths")
    return f"{key}={value}"


def interpret(opts: tuple[str, ...] | list[str], flag: str = "--security-opt"
              ) -> SecurityOpts:
    """What ``opts`` (checked as ``normalize`` checks them) ask of the launcher. An
    AppArmor profile or SELinux label on a host that enforces them is refused:
    stackctl would silently run the container unconfined."""
    out = SecurityOpts()
    for opt in opts:
        norm = normalize(opt, flag)
        key, _, value = norm.partition("=")
        if key == "no-new-privileges":
            out.no_new_privileges = value == "" or value in _TRUE
        elif key == "seccomp":
            out.seccomp = "default" if value == "builtin" else "unconfined"
        elif key == "systempaths":
            out.unmasked_paths = True
        elif key == "apparmor":
            if value != "unconfined" and host_has_apparmor():
                raise UsageError(f"{flag} {opt!r}: stackctl does not apply AppArmor "
                                 "profiles", hint="use apparmor=unconfined, or drop it")
            out.ignored.append(norm)
        elif key == "label":
            if value != "disable" and host_has_selinux():
                raise UsageError(f"{flag} {opt!r}: stackctl does not apply SELinux labels",
                                 hint="use label=disable, or drop it")
            out.ignored.append(norm)
    return out


def warnings(opts: tuple[str, ...] | list[str], flag: str = "--security-opt") -> list[str]:
    """Docker-style warnings for options accepted and ignored on this host."""
    return [f"{flag} {opt}: this host has no "
            f"{'AppArmor' if opt.startswith('apparmor') else 'SELinux'}; ignored"
            for opt in interpret(opts, flag).ignored
            if not opt.endswith(("=unconfined", "=disable"))]


__all__ = ["SecurityOpts", "host_has_apparmor", "host_has_selinux", "interpret", "normalize",
           "warnings"]
