"""The plan as data: a DAG of typed operations, and the builder planners fill.

A ``Plan`` renders as sorted text (``stackctl plan``, golden tests) and as JSON
(``--format json``); its order is topological with ties broken by op id, so the
same inputs always print the same lines. The graph is built lazily: an empty
plan never imports networkx (the no-op ``up`` budget).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from stackctl.lightdc import dataclass, field
from stackctl.scheduler.observe import ObservedContainer
from stackctl.scheduler.ops import Operation, RemoveContainer, StopContainer

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True)
class Plan:
    project: str
    # op id -> {"op": Operation}; edges go prerequisite -> dependent. None: no operations
    # (so that an empty plan never imports networkx)
    graph: nx.DiGraph | None = field(default=None, compare=False)
    warnings: tuple[str, ...] = ()

    @property
    def operations(self) -> list[Operation]:
        """In a stable execution order (topological, ties by id)."""
        if self.graph is None:
            return []
        import networkx as nx

        return [self.graph.nodes[n]["op"] for n in
                nx.lexicographical_topological_sort(self.graph, key=str)]

    @property
    def empty(self) -> bool:
        return self.graph is None or len(self.graph) == 0

    @property
    def destructive(self) -> list[Operation]:
        return [op for op in self.operations if op.destructive]

    def after(self, op_id: str) -> list[str]:
        return [] if self.graph is None else sorted(self.graph.predecessors(op_id))

    def summary(self) -> str:
        if self.empty:
            return f"project {self.project!r} is up to date: nothing to do"
        counts: dict[str, int] = {}
        for op in self.operations:
            counts[op.verb] = counts.get(op.verb, 0) + 1
        parts = [f"{n} {verb}" for verb, n in sorted(counts.items())]
        return f"{len(self.operations)} operations: " + ", ".join(parts)

    def render(self, *, show_deps: bool = False) -> str:
        lines = [f"warning: {w}" for w in self.warnings]
        for op in self.operations:
            mark = "!" if op.destructive else ("-" if op.verb.startswith(("stop", "remove"))
                                               else "+")
            line = f"{mark} {op.verb:<17}{op.resource:<24} {op.cause}"
            if show_deps and self.after(op.id):
                line += "  [after " + ", ".join(self.after(op.id)) + "]"
            lines.append(line.rstrip())
        lines.append(self.summary())
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        ops = []
        for op in self.operations:
            item = op.to_json()
            item["after"] = self.after(op.id)
            ops.append(item)
        return {"project": self.project, "changes": len(ops), "warnings": list(self.warnings),
                "operations": ops}


class PlanBuilder:
    """Collects operations and their ordering edges; the graph exists from the first op."""

    def __init__(self) -> None:
        self._graph: nx.DiGraph | None = None
        self.warnings: list[str] = []

    @property
    def graph(self) -> nx.DiGraph:
        if self._graph is None:
            import networkx as nx

            self._graph = nx.DiGraph()
        return self._graph

    @property
    def empty(self) -> bool:
        return self._graph is None

    def add(self, op: Operation, after: Iterable[str | None] = ()) -> str:
        if op.id in self.graph:
            raise AssertionError(f"planner produced {op.id!r} twice")
        self.graph.add_node(op.id, op=op)
        for p in after:
            if p is not None:
                self.graph.add_edge(p, op.id, required=True)
        return op.id

    def edge(self, before: Iterable[str], after: Iterable[str], *, required: bool = True) -> None:
        """``required=False``: a failure of ``before`` does not stop ``after``."""
        before, after = list(before), list(after)
        if not before or not after:
            return
        for b in before:
            for a in after:
                old = self.graph.get_edge_data(b, a)
                self.graph.add_edge(b, a, required=required or bool(old and old["required"]))

    def plan(self, project: str) -> Plan:
        return Plan(project, self._graph, tuple(self.warnings))


def remove_container(b: PlanBuilder, c: ObservedContainer, cause: str, timeout: float | None,
                     *, volumes: bool = False) -> list[str]:
    """Stop (unless already stopped) then remove ``c``: the op ids, in order."""
    res = resource_id(c)
    ids: list[str] = []
    if c.state not in ("created", "exited", "dead"):
        ids.append(b.add(StopContainer(res, cause, for_service=c.service, name=c.name,
                                       timeout=timeout)))
    ids.append(b.add(RemoveContainer(res, cause, for_service=c.service, name=c.name,
                                     volumes=volumes), ids[-1:]))
    return ids


def resource_id(c: ObservedContainer) -> str:
    """``service:web:1``; one-off containers have no number, so they go by name."""
    if c.oneoff:
        return f"oneoff:{c.service}:{c.name}"
    return f"service:{c.service}:{c.number}"


__all__ = ["Plan", "PlanBuilder", "remove_container", "resource_id"]
