"""Dockerfile text -> AST with line ranges, in BuildKit's shape.

The parser only cuts text: it finds parser directives (``# syntax``,
``# escape``, ``# check``), joins continuation lines, drops comments, splits
off ``--flags``, reads heredoc bodies, and splits each instruction's
arguments the way BuildKit does for that instruction (JSON array or shell
string, whitespace list, ``key=value`` pairs). It never expands variables or
removes quotes: that is the job of ``shell.Lex`` at build time, so the AST
dump matches BuildKit's golden files byte for byte.

    Dockerfile(nodes=(Node(cmd="from", args=("busybox",), start_line=1, ...), ...))

Errors are ``DockerfileParseError`` naming the file and line.
"""

from __future__ import annotations

import re

from stackctl.engine.build import _args, _lines
from stackctl.engine.build.gostr import quote, quote_list
from stackctl.engine.build.heredoc import Heredoc, heredocs_in_line, read_heredoc_bodies
from stackctl.engine.build.shell import ShellError
from stackctl.errors import DockerfileParseError
from stackctl.lightdc import dataclass, field, replace

__all__ = ["Directive", "Dockerfile", "Node", "parse", "parse_file"]

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_VALID_DIRECTIVES = frozenset({"escape", "syntax", "check"})
_HEREDOC_COMMANDS = frozenset({"add", "copy", "run"})


@dataclass(frozen=True)
class Directive:
    name: str
    value: str
    line: int


@dataclass(frozen=True)
class Node:
    """One instruction. ``args`` is BuildKit's ``Next`` chain; ONBUILD keeps
    its trigger in ``child``."""

    cmd: str  # lower case: "run"
    original: str  # the logical line, continuations joined
    args: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    json: bool = False
    child: Node | None = None
    heredocs: tuple[Heredoc, ...] = ()
    start_line: int = 0
    end_line: int = 0
    comments: tuple[str, ...] = ()

    def dump(self) -> str:
        out = self.cmd
        if self.flags:
            out += " " + quote_list(self.flags)
        if self.child is not None:
            out += " (" + self.child.dump() + ")"
        for arg in self.args:
            out += " " + quote(arg)
        return out.strip()


@dataclass(frozen=True)
class Dockerfile:
    nodes: tuple[Node, ...]
    escape: str = "\\"
    directives: tuple[Directive, ...] = ()
    warnings: tuple[str, ...] = ()
    file: str = "Dockerfile"

    @property
    def start_line(self) -> int:
        return self.nodes[0].start_line

    @property
    def end_line(self) -> int:
        return self.nodes[-1].end_line

    def directive(self, name: str) -> str | None:
        for d in self.directives:
            if d.name == name:
                return d.value
        return None

    def dump(self) -> str:
        """BuildKit's ``Node.Dump()`` of the root (the golden-file format)."""
        return "".join("(" + n.dump() + ")\n" for n in self.nodes).strip()


@dataclass
class _Directives:
    escape: str = "\\"
    done: bool = False
    seen: dict[str, Directive] = field(default_factory=dict)

    def feed(self, line: str, lineno: int, file: str) -> None:
        """Look for a parser directive; the first other line ends the search."""
        if self.done:
            return
        match = _DIRECTIVE.match(line)
        if match is None or match.group(1).lower() not in _VALID_DIRECTIVES:
            self.done = True
            return
        name, value = match.group(1).lower(), match.group(2)
        if name in self.seen:
            raise DockerfileParseError(
                f"only one {name} parser directive can be used", file=file, line=lineno,
                hint="remove the repeated '# " + name + "=' line",
            )
        if name == "escape" and value not in ("\\", "`"):
            raise DockerfileParseError(
                f"invalid escape token '{value}' does not match ` or \\", file=file,
                line=lineno, hint="use '# escape=\\' (the default) or '# escape=`'",
            )
        if name == "escape":
            self.escape = value
        self.seen[name] = Directive(name, value, lineno)


def parse_file(path: str, *, name: str | None = None) -> Dockerfile:
    with open(path, "rb") as fh:
        data = fh.read()
    return parse(data, file=name or path)


