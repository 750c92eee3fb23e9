"""The service DAG: edges, cycles named in full, selection, and the one walker."""

from __future__ import annotations

import anyio
import pytest

from stackctl.errors import SchedulerError
from stackctl.scheduler.graph import Edge, order, select, service_graph, walk
from stackctl.scheduler.model import dependencies_of, desired_state


def _graph() -> object:
    # db <- web <- proxy ; cache <- web ; log (alone)
    return service_graph(
        ["db", "web", "proxy", "cache", "log"],
        [Edge("db", "web"), Edge("cache", "web", required=False), Edge("web", "proxy")],
    )


def test_cycle_names_every_service() -> None:
    with pytest.raises(SchedulerError) as err:
        service_graph(["service1", "service2", "service3"], [
            Edge("service2", "service1"), Edge("service3", "service2"),
            Edge("service1", "service3")])
    assert str(err.value) == (
        "dependency cycle detected: service1 -> service2 -> service3 -> service1")


def test_self_cycle() -> None:
    with pytest.raises(SchedulerError, match="service1 -> service1"):
        service_graph(["service1"], [Edge("service1", "service1")])


def test_cycle_through_implicit_edges() -> None:
    desired = desired_state("p", {"services": {
        "a": {"image": "x", "network_mode": "service:b"},
        "b": {"image": "x", "volumes_from": ["a:ro"]},
    }})
    with pytest.raises(SchedulerError, match="dependency cycle detected: "):
        service_graph(desired.services, desired.edges())


def test_implicit_edges() -> None:
    deps = dependencies_of({
        "network_mode": "service:vpn", "volumes_from": ["data:ro", "container:xyz"],
        "links": ["db:database"], "depends_on": {"db": {"condition": "service_healthy"}},
    })
    assert [(d.service, d.kind, d.condition) for d in deps] == [
        ("data", "volumes_from", "service_started"),
        ("db", "links", "service_healthy"),  # the condition stays, the kind is the link's
        ("vpn", "network_mode", "service_started"),
    ]
    # compose's loader adds depends_on for ipc: service:X itself; X must still run first
    deps = dependencies_of({"ipc": "service:x", "depends_on": {"x": {"restart": True}}})
    assert [(d.service, d.kind, d.restart) for d in deps] == [("x", "ipc", True)]


def test_undefined_dependency() -> None:
    with pytest.raises(SchedulerError, match="undefined service 'nope'"):
        service_graph(["web"], [Edge("nope", "web")])


def test_selection_pulls_dependencies() -> None:
    g = _graph()
    assert select(g, ["proxy"]) == {"proxy", "web", "db", "cache"}
    assert select(g, ["proxy"], with_deps=False) == {"proxy"}
    assert select(g, []) == {"proxy", "web", "db", "cache", "log"}
    with pytest.raises(SchedulerError, match="no such service: nope"):
        select(g, ["nope"])


def test_order_both_directions() -> None:
    g = _graph()
    assert order(g) == ["cache", "db", "log", "web", "proxy"]
    assert order(g, reverse=True) == ["log", "proxy", "web", "cache", "db"]


def _walk(reverse: bool, fail: set[str], limit: int | None = None) -> tuple[list[str], object]:
    seen: list[str] = []
    running = 0
    peak = 0

    async def visit(n: str) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0)
        seen.append(n)
        running -= 1
        if n in fail:
            raise RuntimeError(f"{n} broke")

    async def main() -> object:
        return await walk(_graph(), visit, reverse=reverse, limit=limit)

    result = anyio.run(main)
    if limit:
        assert peak <= limit
    return seen, result


def test_walk_forward_respects_edges() -> None:
    seen, result = _walk(False, set())
    assert seen.index("db") < seen.index("web") < seen.index("proxy")
    assert seen.index("cache") < seen.index("web")
    assert result.ok  # type: ignore[attr-defined]


def test_walk_reverse_respects_edges() -> None:
    seen, _ = _walk(True, set(), limit=1)
    assert seen.index("proxy") < seen.index("web") < seen.index("db")


def test_failure_skips_dependents_and_lets_the_rest_settle() -> None:
    seen, result = _walk(False, {"db"})
    assert "web" not in seen and "proxy" not in seen
    assert {"cache", "log", "db"} <= set(seen)
    assert list(result.failed) == ["db"]  # type: ignore[attr-defined]
    assert result.skipped == {"web": "db", "proxy": "db"}  # type: ignore[attr-defined]


def test_optional_edge_does_not_block() -> None:
    seen, result = _walk(False, {"cache"})
    assert "proxy" in seen
    assert list(result.failed) == ["cache"]  # type: ignore[attr-defined]
    assert not result.skipped  # type: ignore[attr-defined]
