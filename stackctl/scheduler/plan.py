"""The planners: PURE functions of (desired state, observed state, options) -> Plan.

No I/O, no clock: the same inputs always give the same plan, and the plan's
text rendering is sorted, so it can be shown (``stackctl plan``), diffed in CI
(``stackctl sync``) and golden-tested. The executor carries the decisions made
here out; it makes none of its own.

This module is the public face; the work is in

    plangraph.py  Plan (the DAG of operations, its text and JSON forms) and PlanBuilder
    converge.py   plan_up and plan_resources: Compose's convergence rules, per service
    lifecycle.py  plan_down, plan_stop, plan_start, plan_images
"""

from __future__ import annotations

from stackctl.scheduler.converge import Recreate, UpOptions, plan_resources, plan_up
from stackctl.scheduler.lifecycle import (
    DownOptions,
    plan_down,
    plan_images,
    plan_start,
    plan_stop,
)
from stackctl.scheduler.plangraph import Plan

__all__ = [
    "DownOptions",
    "Plan",
    "Recreate",
    "UpOptions",
    "plan_down",
    "plan_images",
    "plan_resources",
    "plan_start",
    "plan_stop",
    "plan_up",
]
