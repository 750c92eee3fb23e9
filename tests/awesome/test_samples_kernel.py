"""awesome-compose samples, run for real: ``up -d --wait``, the README's
"Expected result" through the published ports on 127.0.0.1, ``compose ps``,
then ``down -v`` and nothing left.

Each sample is the published one with the minimal edits of samples.py (local
Debian base image, no pip/apk, free host ports). The real CLI runs in-process
on the test's own state root; a finalizer removes whatever the stack made even
when the test failed.

Not run (no stackctl cause; they need what an offline machine cannot have):
nginx-golang (Go modules from the network, and golang is 300 MB more),
nginx-flask-mongo (MongoDB is not in Debian), wordpress-mysql, postgresql-pgadmin
and prometheus-grafana (their wordpress / pgadmin / grafana images, with
entrypoints of their own). test_config_plan.py covers all twelve.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackctl.engine.api import Engine
from stackctl.net.manager import NetworkManager
from tests.awesome.cli import Result, run
from tests.awesome.samples import prepare

pytestmark = pytest.mark.kernel


@dataclass
class Sample:
    roots: tuple[Path, Path]
    file: Path
    project: str
    ports: dict[int, int]  # container port -> host port on 127.0.0.1
    capsys: pytest.CaptureFixture[str]

    def cli(self, *args: str) -> Result:
        return run(self.capsys, self.roots, *args)

    def ok(self, *args: str) -> Result:
        r = self.cli(*args)
        assert r.code == 0, f"{args} exited {r.code}\n{r.out}\n{r.err}"
        return r

    def compose(self, *args: str) -> Result:
        return self.ok("compose", "-f", str(self.file), "-p", self.project, *args)

    def up(self) -> Result:
        # bounded: a sample that never gets healthy fails instead of hanging the suite
        return self.compose("up", "-d", "--wait", "--wait-timeout", "120", "--progress", "plain")

    def in_sync(self) -> None:
        """After up, the plan has nothing to change and up again does nothing."""
        r = self.cli("compose", "-f", str(self.file), "-p", self.project, "plan")
        assert r.code == 0, f"plan after up wants changes:\n{r.out}\n{r.err}"
        assert "nothing to do" in self.up().err

    def ps(self) -> dict[str, dict[str, object]]:
        rows = json.loads(self.compose("ps", "--format", "json").out)
        return {str(r["Service"]): r for r in rows}

    def get(self, container_port: int, path: str = "/", *, until: str = "") -> tuple[int, str]:
        """GET through the published port. Servers without a healthcheck may still be
        starting after ``up --wait`` (it waits for running, as compose does): retry a
        bounded while on a refused connection or until ``until`` is in the body."""
        url = f"http://127.0.0.1:{self.ports[container_port]}{path}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    status, body = resp.status, resp.read().decode()
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read().decode()
            except (ConnectionError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
                continue
            if until in body or time.monotonic() > deadline:
                return status, body
            time.sleep(0.3)

    def down_leaves_nothing(self, *extra: str) -> None:
        self.compose("down", "-v", *extra)
        root, run_root = self.roots
        with Engine(root, run_root) as eng:
            assert [c.name for c in eng.list(all_=True)] == []
            assert [v.name for v in eng.volumes.list()
                    if v.labels.get("stackctl.project") == self.project] == []
        with NetworkManager(root, run_root) as nm:
            assert [n.name for n in nm.networks()
                    if n.labels.get("stackctl.project") == self.project] == []
        for port in self.ports.values():  # the published ports are released
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.cli("compose", "-f", str(self.file), "-p", self.project,
                     "down", "-v", "--remove-orphans", "-t", "1")
        root, run_root = self.roots
        with Engine(root, run_root) as eng:
            for c in eng.list(all_=True):
                with contextlib.suppress(Exception):
                    eng.remove(c.id, force=True, volumes=True)
        with NetworkManager(root, run_root) as nm:
            for n in nm.networks():
                with contextlib.suppress(Exception):
                    nm.remove(n.name)


@pytest.fixture
def sample(awesome_roots: tuple[Path, Path], conformance: Path, tmp_path: Path,
           unique: str, capfd: pytest.CaptureFixture[str]) -> Iterator[Callable[[str], Sample]]:
    made: list[Sample] = []

    def make(name: str) -> Sample:
        dest = tmp_path / name
        ports = prepare(conformance / "awesome-compose", name, dest)
        # capfd: exec and logs write to the file descriptors, not sys.stdout
        s = Sample(awesome_roots, dest / "compose.yaml", f"{name}-{unique}", ports, capfd)
        made.append(s)
        return s

    try:
        yield make
    finally:
        for s in made:
            s.cleanup()


def _ps_shape(s: Sample, services: dict[str, str]) -> None:
    """Each service one container ``<project>-<service>-1`` in the given state
    (``running`` or ``healthy``), its ports in Docker's PORTS form."""
    rows = s.ps()
    assert set(rows) == set(services)
    for service, want in services.items():
        row = rows[service]
        assert row["Name"] == f"{s.project}-{service}-1"
        assert row["State"] == "running"
        if want == "healthy":
            assert row["Health"] == "healthy"
    table = s.compose("ps").out
    assert table.split()[:7] == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS",
                                 "PORTS"]
    for container, host in s.ports.items():
        assert f"127.0.0.1:{host}->{container}/tcp" in table


