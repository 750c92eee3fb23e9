"""Compose's merge rules for -f overrides, with positions following the values."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackctl.errors import SpecError
from stackctl.spec.merge import merge_documents
from stackctl.spec.yamlpos import Pos, flatten, load_yaml, strip_markers


def _merge(base: str, over: str) -> tuple[dict[str, Any], dict[Any, str]]:
    a = load_yaml(base, "base.yaml")
    b = load_yaml(over, "over.yaml")
    data, pos = merge_documents(a.data, a.pos, b.data, b.pos)
    data, pos = strip_markers(data, pos)
    return data, {k: str(v) for k, v in flatten(pos).items()}


def _web(base: str, over: str) -> dict[str, Any]:
    indent = lambda s: "".join("    " + line + "\n" for line in s.splitlines())  # noqa: E731
    data, _ = _merge("services:\n  web:\n" + indent(base), "services:\n  web:\n" + indent(over))
    web: dict[str, Any] = data["services"]["web"]
    return web


@pytest.mark.parametrize(
    ("base", "over", "expected"),
    [
        # scalars replace, mappings merge, null keeps
        ("image: a\nuser: u", "image: b", {"image": "b", "user": "u"}),
        ("image: a", "image: null", {"image": "a"}),
        ("deploy: {replicas: 1, resources: {limits: {cpus: '1'}}}",
         "deploy: {resources: {limits: {memory: 1g}}}",
         {"deploy": {"replicas": 1, "resources": {"limits": {"cpus": "1", "memory": "1g"}}}}),
        # replaced whole
        ("command: [a, b]", "command: [c]", {"command": ["c"]}),
        ("entrypoint: [a]", "entrypoint: sh", {"entrypoint": "sh"}),
        ("healthcheck: {test: [CMD, a], retries: 3}", "healthcheck: {test: [CMD, b]}",
         {"healthcheck": {"test": ["CMD", "b"], "retries": 3}}),
        # by name, list or mapping form
        ("environment: [A=1, B=2, C]", "environment: {B: '3', D: null}",
         {"environment": {"A": "1", "B": "3", "C": None, "D": None}}),
        ("labels: {a: '1'}", "labels: [b=2, a=0]", {"labels": {"a": "0", "b": "2"}}),
        ("sysctls: [net.x=1]", "sysctls: {net.y: 2}", {"sysctls": {"net.x": "1", "net.y": 2}}),
        ("extra_hosts: ['a:1.1.1.1', 'b=2.2.2.2']", "extra_hosts: {a: 9.9.9.9, c: '::1'}",
         {"extra_hosts": {"a": "9.9.9.9", "b": "2.2.2.2", "c": "::1"}}),
        ("extra_hosts: ['h=1.1.1.1', 'h=2.2.2.2', 'g=3.3.3.3']", "extra_hosts: ['g=4.4.4.4']",
         {"extra_hosts": {"h": ["1.1.1.1", "2.2.2.2"], "g": "4.4.4.4"}}),
        ("extra_hosts: ['v6=[::1]']", "extra_hosts: [bad]", {"extra_hosts": ["v6=[::1]", "bad"]}),
        ("extra_hosts: ['v6:[::1]']", "extra_hosts: {x: 1.2.3.4}",
         {"extra_hosts": {"v6": "::1", "x": "1.2.3.4"}}),
        ("build: {args: [X=1]}", "build: {args: {Y: 2}}",
         {"build": {"args": {"X": "1", "Y": 2}}}),
        ("ulimits: {nofile: {soft: 1, hard: 2}, nproc: 5}",
         "ulimits: {nofile: {hard: 3}, nproc: 6}",
         {"ulimits": {"nofile": {"soft": 1, "hard": 3}, "nproc": 6}}),
        ("ulimits: {nofile: 5}", "ulimits: {nofile: {soft: 1, hard: 2}}",
         {"ulimits": {"nofile": {"soft": 1, "hard": 2}}}),
        # unique sequences
        ("ports: ['80:80', '443:443', 8080]",
         "ports: ['443:443', {target: 80, published: 80}, '127.0.0.1:80:80', '80:80/udp']",
         {"ports": [{"target": 80, "published": 80}, "443:443", 8080, "127.0.0.1:80:80",
                    "80:80/udp"]}),
        ("volumes: ['./a:/data', 'v:/v:ro']", "volumes: [{type: bind, source: ./b, target: /data}]",
         {"volumes": [{"type": "bind", "source": "./b", "target": "/data"}, "v:/v:ro"]}),
        ("secrets: [s1, {source: s2, target: /x}]", "secrets: [{source: s1, mode: 0400}, s3]",
         {"secrets": [{"source": "s1", "mode": 256}, {"source": "s2", "target": "/x"}, "s3"]}),
        ("configs: [c1]", "configs: [{source: c1, target: /c1, uid: '1'}]",
         {"configs": [{"source": "c1", "target": "/c1", "uid": "1"}]}),
        ("dns: 1.1.1.1", "dns: [8.8.8.8, 1.1.1.1]", {"dns": ["1.1.1.1", "8.8.8.8"]}),
        ("expose: [80, '443']", "expose: [80, 8080]", {"expose": [80, "443", 8080]}),
        ("expose: ['80']", "expose: [80]", {"expose": [80]}),
        ("cap_add: [NET_ADMIN]", "cap_add: [SYS_ADMIN, NET_ADMIN]",
         {"cap_add": ["NET_ADMIN", "SYS_ADMIN"]}),
        ("env_file: a.env", "env_file: [{path: a.env, required: false}, b.env]",
         {"env_file": [{"path": "a.env", "required": False}, "b.env"]}),
        # plain append elsewhere
        ("security_opt: [a]", "security_opt: [a, b]", {"security_opt": ["a", "a", "b"]}),
        # forms converted to mappings before merging
        ("depends_on: [db]", "depends_on: {db: {condition: service_healthy}, cache: {}}",
         {"depends_on": {"db": {"condition": "service_healthy", "required": True},
                         "cache": {}}}),
        ("networks: [front]", "networks: {back: {aliases: [b]}}",
         {"networks": {"front": None, "back": {"aliases": ["b"]}}}),
        ("networks: {front: {aliases: [a]}}", "networks: {front: {aliases: [b, a]}}",
         {"networks": {"front": {"aliases": ["a", "b"]}}}),
        ("build: ./dir", "build: {target: dev}", {"build": {"context": "./dir", "target": "dev"}}),
        ("logging: {driver: json-file, options: {max-size: 1m}}",
         "logging: {options: {max-file: '3'}}",
         {"logging": {"driver": "json-file", "options": {"max-size": "1m", "max-file": "3"}}}),
        ("logging: {driver: json-file, options: {max-size: 1m}}",
         "logging: {driver: syslog, options: {tag: x}}",
         {"logging": {"driver": "syslog", "options": {"tag": "x"}}}),
        # tags
        ("ports: ['80:80']\nimage: a", "ports: !reset []", {"image": "a"}),
        ("ports: ['80:80']", "ports: !override ['81:81']", {"ports": ["81:81"]}),
        ("environment: {A: '1', B: '2'}", "environment: {A: !reset null}",
         {"environment": {"B": "2"}}),
        ("environment: {A: '1'}", "environment: !override {B: '2'}", {"environment": {"B": "2"}}),
    ],
)
def test_merge_rules(base: str, over: str, expected: dict[str, Any]) -> None:
    assert _web(base, over) == expected


def test_positions_follow_the_merge() -> None:
    _, pos = _merge(
        "services:\n  web:\n    image: a\n    ports: ['80:80']\n    environment: [A=1]\n",
        "services:\n  web:\n    image: b\n    ports: ['81:81']\n    environment: {B: 2}\n"
        "  db:\n    image: pg\n",
    )
    assert pos[("services", "web")] == "base.yaml:2:3"
    assert pos[("services", "web", "image")] == "over.yaml:3:5"
    assert pos[("services", "web", "ports", 0)] == "base.yaml:4:13"
    assert pos[("services", "web", "ports", 1)] == "over.yaml:4:13"
    assert pos[("services", "web", "environment", "A")] == "base.yaml:5:19"
    assert pos[("services", "web", "environment", "B")] == "over.yaml:5:19"
    assert pos[("services", "db", "image")] == "over.yaml:7:5"


def test_mismatched_forms_are_located_errors() -> None:
    with pytest.raises(SpecError) as info:
        _merge("services:\n  web:\n    deploy: {replicas: 1}\n",
               "services:\n  web:\n    deploy: [x]\n")
    assert str(info.value).startswith(
        "over.yaml:3:5: services.web.deploy: cannot merge a sequence into a mapping")
    assert info.value.hint is not None and "!override" in info.value.hint


def test_inputs_are_not_modified() -> None:
    a = load_yaml("services:\n  web:\n    environment: [A=1]\n    ports: ['1:1']\n", "a")
    b = load_yaml("services:\n  web:\n    environment: [B=1]\n    ports: ['2:2']\n", "b")
    merge_documents(a.data, a.pos, b.data, b.pos)
    assert a.data == {"services": {"web": {"environment": ["A=1"], "ports": ["1:1"]}}}
    assert b.data == {"services": {"web": {"environment": ["B=1"], "ports": ["2:2"]}}}


def test_ipam_pools_merge_by_subnet() -> None:
    data, _ = _merge(
        "networks:\n  n:\n    ipam:\n      config:\n"
        "        - {subnet: 10.1.0.0/16, gateway: 10.1.0.1}\n",
        "networks:\n  n:\n    ipam:\n      config:\n"
        "        - {subnet: 10.1.0.0/16, ip_range: 10.1.5.0/24}\n"
        "        - {subnet: 10.2.0.0/16}\n",
    )
    assert data["networks"]["n"]["ipam"]["config"] == [
        {"subnet": "10.1.0.0/16", "gateway": "10.1.0.1", "ip_range": "10.1.5.0/24"},
        {"subnet": "10.2.0.0/16"},
    ]


def test_top_level_sections_merge() -> None:
    data, _ = _merge("networks: {n: {driver: bridge}}\nvolumes: {v: {}}\nx-a: {k: 1}\n",
                     "networks: {n: {labels: [a=b]}, m: {}}\nvolumes: {v: null}\nx-a: {j: 2}\n")
    assert data == {
        "networks": {"n": {"driver": "bridge", "labels": ["a=b"]}, "m": {}},
        "volumes": {"v": {}},
        "x-a": {"k": 1, "j": 2},
    }


_scalars = st.one_of(st.integers(), st.text(max_size=5), st.booleans())
_keys = st.sampled_from(["image", "user", "x-a", "labels", "deploy", "restart", "tty"])
_values = st.recursive(
    _scalars,
    lambda inner: st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    max_leaves=6,
)
_services = st.dictionaries(st.sampled_from(["web", "db"]),
                            st.dictionaries(_keys, _values, max_size=4), max_size=2)


@given(_services)
def test_merging_with_nothing_changes_nothing(services: dict[str, Any]) -> None:
    doc = {"services": services}
    empty = {"services": {}}
    pos = Pos(("f", 1, 1))
    assert merge_documents(doc, pos, empty, pos)[0] == doc
    assert merge_documents(empty, pos, doc, pos)[0] == doc


@given(_services)
def test_merging_a_file_onto_itself_is_idempotent(services: dict[str, Any]) -> None:
    doc = {"services": services}
    pos = Pos(("f", 1, 1))
    assert merge_documents(doc, pos, doc, pos)[0] == doc
