"""Progress sinks: plain lines, json, quiet, and the tty table rendering."""

from __future__ import annotations

import io
import json

import pytest

from stackctl.errors import UsageError
from stackctl.scheduler.execute import Event
from stackctl.scheduler.progress import TtySink, make_sink


def test_plain_lines() -> None:
    out = io.StringIO()
    sink = make_sink("plain", out)
    with sink:
        sink.event(Event("Container", "p-web-1", "Starting"))
        sink.event(Event("Container", "p-web-1", "Started", done=True))
        sink.event(Event("Container", "p-web-1", "Waiting", "for db (service_healthy)"))
    assert out.getvalue().splitlines() == [
        "Container p-web-1 Starting", "Container p-web-1 Started",
        "Container p-web-1 Waiting for db (service_healthy)"]


def test_json_lines() -> None:
    out = io.StringIO()
    sink = make_sink("json", out)
    sink.event(Event("Network", "p_default", "Created", done=True))
    sink.message("hello")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["kind"] == "Network" and first["status"] == "Created" and first["done"]
    assert second == {"message": "hello"}


def test_quiet_shows_only_errors() -> None:
    out = io.StringIO()
    sink = make_sink("quiet", out)
    sink.event(Event("Container", "a", "Started", done=True))
    sink.event(Event("Container", "a", "Error", "boom", done=True, error=True))
    sink.message("project 'p' is up to date: nothing to do")
    assert out.getvalue() == "Container a Error boom\n"


def test_auto_picks_plain_off_a_terminal() -> None:
    assert type(make_sink("auto", io.StringIO())).__name__ == "PlainSink"
    with pytest.raises(UsageError, match="--progress 'fancy'"):
        make_sink("fancy", io.StringIO())


def test_tty_table_renders_every_resource() -> None:
    out = io.StringIO()
    sink = TtySink(out)
    with sink:
        sink.event(Event("Container", "p-db-1", "Started", done=True))
        sink.event(Event("Container", "p-web-1", "Error", "exit 3", done=True, error=True))
        sink.event(Event("Container", "p-db-1", "Healthy", done=True))
    text = out.getvalue()
    assert "Container p-db-1" in text and "Healthy" in text
    assert "Container p-web-1" in text and "Error exit 3" in text
