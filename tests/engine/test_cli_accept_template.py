"""``--format`` templates as Docker users write them (issue #3): Go text/template's
range, if, with, variables, pipelines and functions, on inspect-shaped data."""

from __future__ import annotations

import pytest

from stackctl.cli import render
from stackctl.errors import UsageError

DATA = {
    "Name": "/web",
    "State": {"Running": True, "Pid": 42, "Status": "running"},
    "Mounts": [{"Source": "/srv/a", "Destination": "/a"}, {"Source": "/srv/b",
                                                            "Destination": "/b"}],
    "Config": {"Labels": {"com.x": "1", "a": "b"}, "Env": ["A=1", "B=2"], "Cmd": ["sh"]},
    "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
}


@pytest.mark.parametrize(("template", "expected"), [
    ("{{range .Mounts}}{{.Source}} {{end}}", "/srv/a /srv/b "),
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "172.17.0.2"),
    ('{{(index .NetworkSettings.Networks "bridge").IPAddress}}', "172.17.0.2"),
    ("{{json .Config.Cmd}}", '["sh"]'),
    ('{{index .Config.Labels "com.x"}}', "1"),
    ('{{index .Config.Labels "missing"}}', "<no value>"),
    ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "a=b;com.x=1;"),
    ("{{range $i, $m := .Mounts}}{{$i}}{{end}}", "01"),
    ('{{join .Config.Env ","}}', "A=1,B=2"),
    ("{{len .Mounts}}", "2"),
    ("{{range .Config.Env}}{{println .}}{{end}}", "A=1\nB=2\n"),
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{if eq .State.Pid 1}}a{{else if eq .State.Pid 42}}b{{else}}c{{end}}", "b"),
    ("{{with .State}}{{.Status}}{{end}}", "running"),
    ("{{.Name | upper}} {{lower .State.Status}}", "/WEB running"),
    ('{{printf "%s:%d" .Name .State.Pid}}', "/web:42"),
    ("{{.Config.Labels}}", "map[a:b com.x:1]"),  # Go prints maps sorted
    ("{{.Config.Env}}", "[A=1 B=2]"),
    ("{{- range .Mounts }} {{ .Destination -}} {{ end }}|", " /a /b|"),
    ("{{$n := .Name}}{{range .Mounts}}{{$n}}{{end}}", "/web/web"),
    ("{{range .Mounts}}{{$.Name}}{{end}}", "/web/web"),
    ('{{split "a:b" ":"}} {{title "web"}}', "[a b] Web"),
    ("{{range .Nothing}}x{{else}}none{{end}}", "none"),
    ("{{/* a comment */}}ok", "ok"),
])
def test_go_template(template: str, expected: str) -> None:
    data = {**DATA, "Nothing": []}
    assert render.render_template(template, data) == expected


@pytest.mark.parametrize("template", ["{{.Nope}}", "{{nofunc .Name}}", "{{if .Name}}",
                                      "{{end}}", "{{.Name.Deeper}}"])
def test_bad_templates_name_the_problem(template: str) -> None:
    with pytest.raises(UsageError, match="--format"):
        render.render_template(template, DATA)


def test_rows_with_methods() -> None:
    rows = [{"Names": "web", "Label": lambda k: {"tier": "front"}.get(k, "")}]
    assert render.format_rows('{{.Names}} {{.Label "tier"}}', rows) == "web front"
    assert render.format_rows("json", rows) == '{"Names":"web"}'
    assert render.format_rows("{{json .}}", rows) == '{"Names":"web"}'


@pytest.mark.parametrize(("template", "expected"), [
    ("{{.Config.Entrypoint}}", "[]"), ("{{.Config.Labels}}", "map[]"),
    ("{{json .Config.Entrypoint}}", "null"), ("{{len .Config.Env}}", "0"),
    ("{{range .Config.Env}}x{{else}}none{{end}}", "none"), ("{{.Config.Image}}", "<no value>"),
])
def test_null_slices_and_maps_print_as_docker_s_typed_ones(template: str, expected: str
                                                           ) -> None:
    # docker runs the template on its typed structs: a nil slice prints [], a nil map
    # map[] (json still says null); a null of another type stays <no value>
    data = {"Config": {"Entrypoint": None, "Labels": None, "Env": None, "Image": None}}
    assert render.render_template(template, data) == expected
