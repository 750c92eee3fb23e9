"""YAML loading: the YAML 1.2 core schema as yaml.v3 reads it, positions, errors, tags."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from stackctl.errors import SpecError
from stackctl.spec.yamlpos import (
    RESET,
    Override,
    flatten,
    load_documents,
    load_yaml,
    strip_markers,
)


def _value(text: str) -> Any:
    return load_yaml(f"v: {text}\n", "t.yaml").data["v"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"), ("on", "on"), ("off", "off"), ("no", "no"), ("y", "y"),
        ("true", True), ("True", True), ("FALSE", False),
        ("80:80", "80:80"), ("1:20", "1:20"), ("'80'", "80"), ('"true"', "true"),
        ("0777", 511), ("0o17", 15), ("0x1f", 31), ("1_000", 1000), ("-5", -5), ("+5", 5),
        ("1.5", 1.5), ("1e3", 1000.0), (".5", 0.5), ("08", 8.0),
        ("~", None), ("null", None), ("", None), ("NULL", None),
        ("2001-12-14", "2001-12-14"), ("1.2.3", "1.2.3"), ("512m", "512m"),
        ("!!str 123", "123"), ("!!int '7'", 7), ("!!float 1", 1.0),
    ],
)
def test_core_schema_scalars(text: str, value: Any) -> None:
    got = _value(text)
    assert got == value
    assert type(got) is type(value)


def test_special_floats() -> None:
    assert _value(".inf") == math.inf
    assert _value("-.Inf") == -math.inf
    assert math.isnan(_value(".nan"))


def test_positions_of_keys_and_items() -> None:
    doc = load_yaml(
        "services:\n  web:\n    image: nginx\n    ports:\n      - 80:80\n      - target: 443\n",
        "/s/compose.yaml",
    )
    table = {k: (v.line, v.column) for k, v in flatten(doc.pos).items()}
    assert table[("services",)] == (1, 1)
    assert table[("services", "web")] == (2, 3)
    assert table[("services", "web", "image")] == (3, 5)
    assert table[("services", "web", "ports", 0)] == (5, 9)
    assert table[("services", "web", "ports", 1)] == (6, 9)
    assert table[("services", "web", "ports", 1, "target")] == (6, 9)
    assert flatten(doc.pos)[("services",)].file == "/s/compose.yaml"


def test_duplicate_key_is_an_error() -> None:
    with pytest.raises(SpecError) as info:
        load_yaml("services:\n  web:\n    image: a\n    image: b\n", "c.yaml")
    assert str(info.value) == (
        'c.yaml:4:5: services.web.image: duplicate key "image" (already defined at line 3)'
    )


def test_syntax_error_names_line_and_column() -> None:
    with pytest.raises(SpecError) as info:
        load_yaml("services:\n  web:\n    image: a\n   bad\n", "c.yaml")
    assert str(info.value).startswith("c.yaml:4:")
    assert "YAML syntax error: " in str(info.value)


def test_tab_indentation_gets_a_hint() -> None:
    with pytest.raises(SpecError) as info:
        load_yaml("services:\n\tweb: {}\n", "c.yaml")
    assert info.value.location is not None and info.value.location.line == 2
    assert info.value.hint is not None and "tabs" in info.value.hint


@pytest.mark.parametrize(("text", "kind"), [("- a\n", "a sequence"), ("hello\n", "a string")])
def test_top_level_must_be_a_mapping(text: str, kind: str) -> None:
    with pytest.raises(SpecError, match=f"top level must be a mapping, not {kind}"):
        load_yaml(text, "c.yaml")


@pytest.mark.parametrize("text", ["", "\n# only a comment\n", "~\n", "\ufeff"])
def test_empty_documents_are_empty_mappings(text: str) -> None:
    assert load_yaml(text, "c.yaml").data == {}


def test_several_documents() -> None:
    with pytest.raises(SpecError, match=r"c\.yaml:3:1: expected a single YAML document"):
        load_yaml("a: 1\n---\nb: 2\n", "c.yaml")
    docs = load_documents("a: 1\n---\nb: 2\n---\n", "c.yaml")
    assert [d.data for d in docs] == [{"a": 1}, {"b": 2}, {}]
    assert load_documents("", "c.yaml")[0].data == {}


def test_anchors_aliases_and_merge_keys() -> None:
    doc = load_yaml(
        "x-a: &a {image: a, user: u}\nx-b: &b {image: b, tty: true}\n"
        "services:\n  one:\n    <<: [*a, *b]\n    user: me\n  two: *a\n",
        "c.yaml",
    )
    one, two = doc.data["services"]["one"], doc.data["services"]["two"]
    assert one == {"user": "me", "image": "a", "tty": True}
    assert two == {"image": "a", "user": "u"}
    one["image"] = "changed"  # values from an anchor are independent copies
    assert doc.data["x-a"]["image"] == "a"
    assert flatten(doc.pos)[("services", "one", "user")].line == 6


def test_unknown_tag_is_an_error() -> None:
    with pytest.raises(SpecError, match="unsupported YAML tag !foo"):
        load_yaml("a: !foo bar\n", "c.yaml")


def test_reset_and_override_markers() -> None:
    doc = load_yaml(
        "services:\n  web:\n    ports: !reset []\n    command: !override [a, b]\n"
        "    dns: [1.1.1.1, !reset x]\n",
        "c.yaml",
    )
    web = doc.data["services"]["web"]
    assert web["ports"] is RESET
    assert web["command"] == Override(["a", "b"])
    data, pos = strip_markers(doc.data, doc.pos)
    assert data["services"]["web"] == {"command": ["a", "b"], "dns": ["1.1.1.1"]}
    assert ("services", "web", "ports") not in flatten(pos)
    assert web["ports"] is RESET  # the input is left alone


def test_keys_are_strings() -> None:
    data = load_yaml("1: a\ntrue: b\n1.5: c\n", "c.yaml").data
    assert data == {"1": "a", "true": "b", "1.5": "c"}


_text = st.text(alphabet="abcdefgh xyz_-", min_size=1, max_size=8).map(str.strip).filter(
    lambda s: s not in ("", "y", "n") and not s.startswith("-"))
_leaf = st.one_of(st.integers(-10**6, 10**6), _text, st.booleans(), st.none())
_tree = st.recursive(
    _leaf,
    lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=3),
                            st.dictionaries(_text, inner, min_size=1, max_size=3)),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@given(st.dictionaries(_text, _tree, min_size=1, max_size=4),
       st.sampled_from([False, True]))
def test_round_trip_and_every_path_is_located(data: dict[str, Any], flow: bool) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, sort_keys=False)
    doc = load_yaml(text, "t.yaml")
    assert doc.data == data
    table = flatten(doc.pos)
    lines = text.splitlines()
    for path in _paths(data):
        loc = table[path]
        assert loc.file == "t.yaml"
        assert loc.line is not None and 1 <= loc.line <= len(lines)
        if path and isinstance(path[-1], str) and not flow:
            # A key's location is where the key is written.
            assert lines[loc.line - 1][loc.column - 1:].lstrip("'\"").startswith(path[-1][:1])


def test_excessive_aliasing_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(SpecError, match="excessive aliasing"):
        load_yaml("\n".join(lines) + "\n", "bomb.yaml")


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(SpecError, match="nests deeper than 100 levels"):
        load_yaml("a: " + "[" * 500 + "]" * 500 + "\n", "deep.yaml")
    value = load_yaml("a: " + "[" * 50 + "]" * 50 + "\n", "ok.yaml").data["a"]
    for _ in range(49):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert value == []


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(SpecError, match="recursive YAML alias"):
        load_yaml("a: &x [1, *x]\n", "rec.yaml")
