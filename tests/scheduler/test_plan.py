"""Golden plans: a stack literal and an observed-state literal in, the rendered plan out.

Each ``plans/<case>.yaml`` holds::

    up: {...UpOptions fields}          # or  down: {...DownOptions fields}
    stack: {services: ..., networks: ..., volumes: ...}   # canonical compose dict
    observed:
      images: [busybox]                # references present in the image store
      networks: [default]              # keys of project networks that exist
      volumes: [data]
      containers: ["web 1 running", "db 1 exited stale exit=0", "old 1 running"]
    expected: |                        # Plan.render(show_deps=True)

A container's hash is the desired one unless the line says ``stale``; ``exit=N``
sets its exit code, ``healthy``/``unhealthy``/``starting`` its health, ``oneoff``
makes it a ``run`` container.
``STACKCTL_UPDATE_GOLDEN=1`` rewrites ``expected`` (read the diff before committing).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackctl.scheduler.model import desired_state
from stackctl.scheduler.observe import ObservedContainer, ObservedNetwork, ObservedVolume, snapshot
from stackctl.scheduler.plan import DownOptions, UpOptions, plan_down, plan_up

CASES = Path(__file__).parent / "plans"
PROJECT = "demo"


def _observed(stack: dict[str, Any], spec: dict[str, Any], scale: dict[str, int]) -> Any:
    images = {ref: f"sha256:{ref}" for ref in spec.get("images", [])}
    desired = desired_state(PROJECT, stack, image_ids=images, scale=scale)
    containers = []
    for line in spec.get("containers", []):
        service, number, state, *flags = line.split()
        svc = desired.services.get(service)
        oneoff = "oneoff" in flags
        name = (f"{PROJECT}-{service}-run-{number}" if oneoff
                else f"{PROJECT}-{service}-{number}")
        health = next((f for f in flags if f in ("healthy", "unhealthy", "starting")), None)
        code = next((int(f[5:]) for f in flags if f.startswith("exit=")), None)
        containers.append(ObservedContainer(
            name=name, service=service, number=int(number), state=state, oneoff=oneoff,
            config_hash="stale" if "stale" in flags or svc is None else svc.config_hash,
            health=health, exit_code=code))
    networks = []
    for entry in spec.get("networks", []):  # "key" or "key stale" (config changed)
        k, *flags = entry.split()
        current = desired.networks[k].config_hash if k in desired.networks else ""
        networks.append(ObservedNetwork(name=f"{PROJECT}_{k}", key=k,
                                        config_hash="stale" if flags else current))
    networks += [ObservedNetwork(name=n) for n in spec.get("external_networks", [])]
    volumes = [ObservedVolume(name=f"{PROJECT}_{k}", key=k) for k in spec.get("volumes", [])]
    return desired, snapshot(PROJECT, containers, networks, volumes, images)


def _run(case: dict[str, Any]) -> str:
    up = case.get("up")
    scale = (up or {}).pop("scale", {}) if up is not None else {}
    desired, observed = _observed(case["stack"], case.get("observed") or {}, scale)
    if up is not None:
        opts = UpOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in up.items()})
        return plan_up(desired, observed, opts).render(show_deps=True)
    down = case.get("down") or {}
    dopts = DownOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in down.items()})
    return plan_down(None if case.get("no_stack") else desired, observed, dopts).render(
        show_deps=True)


@pytest.mark.parametrize("path", sorted(CASES.glob("*.yaml")), ids=lambda p: p.stem)
def test_golden_plan(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    got = _run(case)
    if os.environ.get("STACKCTL_UPDATE_GOLDEN") == "1":
        text = path.read_text()
        head = text.split("\nexpected: |", 1)[0].rstrip("\n")
        body = "".join(f"  {line}\n" if line else "\n" for line in got.splitlines())
        path.write_text(f"{head}\nexpected: |\n{body}")
        return
    assert got == case["expected"]
