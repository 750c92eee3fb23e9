"""Seccomp: Docker's default policy, its BPF compilation, and its effect on the kernel."""

from __future__ import annotations

import struct

import pytest

from stackctl.engine.runtime.caps import DOCKER_DEFAULT_CAPS
from stackctl.engine.runtime.seccomp import SYSCALLS_X86_64, compile_filter, default_profile
from stackctl.engine.runtime.spec import BundleRequest, build_config
from tests.runtime.conftest import Bundle

RUNTIMES = ["launch", "runc"]


def _insns(prog: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack("=HBBI", prog[i:i + 8]) for i in range(0, len(prog), 8)]


def test_default_profile_follows_capabilities() -> None:
    denied = default_profile(DOCKER_DEFAULT_CAPS)["syscalls"][0]["names"]
    assert {"mount", "unshare", "setns", "keyctl", "init_module", "bpf", "io_uring_setup"} <= set(
        denied)
    admin = default_profile([*DOCKER_DEFAULT_CAPS, "CAP_SYS_ADMIN"])
    assert "mount" not in admin["syscalls"][0]["names"]
    assert "keyctl" in admin["syscalls"][0]["names"]  # keyrings stay closed
    assert not any(r["names"] == ["clone"] for r in admin["syscalls"])


def test_config_has_seccomp_unless_privileged_or_unconfined() -> None:
    base = BundleRequest("rootfs", ("true",))
    assert build_config(base)["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"
    assert "seccomp" not in build_config(BundleRequest("r", ("true",), privileged=True))["linux"]
    assert "seccomp" not in build_config(BundleRequest("r", ("true",),
                                                       seccomp="unconfined"))["linux"]
    custom = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}
    assert build_config(BundleRequest("r", ("true",), seccomp_profile=custom))["linux"][
        "seccomp"] == custom


def test_compiled_program_shape() -> None:
    prog = _insns(compile_filter(default_profile(DOCKER_DEFAULT_CAPS)))
    # arch check first, x32 numbers refused, default action last
    assert prog[0] == (0x20, 0, 0, 4) and prog[1][3] == 0xC000003E
    assert prog[4] == (0x35, 0, 1, 0x40000000)
    assert prog[-1] == (0x06, 0, 0, 0x7FFF0000)
    # every jump stays inside the program
    for i, (code, jt, jf, _) in enumerate(prog):
        if code in (0x15, 0x35):
            assert i + 1 + max(jt, jf) < len(prog)
    mount = SYSCALLS_X86_64["mount"]
    assert any(c == 0x15 and k == mount for c, _, _, k in prog)


def test_compile_rejects_what_it_cannot_express() -> None:
    with pytest.raises(ValueError, match="unknown x86_64 system call"):
        compile_filter({"syscalls": [{"names": ["nonsense"], "action": "SCMP_ACT_ERRNO"}]})
    with pytest.raises(ValueError, match="SCMP_CMP_GT"):
        compile_filter({"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_GT"}]}]})
    with pytest.raises(ValueError, match="SCMP_ACT_NOTIFY"):
        compile_filter({"defaultAction": "SCMP_ACT_NOTIFY"})


SCRIPT = """
grep Seccomp: /proc/self/status
unshare -U true 2>/dev/null && echo userns: allowed || echo userns: refused
mkdir /tmp/d && echo mkdir: ok
"""


@pytest.mark.kernel
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_default_policy_refuses_user_namespaces(bundle: Bundle, runtime: str) -> None:
    res = bundle.run(bundle.request("sh", "-c", SCRIPT), runtime)
    assert res.returncode == 0, res.stderr
    assert "Seccomp:\t2" in res.stdout
    assert "userns: refused" in res.stdout and "mkdir: ok" in res.stdout
    res = bundle.run(bundle.request("sh", "-c", SCRIPT, seccomp="unconfined"), runtime)
    assert "Seccomp:\t0" in res.stdout and "userns: allowed" in res.stdout


@pytest.mark.kernel
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_custom_profile_with_argument_test(bundle: Bundle, runtime: str) -> None:
    # Refuse mkdir with EACCES; refuse socket() for AF_INET only (an EQ test on a
    # 64-bit argument), so that netlink (ip link) still works.
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                             "errnoRet": 13},
                            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                             "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]}
    script = ("mkdir /tmp/x; touch /tmp/f && echo touch: ok; ip link show lo >/dev/null && "
              "echo netlink: ok; timeout 5 nc 127.0.0.1 1 </dev/null")
    res = bundle.run(bundle.request("sh", "-c", script, seccomp_profile=profile), runtime)
    assert "Permission denied" in res.stderr
    assert "touch: ok" in res.stdout and "netlink: ok" in res.stdout
    assert "Operation not permitted" in res.stderr, res.stderr


@pytest.mark.kernel
def test_exec_by_pid_gets_the_same_policy(bundle: Bundle) -> None:
    import subprocess

    from tests.runtime.conftest import REAPER, REPO

    bundle.write(bundle.request("sleep", "300"))
    reaper = subprocess.Popen([*REAPER, *bundle.command("launch", "--detach")],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert reaper.stdout is not None and '"launcher": 0' in reaper.stdout.readline()
        pid = bundle.state()["pid"]
        res = bundle.launch("exec", "--pid", str(pid), "--", "sh", "-c", SCRIPT)
        assert "Seccomp:\t2" in res.stdout and "userns: refused" in res.stdout
    finally:
        bundle.launch("delete", "--force", bundle.id, check=False)
        reaper.wait(timeout=10)
