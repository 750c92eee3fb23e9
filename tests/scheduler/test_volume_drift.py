"""Volume drift (scheduler/volume_drift.py): which project volumes changed in the
file, and the removals an approved ``up -y`` runs before its own plan. Pure."""

from __future__ import annotations

from typing import Any

from stackctl.scheduler import observe as L
from stackctl.scheduler.model import desired_state
from stackctl.scheduler.observe import ObservedContainer, ObservedState, ObservedVolume
from stackctl.scheduler.plan import UpOptions, plan_up
from stackctl.scheduler.volume_drift import drifted, plan_recreate, volume_hash


def _stack(label: str) -> dict[str, Any]:
    return {
        "services": {
            "app": {"image": "busybox", "volumes": [
                {"type": "volume", "source": "data", "target": "/data"}]},
            "other": {"image": "busybox"},
        },
        "volumes": {"data": {"labels": {"foo": label}}, "spare": {},
                    "ext": {"external": True, "name": "shared"}},
    }


def _labels(desired: Any, key: str, project: str = "p") -> dict[str, str]:
    return {L.LABEL_PROJECT: project, L.LABEL_HASH: volume_hash(desired.volumes[key])}


def test_only_changed_volumes_of_this_project_drift() -> None:
    old, new = desired_state("p", _stack("bar")), desired_state("p", _stack("zot"))
    stored = {"p_data": _labels(old, "data"), "p_spare": _labels(old, "spare"),
              "shared": {L.LABEL_PROJECT: "p", L.LABEL_HASH: "x"}}
    assert drifted(old, stored) == []
    assert drifted(new, stored) == ["data"]
    # made before hashes were kept, or by another project: never ours to drop
    assert drifted(new, {"p_data": {L.LABEL_PROJECT: "p"}}) == []
    assert drifted(new, {"p_data": _labels(old, "data", project="q")}) == []
    # the name picks the volume, it does not shape it
    renamed = _stack("bar")
    renamed["volumes"]["data"]["name"] = "p_data"
    assert volume_hash(desired_state("p", renamed).volumes["data"]) == \
        volume_hash(old.volumes["data"])


def test_recreate_removes_the_users_then_the_volume() -> None:
    desired = desired_state("p", _stack("zot"))
    h = desired.services["app"].config_hash
    observed = ObservedState("p", containers=(
        ObservedContainer("p-app-1", "app", 1, h, "running"),
        ObservedContainer("p-app-run-x", "app", 0, h, "exited", oneoff=True),
        ObservedContainer("p-other-1", "other", 1, h, "running"),
    ))
    plan = plan_recreate(desired, observed, ["data"], timeout=1)
    assert [op.id for op in plan.operations] == [
        "remove container oneoff:app:p-app-run-x", "stop container service:app:1",
        "remove container service:app:1", "remove volume volume:data"]
    assert plan.after("remove volume volume:data") == [
        "remove container oneoff:app:p-app-run-x", "remove container service:app:1"]
    assert [op.name for op in plan.destructive if op.verb == "remove volume"] == ["p_data"]


def test_all_resources_creates_what_no_service_uses() -> None:
    desired = desired_state("p", _stack("bar"))
    observed = ObservedState("p", volumes=(ObservedVolume("shared"),),
                             images={"busybox": "sha256:b"})
    def ops(opts: UpOptions) -> list[str]:
        return [op.id for op in plan_up(desired, observed, opts).operations]

    assert "create volume volume:spare" in ops(UpOptions(all_resources=True))
    assert "create volume volume:spare" not in ops(UpOptions())