def parse(source: str | bytes, *, file: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text (bytes are decoded as UTF-8, bad bytes kept)."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", "surrogateescape")
    source = source.removeprefix("\ufeff")
    lines = _lines.split_keep_ends(source)
    directives = _Directives()
    nodes: list[Node] = []
    warnings: list[str] = []
    comments: list[str] = []
    i = 0  # index of the next physical line; line numbers are 1-based
    while i < len(lines):
        raw = lines[i]
        if _lines.is_comment(raw):
            comments.append(raw.strip()[1:].strip())
        text = _lines.trim_newline(raw).lstrip()
        directives.feed(text, i + 1, file)
        text = _lines.trim_comment(text)
        i += 1
        start = i
        cont = _lines.continuation(directives.escape)
        line, ended = _lines.trim_continuation(text, cont)
        if ended and line == "":
            continue
        empty_continuation = False
        while not ended and i < len(lines):
            raw = lines[i]
            text = _lines.trim_comment(_lines.trim_newline(raw))
            i += 1
            if _lines.is_comment(raw):
                continue  # comment lines inside a continuation are dropped
            if not text.strip():
                empty_continuation = True
                continue
            more, ended = _lines.trim_continuation(text, cont)
            line += more
        if empty_continuation:
            warnings.append(f"{file}:{start}: empty continuation line (a future Dockerfile "
                            "syntax will reject it)")
        node = _node_from_line(line, directives.escape, file, start, i, tuple(comments))
        if _looks_like_bad_json(node):
            warnings.append(
                f"{file}:{start}: {node.cmd.upper()} arguments look like a JSON array but are "
                "not valid JSON (strings need double quotes); they run as a shell command")
        try:
            heredoc_names = _heredoc_candidates(node)
        except ShellError as exc:
            raise DockerfileParseError(
                f"invalid heredoc: {exc}", file=file, line=start,
                hint="close the quotes around the heredoc delimiter: <<'EOF'",
            ) from None
        if heredoc_names:
            docs, i = read_heredoc_bodies(heredoc_names, lines, i, file=file, start=start)
            node = _with_heredocs(node, docs, i)
        nodes.append(node)
        comments = []
    if not nodes:
        raise DockerfileParseError(
            "file with no instructions", file=file, line=len(lines) or None,
            hint="a Dockerfile needs at least a FROM instruction",
        )
    return Dockerfile(
        tuple(nodes),
        escape=directives.escape,
        directives=tuple(directives.seen.values()),
        warnings=tuple(warnings),
        file=file,
    )


_JSON_FORMS = frozenset({"cmd", "entrypoint", "run", "shell", "copy", "add", "volume"})


def _looks_like_bad_json(node: Node) -> bool:
    if node.json or node.cmd not in _JSON_FORMS or not node.args:
        return False
    text = " ".join(node.args).strip()
    return text.startswith("[") and text.endswith("]")


def _heredoc_candidates(node: Node) -> list[Heredoc]:
    target = node.child if node.cmd == "onbuild" and node.child is not None else node
    if target.cmd not in _HEREDOC_COMMANDS or target.json:
        return []
    return heredocs_in_line(node.original)


def _with_heredocs(node: Node, docs: tuple[Heredoc, ...], end: int) -> Node:
    child = node.child
    if child is not None:
        child = replace(child, heredocs=docs, end_line=end)
    return replace(node, heredocs=docs, child=child, end_line=end)


def _node_from_line(
    line: str, escape: str, file: str, start: int, end: int, comments: tuple[str, ...] = ()
) -> Node:
    cmd, flags, rest = _args.split_command(line)
    try:
        args, is_json, child_line = _args.split_arguments(cmd, rest, escape)
    except _args.ArgError as exc:
        raise DockerfileParseError(str(exc), file=file, line=start, hint=exc.hint) from None
    child = None
    if child_line is not None:
        child = _node_from_line(child_line, escape, file, start, end)
    return Node(
        cmd=cmd,
        original=line,
        args=tuple(args),
        flags=tuple(flags),
        json=is_json,
        child=child,
        start_line=start,
        end_line=end,
        comments=comments,
    )
