"""Pure parts of the engine and its CLI: no root, no kernel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackctl import humanize
from stackctl.cli import render
from stackctl.cli.run_opts import RunFlags, parse_restart, parse_volume, to_config
from stackctl.engine import names
from stackctl.engine.containers import (
    ContainerConfig,
    ContainerStatus,
    Health,
    Healthcheck,
    MountRequest,
    RestartPolicy,
    check_transition,
)
from stackctl.engine.health import evaluate
from stackctl.engine.logs import LogWriter, log_files, parse_time, read_logs, rfc3339_nano
from stackctl.engine.monitor import next_backoff, should_restart
from stackctl.errors import InvalidStateTransition, NotFound, UsageError

S = ContainerStatus


@pytest.mark.parametrize(("from_", "to"), [
    (S.CREATED, S.RUNNING), (S.RUNNING, S.PAUSED), (S.PAUSED, S.RUNNING),
    (S.RUNNING, S.EXITED), (S.EXITED, S.RUNNING), (S.RUNNING, S.RESTARTING),
    (S.EXITED, S.REMOVING), (S.REMOVING, S.DEAD),
])
def test_allowed_transitions(from_: S, to: S) -> None:
    check_transition(from_, to)


@pytest.mark.parametrize(("from_", "to"), [
    (S.CREATED, S.PAUSED), (S.EXITED, S.PAUSED), (S.RUNNING, S.RUNNING), (S.REMOVING, S.RUNNING),
    (S.DEAD, S.RUNNING),
])
def test_refused_transitions(from_: S, to: S) -> None:
    with pytest.raises(InvalidStateTransition) as exc:
        check_transition(from_, to, name="web")
    assert exc.value.from_ == from_.value and exc.value.to == to.value
    assert "web" in exc.value.message


def test_config_round_trips_through_json() -> None:
    cfg = ContainerConfig(
        image="busybox", command=("sh", "-c", "echo hi"), entrypoint=(), env=("A=1",),
        labels={"k": "v"}, mounts=(MountRequest("volume", "/data", "vol", True),),
        restart=RestartPolicy("on-failure", 3),
        healthcheck=Healthcheck(("CMD-SHELL", "true"), interval=1.5), memory=64 << 20)
    assert ContainerConfig.from_json(cfg.to_json()) == cfg


def test_names_and_ids() -> None:
    cid = names.new_id()
    assert names.ID_RE.match(cid)
    assert "_" in names.random_name()
    pairs = [("abc123" + "0" * 58, "web"), ("abd456" + "0" * 58, "db")]
    assert names.resolve("web", pairs) == pairs[0][0]
    assert names.resolve("abc", pairs) == pairs[0][0]
    assert names.resolve("/db", pairs) == pairs[1][0]
    with pytest.raises(NotFound, match="ambiguous"):
        names.resolve("ab", pairs)
    with pytest.raises(NotFound, match="no such container"):
        names.resolve("nope", pairs)
    with pytest.raises(UsageError):
        names.validate_name("bad name!")


def test_restart_policy_decisions() -> None:
    assert not should_restart(RestartPolicy("no"), 1, 0, False)
    assert should_restart(RestartPolicy("always"), 0, 5, False)
    assert not should_restart(RestartPolicy("always"), 0, 5, True)  # stopped by the user
    assert should_restart(RestartPolicy("on-failure", 2), 1, 1, False)
    assert not should_restart(RestartPolicy("on-failure", 2), 1, 2, False)
    assert not should_restart(RestartPolicy("on-failure"), 0, 0, False)
    assert should_restart(RestartPolicy("unless-stopped"), 0, 0, False)


def test_backoff_doubles_then_resets() -> None:
    b = next_backoff(0, 0)
    assert b == 0.1
    b = next_backoff(b, 1)
    assert b == 0.2
    for _ in range(20):
        b = next_backoff(b, 1)
    assert b == 60.0
    assert next_backoff(b, 11) == 0.1


def test_health_rules() -> None:
    hc = Healthcheck(("CMD", "true"), retries=2)
    h = Health()
    kw = {"output": "", "start": "s", "end": "e"}
    h = evaluate(h, hc, exit_code=1, in_start_period=True, **kw)
    assert (h.status, h.failing_streak) == ("starting", 0)
    h = evaluate(h, hc, exit_code=1, in_start_period=False, **kw)
    assert (h.status, h.failing_streak) == ("starting", 1)
    h = evaluate(h, hc, exit_code=1, in_start_period=False, **kw)
    assert h.status == "unhealthy"
    h = evaluate(h, hc, exit_code=0, in_start_period=False, **kw)
    assert (h.status, h.failing_streak) == ("healthy", 0)
    assert len(h.log) == 4


def test_log_writer_lines_partials_and_rotation(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = LogWriter(path, max_size=400, max_file=3)
    w.write("stdout", b"one\ntw")
    w.write("stdout", b"o\n")
    w.write("stderr", b"err\n")
    for i in range(20):
        w.write("stdout", f"line {i}\n".encode())
    w.write("stdout", b"tail without newline")
    w.close()
    files = log_files(path)
    assert 2 <= len(files) <= 3
    assert all(f.stat().st_size <= 400 for f in files)
    entries = list(read_logs(path))
    assert entries[-1].log == "tail without newline"
    assert entries[-2].log == "line 19\n"
    raw = json.loads(path.read_text().splitlines()[0])
    assert set(raw) == {"log", "stream", "time"}
    assert [e.log for e in read_logs(path, tail=2)] == ["line 19\n", "tail without newline"]


def test_log_time_filters(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    clock = iter([1_000_000_000_000_000_000, 2_000_000_000_000_000_000])
    w = LogWriter(path, clock=lambda: next(clock))
    w.write("stdout", b"a\nb\n")
    w.close()
    assert [e.log for e in read_logs(path, since=1.5e9)] == ["b\n"]
    assert [e.log for e in read_logs(path, until=1.5e9)] == ["a\n"]
    assert parse_time(rfc3339_nano(1_500_000_000_123_456_789)) == pytest.approx(1.5e9, abs=1)


def test_parse_volume_forms() -> None:
    assert parse_volume("data:/d") == MountRequest("volume", "/d", "data", False)
    assert parse_volume("/host:/d:ro") == MountRequest("bind", "/d", "/host", True)
    assert parse_volume("/anon").kind == "anonymous"
    for bad in ("data:rel", "a:b:c:d", "bad name:/x"):
        with pytest.raises(UsageError):
            parse_volume(bad)


def test_run_flags_to_config() -> None:
    cfg = to_config(RunFlags(image="busybox", args=("ls", "-l"), memory="64m", cpus="0.5",
                             restart="on-failure:3", env=("A=1",), label=("x=y",),
                             health_cmd="true", health_interval="2s", rm=False,
                             log_opt=("max-size=1k", "max-file=2"), entrypoint=""))
    assert cfg.command == ("ls", "-l") and cfg.entrypoint == ()
    assert cfg.memory == 64 << 20 and cfg.cpus == 0.5
    assert cfg.restart == RestartPolicy("on-failure", 3)
    assert cfg.healthcheck is not None and cfg.healthcheck.interval == 2.0
    assert (cfg.log_max_size, cfg.log_max_file) == (1024, 2)


@pytest.mark.parametrize("flags", [
    {"memory": "lots"}, {"memory": "1k"}, {"cpus": "-1"}, {"restart": "sometimes"},
    {"restart": "always:3"}, {"rm": True, "restart": "always"}, {"log_opt": ("colour=red",)},
    {"health_interval": "2s"}, {"runtime": "crun"}, {"ulimit": ("nofile=10:5",)},
])
def test_bad_flag_values(flags: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        to_config(RunFlags(image="busybox", **flags))  # type: ignore[arg-type]


def test_parse_restart() -> None:
    assert str(parse_restart("on-failure:2")) == "on-failure:2"


def test_templates_and_tables() -> None:
    data = {"State": {"Status": "running", "Running": True}, "Name": "/web",
            "Config": {"Labels": {"a.b": "c"}, "Cmd": ["sh", "-c"]}}
    assert render.render_template("{{.State.Status}}", data) == "running"
    assert render.render_template("{{.State.Running}} {{.Name}}", data) == "true /web"
    assert render.render_template('{{index .Config.Labels "a.b"}}', data) == "c"
    assert render.render_template("{{json .Config.Cmd}}", data) == '["sh","-c"]'
    assert render.render_template('{{join .Config.Cmd " "}}', data) == "sh -c"
    with pytest.raises(UsageError):
        render.render_template("{{.Nope}}", data)
    out = render.format_rows("table {{.ID}}\t{{.Names}}", [{"ID": "abc", "Names": "web"}])
    assert out.splitlines()[0].split() == ["CONTAINER", "ID", "NAMES"]
    # docker's list tables: tabwriter with minwidth 10 (a column is 10 wide at least)
    assert render.table(["A", "B"], [["xx", "y"]]) == "A         B\nxx        y"
    assert humanize.table([["A", "B"], ["xx", "y"]]) == "A    B\nxx   y"
    # tabwriter: the last column is never padded; an empty last cell leaves the padding
    # before it (docker history's COMMENT), which only keep_padding keeps
    rows = [["IMAGE", "SIZE", "COMMENT"], ["abc", "1MB", ""], ["<missing>", "0B", "note"]]
    assert humanize.table(rows, keep_padding=True).splitlines() == [
        "IMAGE       SIZE   COMMENT", "abc         1MB    ", "<missing>   0B     note"]
    assert humanize.table(rows).splitlines()[1] == "abc         1MB"
    assert render.human_duration(90) == "About a minute"
    assert render.bytes_size(1536) == "1.5KiB"


def test_effective_config_merges_the_image() -> None:
    from stackctl.engine.images.config import Healthcheck as ImageHealthcheck
    from stackctl.engine.images.config import ImageConfig
    from stackctl.engine.prepare import command_line, effective_config

    image = ImageConfig(entrypoint=("/entry",), cmd=("serve",), volumes=("/data", "/logs"),
                        stop_signal="SIGQUIT", labels=(("a", "1"),),
                        healthcheck=ImageHealthcheck(("CMD", "check"), interval=2_000_000_000))
    eff = effective_config(ContainerConfig(image="x", labels={"b": "2"},
                                           mounts=(MountRequest("volume", "/data", "v"),)), image)
    assert (eff.entrypoint, eff.command) == (("/entry",), ("serve",))
    assert command_line(eff, image) == ["/entry", "serve"]
    assert eff.stop_signal == "SIGQUIT" and eff.labels == {"a": "1", "b": "2"}
    assert eff.healthcheck is not None and eff.healthcheck.interval == 2.0
    anon = [m for m in eff.mounts if m.kind == "anonymous"]
    assert [m.target for m in anon] == ["/logs"] and len(anon[0].source) == 64
    # --entrypoint resets the image's CMD; a given command replaces it
    eff2 = effective_config(ContainerConfig(image="x", entrypoint=("sh",)), image)
    assert command_line(eff2, image) == ["sh"]
    eff3 = effective_config(ContainerConfig(image="x", command=("other",)), image)
    assert command_line(eff3, image) == ["/entry", "other"]


def test_detach_keys_across_reads() -> None:
    from stackctl.engine.attach import split_detach

    assert split_detach(b"", b"ls\n") == (b"ls\n", b"", False)
    assert split_detach(b"", b"ab\x10\x11cd") == (b"ab", b"", True)
    send, held, det = split_detach(b"", b"ab\x10")
    assert (send, held, det) == (b"ab", b"\x10", False)
    assert split_detach(held, b"\x11") == (b"", b"", True)
    assert split_detach(held, b"x") == (b"\x10x", b"", False)  # a lone Ctrl-P passes


def test_parse_mount_csv() -> None:
    from stackctl.cli.run_opts import parse_mount
    from stackctl.engine.containers import TmpfsMount

    assert parse_mount("type=volume,source=data,target=/d,readonly") == \
        MountRequest("volume", "/d", "data", True)
    assert parse_mount("type=bind,src=/h,dst=/c") == MountRequest("bind", "/c", "/h", False)
    assert parse_mount("type=tmpfs,target=/t,tmpfs-size=1m") == TmpfsMount("/t", "size=1m")
    assert parse_mount("target=/anon").kind == "anonymous"
    for bad in ("type=bind,target=/x", "type=nfs,target=/x", "source=a,target=rel"):
        with pytest.raises(UsageError):
            parse_mount(bad)
