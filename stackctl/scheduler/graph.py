"""The dependency graph of a stack's services, and the one walker over any DAG.

Edges point from a prerequisite to what needs it (``db -> web`` when web
depends on db), so a topological order is a start order. The same convention
holds for the plan's operation graph, which lets one walker serve both:

    forward  (up)   a node runs once every predecessor has finished
    reverse  (down) a node runs once every successor has finished

Edges carry ``required`` (False for ``depends_on: {x: {required: false}}``):
when a prerequisite over a required edge fails, the walker skips what needs
it and lets every unrelated branch settle; an optional edge never blocks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from stackctl.errors import SchedulerError
from stackctl.lightdc import dataclass, field

if TYPE_CHECKING:
    import networkx as nx

# networkx is imported inside the functions: its import is ~0.2 s, and a no-op
# ``up`` (converge.py's fast path) must not pay it.

N = TypeVar("N", bound=Hashable)


@dataclass(frozen=True)
class Edge:
    """One dependency of a service: ``dependent`` needs ``prerequisite``."""

    prerequisite: str
    dependent: str
    kind: str = "depends_on"  # depends_on | network_mode | volumes_from | links | ipc
    required: bool = True


def service_graph(services: Iterable[str], edges: Iterable[Edge]) -> nx.DiGraph:
    """Build the service DAG; a cycle is a SchedulerError naming every service in it."""
    import networkx as nx

    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(sorted(services))
    for e in edges:
        if e.prerequisite not in graph:
            raise SchedulerError(
                f"service {e.dependent!r} depends on undefined service {e.prerequisite!r}"
                f" ({e.kind})",
                hint="define the service, enable its profile, or remove the reference",
            )
        old = graph.get_edge_data(e.prerequisite, e.dependent)
        # Several references between the same pair: the edge is required if any is.
        required = e.required or bool(old and old["required"])
        graph.add_edge(e.prerequisite, e.dependent, kind=e.kind, required=required)
    check_acyclic(graph)
    return graph


def check_acyclic(graph: nx.DiGraph) -> None:
    """Raise the compose-style ``dependency cycle detected: a -> b -> a`` message."""
    import networkx as nx

    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    # find_cycle lists prerequisite -> dependent; users read "a depends on b".
    names = [dep for _, dep in cycle][::-1]
    names.append(names[0])
    raise SchedulerError(
        "dependency cycle detected: " + " -> ".join(str(n) for n in names),
        hint="break the cycle in depends_on / network_mode / volumes_from / links",
    )


def select(graph: nx.DiGraph, names: Iterable[str], *, with_deps: bool = True) -> set[str]:
    """The services to act on: ``names`` (all when empty) plus their prerequisites."""
    import networkx as nx

    wanted = list(names)
    if not wanted:
        return set(graph.nodes)
    unknown = sorted(n for n in wanted if n not in graph)
    if unknown:
        raise SchedulerError(
            f"no such service: {', '.join(unknown)}",
            hint="available services: " + ", ".join(sorted(graph.nodes)),
        )
    out = set(wanted)
    if with_deps:
        for n in wanted:
            out |= nx.ancestors(graph, n)
    return out


def dependents(graph: nx.DiGraph, names: Iterable[str]) -> set[str]:
    """Every service that (transitively) needs one of ``names``."""
    import networkx as nx

    out: set[str] = set()
    for n in names:
        if n in graph:
            out |= nx.descendants(graph, n)
    return out


def order(graph: nx.DiGraph, *, reverse: bool = False) -> list[Any]:
    """A stable sequential order (lexicographic among ready nodes)."""
    import networkx as nx

    g = graph.reverse(copy=False) if reverse else graph
    return list(nx.lexicographical_topological_sort(g, key=str))


@dataclass
class WalkResult(Generic[N]):
    done: list[N] = field(default_factory=list)
    failed: dict[N, BaseException] = field(default_factory=dict)
    skipped: dict[N, N] = field(default_factory=dict)  # node -> the failed node that blocked it

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped


async def walk(
    graph: nx.DiGraph,
    visit: Callable[[N], Awaitable[None]],
    *,
    reverse: bool = False,
    limit: int | None = None,
    on_skip: Callable[[N, N], None] | None = None,
) -> WalkResult[N]:
    """Visit every node concurrently, each after its prerequisites (or dependents
    when ``reverse``), at most ``limit`` visits at a time.

    A visit that raises marks its node failed: nodes that need it over a
    required edge are skipped (``on_skip(node, blocker)``), the rest go on.
    Exceptions never escape: they are all in the result.
    """
    import anyio

    result: WalkResult[N] = WalkResult()
    finished: dict[N, Any] = {n: anyio.Event() for n in graph.nodes}
    bad: dict[N, N] = {}  # node -> root cause node, for failed and skipped nodes
    limiter = anyio.CapacityLimiter(limit) if limit and limit > 0 else None

    def prereqs(n: N) -> Mapping[N, bool]:
        if reverse:
            return {s: bool(graph.edges[n, s].get("required", True)) for s in graph.successors(n)}
        return {p: bool(graph.edges[p, n].get("required", True)) for p in graph.predecessors(n)}

    async def run(n: N) -> None:
        try:
            needs = prereqs(n)
            for p in needs:
                await finished[p].wait()
            blocker = next((bad[p] for p, req in sorted(needs.items(), key=_key)
                            if req and p in bad), None)
            if blocker is not None:
                bad[n] = blocker
                result.skipped[n] = blocker
                if on_skip is not None:
                    on_skip(n, blocker)
                return
            try:
                if limiter is None:
                    await visit(n)
                else:
                    async with limiter:
                        await visit(n)
            except Exception as exc:  # recorded, reported by the caller
                bad[n] = n
                result.failed[n] = exc
                return
            result.done.append(n)
        finally:
            finished[n].set()

    async with anyio.create_task_group() as tg:
        for n in order(graph, reverse=reverse):
            tg.start_soon(run, n)
    return result


def _key(item: tuple[N, bool]) -> str:
    return str(item[0])


__all__ = [
    "Edge",
    "WalkResult",
    "check_acyclic",
    "dependents",
    "order",
    "select",
    "service_graph",
    "walk",
]
