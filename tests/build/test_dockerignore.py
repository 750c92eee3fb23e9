"""Docker's .dockerignore rules and the context walker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stackctl.engine.build.context import BuildContext, ContextError
from stackctl.engine.build.dockerignore import Matcher, parse_dockerignore


def test_parse_cleans_patterns() -> None:
    pats = parse_dockerignore(b"\xef\xbb\xbf# comment\n\n  /a/b/  \n!./c//d\n**/*.pyc\n")
    assert [(p.pattern, p.exclusion) for p in pats] == [
        ("a/b", False), ("c/d", True), ("**/*.pyc", False),
    ]


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        ("*.md", "README.md", True),
        ("*.md", "docs/README.md", False),  # * does not cross directories
        ("**/*.md", "docs/deep/README.md", True),
        ("**/*.md", "README.md", True),  # ** matches no directory too
        ("docs", "docs/a/b.txt", True),  # a parent matches
        ("docs/**", "docs/a/b.txt", True),
        ("?.txt", "a.txt", True),
        ("?.txt", "ab.txt", False),
        ("[ab].txt", "b.txt", True),
        ("[!ab].txt", "b.txt", True),  # Docker has no "!" negation in classes: "[^ab]"
        ("/build", "build/x", True),
        ("*.log\n!keep.log", "keep.log", False),
        ("*.log\n!keep.log", "other.log", True),
        ("!keep.log\n*.log", "keep.log", True),  # the last match wins
        ("dir\n!dir/keep", "dir/keep", False),
        ("dir\n!dir/keep", "dir/drop", True),
        ("a\\*b", "a*b", True),
        ("a\\*b", "axb", False),
        ("file.txt", "file_txt", False),  # "." is literal
        ("", "anything", False),
    ],
)
def test_matcher(patterns: str, path: str, ignored: bool) -> None:
    assert Matcher.from_text(patterns).ignored(path) is ignored


def _tree(root: Path) -> None:
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print(1)\n")
    (root / "src" / "cache.pyc").write_bytes(b"\0")
    (root / "docs").mkdir()
    (root / "docs" / "keep.md").write_text("k")
    (root / "docs" / "drop.md").write_text("d")
    (root / "Dockerfile").write_text("FROM busybox\n")
    (root / ".dockerignore").write_text("**/*.pyc\ndocs\n!docs/keep.md\nDockerfile\n")
    os.symlink("/etc", root / "etc-link")
    os.symlink("../../..", root / "up-link")


def test_walk_honours_ignore_and_never_follows_links(tmp_path: Path) -> None:
    _tree(tmp_path)
    ctx = BuildContext.open(tmp_path)
    listed = [rel for rel, _ in ctx.walk("")]
    assert listed == ["", ".dockerignore", "docs/keep.md", "etc-link", "src", "src/app.py",
                      "up-link"]


def test_resolve_stays_inside(tmp_path: Path) -> None:
    _tree(tmp_path)
    ctx = BuildContext.open(tmp_path)
    assert ctx.resolve("etc-link/passwd") == ctx.root / "etc" / "passwd"
    assert ctx.resolve("up-link/src") == ctx.root / "src"
    with pytest.raises(ContextError, match=r"forbidden path outside the build context: \.\./x"):
        ctx.clean("../x")
    assert ctx.clean("/src/../src/app.py") == "src/app.py"


def test_expand_globs(tmp_path: Path) -> None:
    _tree(tmp_path)
    ctx = BuildContext.open(tmp_path)
    assert ctx.expand("src/*.py") == ["src/app.py"]
    assert ctx.expand("src/*") == ["src/app.py"]  # the .pyc is ignored
    assert ctx.expand("docs/*.md") == ["docs/keep.md"]
    assert ctx.expand("missing") == []


def test_digest_ignores_mtime_but_not_mode(tmp_path: Path) -> None:
    _tree(tmp_path)
    ctx = BuildContext.open(tmp_path)
    first = ctx.digest(["src"])
    os.utime(tmp_path / "src" / "app.py", (1, 1))
    assert ctx.digest(["src"]) == first
    os.chmod(tmp_path / "src" / "app.py", 0o755)
    assert ctx.digest(["src"]) != first
    os.chmod(tmp_path / "src" / "app.py", 0o644)
    (tmp_path / "src" / "app.py").write_text("print(2)\n")
    assert ctx.digest(["src"]) != first


def test_dockerfile_specific_ignore_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / ".dockerignore").write_text("a.txt\n")
    special = tmp_path / "prod.Dockerfile.dockerignore"
    special.write_text("b.txt\n")
    ctx = BuildContext.open(tmp_path, ignore_file=special)
    assert ctx.expand("a.txt") == ["a.txt"] and ctx.expand("b.txt") == []


def test_bad_pattern_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("# fine\n*.log\nsrc/[a-\n")
    with pytest.raises(ContextError, match=r"\.dockerignore:3: syntax error in pattern 'src/\[a-'"):
        BuildContext.open(tmp_path)
