"""The Dockerfile parser against BuildKit's golden files, plus heredocs."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.engine.build.heredoc import Heredoc, chomp, parse_heredoc
from stackctl.engine.build.parser import parse
from stackctl.engine.build.shell import ShellError
from stackctl.errors import DockerfileParseError


def _cases(conformance: Path, kind: str) -> list[Path]:
    return sorted((conformance / "dockerfile-parser" / kind).iterdir())


def test_golden_files(conformance: Path) -> None:
    cases = _cases(conformance, "testfiles")
    assert len(cases) == 33
    failures = []
    for case in cases:
        expected = (case / "result").read_bytes().decode()
        got = parse((case / "Dockerfile").read_bytes()).dump() + "\n"
        if got != expected:
            failures.append(case.name)
    assert failures == []


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty_dockerfile", "file with no instructions"),
        ("only_comments", "file with no instructions"),
        ("env_no_value", "Dockerfile:3: ENV must have two arguments"),
        ("shykes-nested-json", "arrays must be comprised of strings only"),
    ],
)
def test_negative_files(conformance: Path, case: str, message: str) -> None:
    path = conformance / "dockerfile-parser" / "testfiles-negative" / case / "Dockerfile"
    with pytest.raises(DockerfileParseError, match=message):
        parse(path.read_bytes())


def test_line_numbers(conformance: Path) -> None:
    df = parse((conformance / "dockerfile-parser" / "testfile-line" / "Dockerfile").read_bytes())
    assert (df.start_line, df.end_line) == (5, 31)
    assert [(n.start_line, n.end_line) for n in df.nodes] == [(5, 5), (11, 12), (17, 31)]


def test_awesome_compose_dockerfiles_parse(conformance: Path) -> None:
    files = [p for p in (conformance / "awesome-compose").rglob("*") if "Dockerfile" in p.name]
    assert len(files) >= 10
    for path in files:
        df = parse(path.read_bytes(), file=str(path))
        assert df.nodes[0].cmd in ("from", "arg")


HEREDOCS = """\
FROM alpine:3.6
ENV NAME=me
USER <<INVALID
INVALID
RUN <<EMPTY
EMPTY
RUN 3<<EMPTY2
EMPTY2
RUN "<<NOHEREDOC"
RUN <<INDENT
\tfoo
\tbar
INDENT
RUN <<-UNINDENT
\tbaz
\tquux
\tUNINDENT
RUN <<-'NOEXPAND'
\tdon't expand $NAME
NOEXPAND
RUN --mount=type=cache,target=/foo <<MOUNT
echo hello
MOUNT
COPY <<FILE1 <<FILE2 /dest
content 1
FILE1
content 2
FILE2
COPY <<X <<Y /dest
Y
X
X
Y
RUN ["<<EOF"]
ONBUILD RUN <<EOF
echo later
EOF
"""


def test_heredoc_bodies() -> None:
    nodes = parse(HEREDOCS).nodes
    by_line = {n.start_line: n for n in nodes}
    assert by_line[3].cmd == "user" and by_line[3].heredocs == ()
    assert by_line[4].cmd == "invalid"  # USER takes no heredoc: next line is an instruction
    assert by_line[5].heredocs == (Heredoc("EMPTY"),)
    assert by_line[7].heredocs == (Heredoc("EMPTY2", fd=3),)
    assert by_line[9].heredocs == ()
    assert by_line[10].heredocs == (Heredoc("INDENT", "\tfoo\n\tbar\n"),)
    assert (by_line[10].start_line, by_line[10].end_line) == (10, 13)
    assert by_line[14].heredocs == (Heredoc("UNINDENT", "\tbaz\n\tquux\n", chomp=True),)
    assert by_line[18].heredocs == (
        Heredoc("NOEXPAND", "\tdon't expand $NAME\n", expand=False, chomp=True),
    )
    assert by_line[21].flags == ("--mount=type=cache,target=/foo",)
    assert by_line[21].heredocs == (Heredoc("MOUNT", "echo hello\n"),)
    assert by_line[24].heredocs == (
        Heredoc("FILE1", "content 1\n"),
        Heredoc("FILE2", "content 2\n"),
    )
    assert by_line[29].heredocs == (Heredoc("X", "Y\n"), Heredoc("Y", "X\n"))
    assert by_line[34].json and by_line[34].heredocs == ()
    onbuild = by_line[35]
    assert onbuild.child is not None and onbuild.child.cmd == "run"
    assert onbuild.heredocs == (Heredoc("EOF", "echo later\n"),)
    assert onbuild.end_line == 37


def test_heredoc_words() -> None:
    for word in ("<<EOF", "<<'EOF'", '<<"EOF"', "<<-EOF", "<<-'EOF'", '<<-"EOF"'):
        doc = parse_heredoc(word)
        assert doc is not None and doc.name == "EOF"
    for word in ("", "EOF", "<<", "<<-", "<EOF", "<<<EOF"):
        assert parse_heredoc(word) is None
    for word in ("<<'EOF", '<<"EOF', "<<EOF'", '<<EOF"'):
        with pytest.raises(ShellError):
            parse_heredoc(word)
    assert chomp("\thello\n\t\tworld\n") == "hello\nworld\n"


def test_unterminated_heredoc() -> None:
    with pytest.raises(DockerfileParseError, match=r"Dockerfile:2: unterminated heredoc EOF"):
        parse("FROM busybox\nRUN <<EOF\necho hi\n")


def test_directives() -> None:
    df = parse("# syntax=docker/dockerfile:1\n# check=skip=all\n#escape=`\nFROM a\n")
    assert df.directive("syntax") == "docker/dockerfile:1"
    assert df.directive("check") == "skip=all"
    assert df.escape == "`"
    with pytest.raises(DockerfileParseError, match="only one escape parser directive"):
        parse("# escape=`\n# escape=\\\nFROM a\n")
    with pytest.raises(DockerfileParseError, match="invalid escape token"):
        parse("# escape=x\nFROM a\n")


def test_directive_after_instruction_is_a_comment() -> None:
    df = parse("FROM a\n# escape=`\nRUN a \\\n b\n")
    assert df.escape == "\\"
    assert df.nodes[1].args == ("a  b",)


def test_bom_and_crlf() -> None:
    df = parse(b"\xef\xbb\xbfFROM a\r\nRUN echo \\\r\n  hi\r\n")
    assert [n.dump() for n in df.nodes] == ['from "a"', 'run "echo   hi"']


def test_comments_are_attached() -> None:
    df = parse("# base image\nFROM a\n")
    assert df.nodes[0].comments == ("base image",)


def test_warnings_for_json_lookalikes_and_empty_continuations() -> None:
    df = parse("FROM a\nCMD ['sh', '-c']\nRUN [\"ok\"]\nRUN echo \\\n\n  done\n")
    assert df.warnings == (
        "Dockerfile:2: CMD arguments look like a JSON array but are not valid JSON (strings "
        "need double quotes); they run as a shell command",
        "Dockerfile:4: empty continuation line (a future Dockerfile syntax will reject it)",
    )
