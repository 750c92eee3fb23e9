"""Interpolation: compose-go's template vectors, located errors, property tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackctl.errors import SpecError
from stackctl.spec.interpolate import (
    InterpolationError,
    Interpolator,
    Variable,
    extract_variables,
    substitute,
)
from stackctl.spec.yamlpos import load_yaml


def _vectors(conformance: Path) -> tuple[dict[str, str], list[dict[str, Any]]]:
    path = conformance / "compose-loader/interpolation/template-vectors.json"
    doc = json.loads(path.read_text())
    return doc["_env"], doc["vectors"]


def test_all_template_vectors(conformance: Path) -> None:
    env, vectors = _vectors(conformance)
    assert len(vectors) == 69
    failures = []
    for v in vectors:
        missing: list[str] = []
        try:
            got: str | None = substitute(v["template"], env.get, missing.append)
            err = None
        except InterpolationError as exc:
            got, err = None, exc.message
        if "expected" in v:
            ok = err is None and got == v["expected"]
        else:
            ok = err is not None and v["error_contains"] in err
        if "expect no warning" in v["from"]:
            ok = ok and missing == []
        if "exactly one" in v["from"]:
            ok = ok and len(missing) == 1
        if not ok:
            failures.append((v["template"], v.get("expected", v.get("error_contains")), got, err))
    assert failures == []


def test_required_error_is_located() -> None:
    doc = load_yaml("services:\n  web:\n    image: ${TAG:?set TAG}\n", "/p/compose.yaml")
    with pytest.raises(SpecError) as info:
        Interpolator({}).tree(doc.data, doc.pos)
    assert str(info.value) == (
        "/p/compose.yaml:3:5: services.web.image: required variable TAG is missing a value: set TAG"
    )
    assert info.value.hint is not None and "TAG" in info.value.hint


def test_invalid_template_is_located() -> None:
    doc = load_yaml("services:\n  web:\n    ports:\n      - '${ P}:80'\n", "c.yaml")
    with pytest.raises(SpecError, match=r"c.yaml:4:9: services.web.ports\[0\]: Invalid template"):
        Interpolator({}).tree(doc.data, doc.pos)


def test_tree_interpolates_values_not_keys_and_records_missing() -> None:
    doc = load_yaml(
        "services:\n  $NAME:\n    image: $IMG\n    environment: [A=$X, 'B=${X}']\n"
        "    x-n: 3\n    command: !override [echo, $IMG]\n",
        "c.yaml",
    )
    it = Interpolator({"IMG": "busybox"})
    out = it.tree(doc.data, doc.pos)
    svc = out["services"]["$NAME"]
    assert svc["image"] == "busybox"
    assert svc["environment"] == ["A=", "B="]
    assert svc["command"].value == ["echo", "busybox"]
    assert it.missing == {"X": "services.$NAME.environment[0]"}


def test_unused_default_does_not_warn() -> None:
    missing: list[str] = []
    assert substitute("${A:-x}${B-y}${C:+z}", {}.get, missing.append) == "xy"
    assert substitute("${A:-${B}}", {}.get, missing.append) == ""
    assert missing == ["B"]


_no_dollar = st.text().filter(lambda s: "$" not in s)
_names = st.from_regex(r"[_A-Za-z][_A-Za-z0-9]{0,8}", fullmatch=True)


@given(_no_dollar)
def test_text_without_dollar_is_unchanged(text: str) -> None:
    assert substitute(text, {}.get) == text


@given(_no_dollar)
def test_escaped_dollars_round_trip(text: str) -> None:
    escaped = "$$" + text + "$$"
    assert substitute(escaped, {}.get) == "$" + text + "$"
    doubled = "".join(c + "$$" for c in text)
    assert substitute(doubled, {}.get) == "".join(c + "$" for c in text)


@given(_names, _no_dollar.filter(lambda s: "}" not in s and "{" not in s), st.text(max_size=5))
def test_default_forms(name: str, default: str, value: str) -> None:
    value = value.replace("$", "")
    assert substitute("${" + name + ":-" + default + "}", {}.get) == default
    assert substitute("${" + name + "-" + default + "}", {}.get) == default
    assert substitute("${" + name + "-" + default + "}", {name: ""}.get) == ""
    assert substitute("${" + name + ":-" + default + "}", {name: ""}.get) == default
    env = {name: value}
    expect = value if value else default
    assert substitute("${" + name + ":-" + default + "}", env.get) == expect
    assert substitute("${" + name + "+" + default + "}", env.get) == default
    assert substitute("${" + name + ":+" + default + "}", env.get) == (default if value else "")


@given(_names, st.text(max_size=10))
def test_plain_and_braced_agree(name: str, value: str) -> None:
    env = {name: value}
    assert substitute("${" + name + "}", env.get) == value
    assert substitute("$" + name, env.get) == value
    # The value itself is never re-expanded.
    assert substitute("x${" + name + "}y", env.get) == "x" + value + "y"


@given(_names)
def test_required_forms_raise_only_when_missing(name: str) -> None:
    with pytest.raises(InterpolationError) as info:
        substitute("${" + name + ":?boom}", {name: ""}.get)
    assert info.value.variable == name
    assert substitute("${" + name + "?boom}", {name: ""}.get) == ""
    assert substitute("${" + name + ":?boom}", {name: "v"}.get) == "v"


def test_extract_variables() -> None:
    doc = load_yaml(
        "services:\n  web:\n    image: ${IMG:-nginx}:$TAG\n"
        "    ports: ['${PORT:?need a port}:80']\n"
        "    environment:\n      A: ${A+set}\n      B: $$NOT_A_VAR ${B-${C:-c}}\n"
        "      ${KEY}: x\n    command: !override [echo, '${TAG?}', '${bad']\n",
        "c.yaml",
    )
    assert extract_variables(doc.data) == {
        "IMG": Variable("IMG", default="nginx"),
        "TAG": Variable("TAG", required=True),
        "PORT": Variable("PORT", required=True),
        "A": Variable("A", alternate="set"),
        "B": Variable("B", default="${C:-c}"),
        "C": Variable("C", default="c"),
    }


def test_absurd_nesting_is_an_error_not_a_crash() -> None:
    template = "${A:-" * 2000 + "x" + "}" * 2000
    with pytest.raises(InterpolationError, match="nested too deeply"):
        Interpolator({}).text(template)
    assert Interpolator({}).text("${A:-" * 20 + "x" + "}" * 20) == "x"
