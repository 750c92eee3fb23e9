"""Profiles, selection and dependency cycles as pure functions over models."""

from __future__ import annotations

from typing import Any

import pytest

from stackctl.errors import SpecError
from stackctl.spec.checks import cycle_problems, select_services
from stackctl.spec.models_top import StackFile
from stackctl.spec.options import Positions


def stack(**services: dict[str, Any]) -> StackFile:
    return StackFile.model_validate(
        {"services": {k: {"image": "busybox", **v} for k, v in services.items()}}
    )


def test_profiles_select_services() -> None:
    s = stack(web={}, dbg={"profiles": ["debug"]}, ops={"profiles": ["ops", "debug"]})
    assert select_services(s.services, []) == (["web"], ["dbg", "ops"])
    assert select_services(s.services, ["ops"]) == (["web", "ops"], ["dbg"])
    assert select_services(s.services, ["*"]) == (["web", "dbg", "ops"], [])


def test_dependencies_come_along_unless_optional() -> None:
    s = stack(
        web={
            "depends_on": {
                "db": {"condition": "service_healthy"},
                "metrics": {"condition": "service_started", "required": False},
            }
        },
        db={"profiles": ["backend"], "links": ["cache"]},
        cache={"profiles": ["backend"]},
        metrics={"profiles": ["monitoring"]},
    )
    active, disabled = select_services(s.services, [])
    assert active == ["web", "db", "cache"]
    assert disabled == ["metrics"]


def test_named_services_select_exactly_those_and_their_needs() -> None:
    s = stack(web={"depends_on": ["api"]}, api={}, tool={"profiles": ["tools"]}, other={})
    assert select_services(s.services, [], ["tool"]) == (["tool"], ["web", "api", "other"])
    assert select_services(s.services, [], ["web"]) == (["web", "api"], ["tool", "other"])
    with pytest.raises(SpecError, match="no such service: nope"):
        select_services(s.services, [], ["nope"])


def test_each_cycle_reported_once() -> None:
    s = stack(
        a={"depends_on": ["b"]},
        b={"depends_on": ["a"]},
        c={"depends_on": ["d"]},
        d={"depends_on": ["e"]},
        e={"depends_on": ["c"]},
        f={"depends_on": ["a"]},
    )
    msgs = [p.bare_message for p in cycle_problems(s, list(s.services), Positions())]
    assert msgs == [
        "dependency cycle detected: a -> b -> a",
        "dependency cycle detected: c -> d -> e -> c",
    ]


def test_cycle_through_an_inactive_service_is_ignored() -> None:
    s = stack(a={"depends_on": ["b"]}, b={"depends_on": ["a"], "profiles": ["x"]}, c={})
    assert cycle_problems(s, ["c"], Positions()) == []