def test_flask(sample: Callable[[str], Sample]) -> None:
    s = sample("flask")
    s.up()
    _ps_shape(s, {"web": "running"})
    assert s.ps()["web"]["Command"] == '"python3 app.py"'
    assert s.get(8000) == (200, "Hello World!")
    s.in_sync()
    s.down_leaves_nothing()  # stop_signal SIGINT: flask stops at once


def test_flask_redis(sample: Callable[[str], Sample]) -> None:
    s = sample("flask-redis")
    s.up()
    _ps_shape(s, {"redis": "running", "web": "running"})
    assert s.get(8000) == (200, "This webpage has been viewed 1 time(s)")
    assert s.get(8000) == (200, "This webpage has been viewed 2 time(s)")
    with socket.create_connection(("127.0.0.1", s.ports[6379]), timeout=10) as c:
        c.sendall(b"GET hits\r\n")  # the README's redis-cli, through the published port
        assert c.recv(64) == b"$1\r\n2\r\n"
    s.down_leaves_nothing()


def test_nginx_wsgi_flask(sample: Callable[[str], Sample]) -> None:
    """nginx runs as USER nginx on port 80 (Docker lets any user of a container's
    own network namespace bind low ports); both healthchecks gate --wait."""
    s = sample("nginx-wsgi-flask")
    s.up()
    _ps_shape(s, {"nginx-proxy": "healthy", "flask-app": "healthy"})
    # the README's "5000/tcp, 0.0.0.0:8000->8000/tcp": EXPOSE 5000 is not published
    assert s.ps()["flask-app"]["Ports"] == f"5000/tcp, 127.0.0.1:{s.ports[8000]}->8000/tcp"
    assert s.get(80) == (200, "Hello World!")
    assert s.get(8000) == (200, "Hello World!")
    status, body = s.get(80, "/info")
    info = json.loads(body)
    assert status == 200 and info["user-agent"].startswith("Python-urllib")
    assert s.get(80, "/cache-me") == (200, "nginx will cache this response")
    # start.sh runs nginx without exec: bash as PID 1 ignores SIGTERM (as in Docker)
    s.down_leaves_nothing("-t", "1")


def test_apache_php(sample: Callable[[str], Sample]) -> None:
    s = sample("apache-php")
    s.up()
    _ps_shape(s, {"web": "running"})
    status, body = s.get(80, until="Hello")
    assert (status, body.strip()) == (200, "<h1>Hello World!</h1>")  # PHP ran (bind mount)
    s.down_leaves_nothing()


def test_django(sample: Callable[[str], Sample]) -> None:
    s = sample("django")
    s.up()
    _ps_shape(s, {"web": "running"})
    status, body = s.get(8000, until="Django")
    assert status == 200 and "The install worked successfully!" in body
    status, body = s.get(8000, "/admin/login/")
    assert status == 200 and "<title>Log in | Django site admin</title>" in body
    # python as PID 1 has no SIGTERM handler, so it ignores SIGTERM (as in Docker)
    s.down_leaves_nothing("-t", "1")


def test_fastapi(sample: Callable[[str], Sample]) -> None:
    s = sample("fastapi")
    s.up()
    rows = s.ps()
    assert rows["api"]["Name"] == "fastapi-application"  # container_name
    assert rows["api"]["State"] == "running"
    status, body = s.get(8000, until="message")
    assert status == 200 and json.loads(body) == {"message": "OK"}
    s.down_leaves_nothing()


def test_nginx_flask_mysql(sample: Callable[[str], Sample]) -> None:
    """Two networks, a file secret at /run/secrets/, a healthcheck with ``$$``, and
    ``depends_on: service_healthy``; MariaDB from Debian behind a small entrypoint."""
    s = sample("nginx-flask-mysql")
    s.up()
    _ps_shape(s, {"db": "healthy", "backend": "running", "proxy": "running"})
    assert s.ps()["db"]["Ports"] == "3306/tcp, 33060/tcp"  # expose:, as in the README
    password = (s.file.parent / "db" / "password.txt").read_text()
    assert s.compose("exec", "-T", "backend", "cat", "/run/secrets/db-password").out == password
    status, body = s.get(80, until="Blog post #4")  # proxy -> backend -> db
    assert status == 200
    assert [f"Blog post #{i}" in body for i in range(1, 5)] == [True] * 4
    s.in_sync()
    s.down_leaves_nothing("-t", "1")  # flask run as PID 1 ignores SIGTERM
