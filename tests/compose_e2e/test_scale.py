"""Replicas: scale up/down, number preservation, obsolete replicas first
(scale_test.go, up_test.go upstream)."""

from __future__ import annotations

import pytest

from tests.compose_e2e.project import Project

pytestmark = pytest.mark.kernel


def test_scale_basic_cases(project: Project) -> None:  # TestScaleBasicCases
    project.load("TestScaleBasicCases")
    project.compose("up", "-d")
    assert project.numbers("front") == [1, 2]
    assert project.numbers("dbadmin") == []
    project.compose("scale", "dbadmin=2")
    assert project.states("dbadmin") == [(1, "running"), (2, "running")]
    front = project.ids()[project.cname("front", 1)]
    project.compose("scale", "front=3", "back=2")
    assert project.numbers("front") == [1, 2, 3]
    assert project.numbers("back") == [1, 2]
    assert project.ids()[project.cname("front", 1)] == front  # running ones kept
    kept = project.ids()[project.cname("dbadmin", 1)]
    project.compose("scale", "dbadmin=1")
    assert project.numbers("dbadmin") == [1]
    assert project.ids()[project.cname("dbadmin", 1)] == kept
    r = project.compose("scale", "dbadmin=0")
    assert r.out == ""
    assert project.numbers("dbadmin") == []
    project.compose("scale", "front=2", "back=1")
    assert project.numbers("front") == [1, 2]
    assert project.numbers("back") == [1]


def test_scale_with_deps_cases(project: Project) -> None:  # TestScaleWithDepsCases
    project.load("TestScaleWithDepsCases")
    project.compose("up", "-d", "--scale", "db=2")
    assert project.numbers("db") == [1, 2]
    project.compose("scale", "--no-deps", "back=2")
    assert project.numbers("back") == [1, 2]
    assert project.numbers("db") == [1, 2]
    project.compose("scale", "back=2")
    assert project.numbers("back") == [1, 2]
    assert project.numbers("db") == [1]  # reconciled to the model's count


def test_scale_doesnt_recreate(project: Project) -> None:  # TestScaleDoesntRecreate
    project.load("TestScaleDoesntRecreate")
    project.compose("up", "-d")
    assert project.numbers("simple") == [1]
    first = project.ids()[project.cname("simple")]
    r = project.compose("up", "--scale", "simple=2", "-d")
    assert project.numbers("simple") == [1, 2]
    assert "Recreated" not in r.output
    assert project.ids()[project.cname("simple")] == first


def test_scale_up_and_down_preserve_container_number(project: Project) -> None:
    project.load("TestScaleUpAndDownPreserveContainerNumber")
    project.compose("up", "-d", "--scale", "db=2", "db")
    assert project.numbers("db") == [1, 2]
    project.compose("up", "-d", "--scale", "db=1", "db")
    assert project.numbers("db") == [1]
    project.compose("up", "-d", "--scale", "db=2", "db")
    assert project.numbers("db") == [1, 2]


def test_scale_down_removes_obsolete(project: Project) -> None:  # TestScaleDownRemovesObsolete
    project.load("TestScaleDownRemovesObsolete")
    project.compose("up", "-d", "db")
    assert project.numbers("db") == [1]
    changed = {"MAYBE": "value"}
    project.compose("up", "-d", "--scale", "db=2", "db", env=changed)
    assert project.numbers("db") == [1, 2]
    project.compose("up", "-d", "--scale", "db=1", "db", env=changed)
    assert project.numbers("db") == [1]


def test_scale_down_no_recreate(project: Project) -> None:  # TestScaleDownNoRecreate
    project.load("TestScaleDownNoRecreate")
    project.compose("build", "--build-arg", "FOO=test")
    project.compose("up", "-d", "--scale", "test=2")
    assert project.numbers("test") == [1, 2]
    project.compose("build", "--build-arg", "FOO=updated")
    project.compose("up", "-d", "--scale", "test=4", "--no-recreate")
    assert project.numbers("test") == [1, 2, 3, 4]
    project.compose("up", "-d", "--scale", "test=2")
    assert project.numbers("test") == [3, 4]
