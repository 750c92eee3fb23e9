"""End to end on the real kernel: stack files in, real containers out.

Scenarios read as Compose's e2e tests do: a stack file, then command ->
observable result. Stacks use ``network_mode: none`` where the network is not
the point, so these tests exercise the scheduler over the engine alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.scheduler.stackenv import StackEnv

pytestmark = pytest.mark.kernel


GATED = """
services:
  db:
    image: busybox
    network_mode: none
    command: FOREVER
    healthcheck: {test: ["CMD", "true"], interval: 1s, retries: 3}
  web:
    image: busybox
    network_mode: none
    command: FOREVER
    environment: {COLOR: blue}
    depends_on:
      db: {condition: service_healthy}
"""


def test_up_noop_edit_down(stack: StackEnv) -> None:
    stack.write(GATED)
    r = stack.ok("up", "-d")
    assert "Healthy" in r.err
    assert stack.state("db") == [(1, "running")] and stack.state("web") == [(1, "running")]
    before = stack.ids()

    r = stack.ok("up", "-d")  # nothing changed: nothing done, and it says so
    assert "up to date: nothing to do" in r.err
    assert stack.ids() == before
    assert stack.cli("plan").code == 0

    stack.write(GATED.replace("blue", "green"))  # one service edited
    plan = stack.cli("plan")
    assert plan.code == 2 and "config hash changed" in plan.out
    assert "service:db" not in plan.out
    stack.ok("up", "-d")
    after = stack.ids()
    web = f"{stack.project}-web-1"
    db = f"{stack.project}-db-1"
    assert after[db] == before[db] and after[web] != before[web]

    stack.ok("down", "-t", "1")
    assert stack.containers() == {}
    assert stack.networks() == []


def test_completed_gate_and_failing_service(stack: StackEnv) -> None:
    stack.write("""
    services:
      migrate:
        image: busybox
        network_mode: none
        command: ["sh", "-c", "echo migrated"]
      app:
        image: busybox
        network_mode: none
        command: FOREVER
        depends_on:
          migrate: {condition: service_completed_successfully}
      other:
        image: busybox
        network_mode: none
        command: FOREVER
    """)
    stack.ok("up", "-d")
    assert stack.state("migrate") == [(1, "exited")]
    assert stack.state("app") == [(1, "running")]

    stack.ok("down", "-t", "1")
    stack.write(stack.file.read_text().replace("echo migrated", "exit 3"))
    r = stack.cli("up", "-d")
    assert r.code == 1
    assert "app: dependency failed to start: service migrate didn't complete " \
           "successfully: exit 3" in r.err
    assert stack.state("app") in ([], [(1, "created")])  # never started
    assert stack.state("other") == [(1, "running")]  # the rest settled


def test_unhealthy_dependency_is_named(stack: StackEnv) -> None:
    stack.write(GATED.replace('["CMD", "true"]', '["CMD", "false"]').replace(
        "retries: 3", "retries: 1"))
    r = stack.cli("up", "-d")
    assert r.code == 1
    assert f"web: dependency failed to start: container {stack.project}-db-1 is unhealthy" \
        in r.err


def test_scale_up_and_down_keeps_numbers(stack: StackEnv) -> None:
    stack.write("""
    services:
      db:
        image: busybox
        network_mode: none
        command: FOREVER
    """)
    stack.ok("up", "-d", "--scale", "db=3")
    assert stack.state("db") == [(1, "running"), (2, "running"), (3, "running")]
    first = stack.ids()[f"{stack.project}-db-1"]
    stack.ok("up", "-d", "--scale", "db=1", "-t", "1")
    assert stack.state("db") == [(1, "running")]
    stack.ok("up", "-d", "--scale", "db=2")
    assert stack.state("db") == [(1, "running"), (2, "running")]
    assert stack.ids()[f"{stack.project}-db-1"] == first  # never recreated


def test_orphans(stack: StackEnv) -> None:
    two = """
    services:
      a: {image: busybox, network_mode: none, command: FOREVER}
      b: {image: busybox, network_mode: none, command: FOREVER}
    """
    stack.write(two)
    stack.ok("up", "-d")
    stack.write(two.replace("      b: {image: busybox, network_mode: none, command: FOREVER}\n",
                            ""))
    r = stack.ok("up", "-d")
    assert f"orphan containers ({stack.project}-b-1)" in r.err
    assert stack.state("b") == [(1, "running")]
    stack.ok("up", "-d", "--remove-orphans", "-t", "1")
    assert stack.state("b") == []


def test_killed_up_then_up_converges(stack: StackEnv) -> None:
    stack.write(GATED)
    cmd = [sys.executable, "-m", "stackctl", "--root", str(stack.root), "--run-root",
           str(stack.run_root), "up", "-f", str(stack.file), "-p", stack.project,
           "--progress", "plain"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        # Killed mid-up: db runs, web is created and waits for db to be healthy. (A kill
        # while the launcher itself is starting a container is the engine's to repair.)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stack.state("web") != [(1, "created")]:
            time.sleep(0.02)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    stack.ok("up", "-d")
    assert stack.state("db") == [(1, "running")] and stack.state("web") == [(1, "running")]
    assert "nothing to do" in stack.ok("up", "-d").err


def test_down_volumes_leaves_nothing(stack: StackEnv) -> None:
    stack.write("""
    services:
      db:
        image: busybox
        network_mode: none
        command: FOREVER
        volumes: [data:/data]
    volumes:
      data: {}
    """)
    stack.ok("up", "-d")
    assert stack.volumes() == [f"{stack.project}_data"]
    stack.ok("down", "-t", "1")
    assert stack.volumes() == [f"{stack.project}_data"]  # kept without -v
    stack.ok("up", "-d")
    stack.ok("down", "-v", "-t", "1")
    assert stack.containers() == {} and stack.volumes() == []


def test_ls_lists_the_stack(stack: StackEnv) -> None:
    stack.write("""
    services:
      a: {image: busybox, network_mode: none, command: FOREVER}
    """)
    stack.ok("up", "-d")
    r = stack.cli("ls", project=False)
    assert stack.project in r.out and "running(1)" in r.out


def _bridges_and_veths() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {line.split(": ", 2)[1].split("@", 1)[0] for line in out.splitlines()}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bridge_network_names_ports_and_clean_down(stack: StackEnv) -> None:
    port = _free_port()
    stack.write(f"""
    services:
      web:
        image: busybox
        command: ["httpd", "-f", "-p", "80", "-h", "/etc"]
        stop_signal: SIGKILL
        ports: ["127.0.0.1:{port}:80"]
      client:
        image: busybox
        command: FOREVER
        depends_on: [web]
    """)
    stack.ok("up", "-d")
    assert stack.networks() == [f"{stack.project}_default"]
    # the service name resolves inside the other container, over the stack's bridge
    r = stack.compose("exec", "-T", "client",
                 "sh", "-c", "timeout 5 wget -qO- http://web/hostname")
    web_id = stack.containers()[f"{stack.project}-web-1"].id
    assert r.out.strip() == web_id[:12]
    # the published port answers on the host's loopback
    import urllib.request

    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=5).read()
    assert body.decode().strip() == web_id[:12]
    # what this stack holds in the kernel: its bridge, a host veth per container, netns
    from stackctl.engine.state import StateStore

    store = StateStore(stack.root)
    try:
        ours = {r[0] for r in store.db.execute("SELECT bridge FROM networks")}
        ours |= {r[0] for r in store.db.execute("SELECT host_veth FROM endpoints") if r[0]}
    finally:
        store.close()
    assert len(ours) == 3 and ours <= _bridges_and_veths()
    assert len(os.listdir(stack.run_root / "netns")) == 2

    stack.ok("down", "-t", "1")
    assert stack.containers() == {} and stack.networks() == []
    assert ours & _bridges_and_veths() == set()
    assert os.listdir(stack.run_root / "netns") == []


def test_build_then_rebuild_recreates_only_on_change(stack: StackEnv) -> None:
    app = stack.dir / "app"
    app.mkdir()
    cmd = 'CMD ["sh", "-c", "cat /v; trap \'exit 0\' TERM; sleep 3600 & wait"]\n'
    (app / "Dockerfile").write_text("FROM busybox\nRUN echo v1 > /v\n" + cmd)
    stack.write("""
    services:
      app:
        build: ./app
        network_mode: none
    """)
    r = stack.ok("up", "-d")
    assert "Built" in r.err
    assert stack.state("app") == [(1, "running")]
    first = stack.ids()
    stack.ok("up", "-d", "--build")  # same Dockerfile: same image, container kept
    assert stack.ids() == first
    (app / "Dockerfile").write_text("FROM busybox\nRUN echo v2 > /v\n" + cmd)
    stack.ok("up", "-d")  # no --build: the image is present, nothing is rebuilt
    assert stack.ids() == first
    stack.ok("up", "-d", "--build", "-t", "1")
    assert stack.ids() != first
    logs = stack.compose("logs")
    assert "v2" in logs.out
    stack.ok("down", "--rmi", "local", "-t", "1")
    from stackctl.engine.api import Engine

    with Engine(stack.root, stack.run_root) as eng:
        assert not eng.images.exists(f"{stack.project}-app")


def test_service_on_two_networks(stack: StackEnv) -> None:
    stack.write("""
    services:
      api:
        image: busybox
        command: ["httpd", "-f", "-p", "80", "-h", "/etc"]
        stop_signal: SIGKILL
        networks:  # back is the primary network (sorted first); front is joined after start
          front: {aliases: [api-internal]}
          back: {}
      worker:
        image: busybox
        command: FOREVER
        networks: [front]
        depends_on: [api]
    networks:
      front: {}
      back: {}
    """)
    stack.ok("up", "-d")
    assert sorted(stack.networks()) == [f"{stack.project}_back", f"{stack.project}_front"]
    r = stack.compose("exec", "-T", "worker",
                 "sh", "-c", "timeout 5 wget -qO- http://api-internal/hostname")
    assert r.out.strip() == stack.containers()[f"{stack.project}-api-1"].id[:12]
    stack.ok("down", "-t", "1")
    assert stack.networks() == []


def test_sync_reports_drift_and_converges(stack: StackEnv) -> None:
    stack.write("""
    services:
      a: {image: busybox, network_mode: none, command: FOREVER}
    """)
    r = stack.cli("sync", "--check")
    assert r.code == 2 and "no existing container" in r.out  # drift, nothing applied
    assert stack.state("a") == []
    r = stack.cli("sync")
    assert r.code == 2 and "converged" in r.err  # drift found and fixed
    assert stack.state("a") == [(1, "running")]
    r = stack.cli("sync")
    assert r.code == 0 and "nothing to do" in r.out  # in sync
    r = stack.cli("sync", "-o", "json", "--check")
    assert r.code == 0 and '"changes": 0' in r.out


def test_sync_from_a_git_ref(stack: StackEnv) -> None:
    repo = stack.dir / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "compose.yaml").write_text(
        "services:\n  a: {image: busybox, network_mode: none, command: [sleep, '3600']}\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], check=True)
    (repo / "compose.yaml").write_text("services: {}\n")  # the working tree differs
    r = stack.cli("sync", "--git-repo", str(repo), "--git-ref", "HEAD", "-p", stack.project,
                  project=False)
    assert r.code == 2, r.err
    assert stack.state("a") == [(1, "running")]
    stack.ok("down", "-p", stack.project, "-t", "1", project=False)


def test_ctrl_c_stops_an_attached_up_gracefully(stack: StackEnv) -> None:
    stack.write(GATED.replace("FOREVER", '["sh", "-c", "echo ready; trap \'exit 0\' TERM; '
                              'sleep 3600 & wait"]'))
    cmd = [sys.executable, "-m", "stackctl", "--root", str(stack.root), "--run-root",
           str(stack.run_root), "up", "-f", str(stack.file), "-p", stack.project,
           "--progress", "plain"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stack.state("web") != [(1, "running")]:
            time.sleep(0.05)
        time.sleep(0.5)  # let it attach
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == 130, err
    assert "Gracefully stopping" in err
    assert "web-1  | ready" in out and "web-1 exited with code 0" in out
    assert stack.state("db") == [(1, "exited")] and stack.state("web") == [(1, "exited")]
