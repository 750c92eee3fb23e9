"""Shell-word expansion against BuildKit's envVarTest and wordsTest vectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.engine.build.shell import Lex, ShellError

ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


def _env_vectors(conformance: Path) -> list[tuple[str, str]]:
    out = []
    for line in (conformance / "dockerfile-shell" / "envVarTest").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        platform, source, expected = (f.strip() for f in line.split("|", 2))
        if platform in ("A", "U"):
            out.append((source, expected))
    return out


def test_env_var_vectors(conformance: Path) -> None:
    vectors = _env_vectors(conformance)
    assert len(vectors) > 200
    failures = []
    for source, expected in vectors:
        try:
            got = Lex().process_word(source, ENV)
        except ShellError:
            got = "error"
        if got != expected:
            failures.append((source, expected, got))
    assert failures == []


def test_words_vectors(conformance: Path) -> None:
    env: dict[str, str] = {}
    checked = 0
    failures = []
    for line in (conformance / "dockerfile-shell" / "wordsTest").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("ENV "):
            key, _, value = line[4:].partition("=")
            env[key] = value
            continue
        source, _, expected_text = line.partition("|")
        expected_text = expected_text.lstrip(" ")
        try:
            got = Lex().process_words(source.strip(), env)
        except ShellError:
            got = ["error"]
        expected = expected_text.split(",")
        checked += 1
        if got != expected:
            failures.append((source, expected, got))
    assert checked >= 20
    assert failures == []


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("${FILE#*/}", "b/c.tar.gz"),
        ("${FILE##*/}", "c.tar.gz"),
        ("${FILE%.*}", "a/b/c.tar"),
        ("${FILE%%.*}", "a/b/c"),
        ("${FILE/b/x}", "a/x/c.tar.gz"),
        ("${FILE//[ab]/z}", "z/z/c.tzr.gz"),
        ("${UNSET-dflt}", "dflt"),
        ("${EMPTY-dflt}", ""),
        ("${EMPTY:-dflt}", "dflt"),
        ("${EMPTY+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
    ],
)
def test_bash_modifiers(word: str, expected: str) -> None:
    env = {"FILE": "a/b/c.tar.gz", "EMPTY": ""}
    assert Lex().process_word(word, env) == expected


def test_required_variable_message() -> None:
    with pytest.raises(ShellError, match="NAME: must be set"):
        Lex().process_word("${NAME:?must be set}", {})


def test_backtick_escape() -> None:
    assert Lex(escape="`").process_word("C:\\dir`$HOME", {"HOME": "x"}) == "C:\\dir$HOME"


def test_reports_used_and_unset_names() -> None:
    result = Lex().expand("$A ${B:-x} $C", {"A": "1", "C": ""})
    assert result.used == {"A", "C"}
    assert result.unset == {"B"}


def test_skip_unset_keeps_references() -> None:
    lex = Lex(skip_unset=True)
    assert lex.process_word("$A ${B} ${C:-d}", {"A": "1"}) == "1 ${B} ${C:-d}"


def test_raw_quotes_and_escapes_are_kept() -> None:
    lex = Lex(raw_quotes=True, raw_escapes=True)
    assert lex.process_words("""a 'b c' "d\\"e" f\\ g""", {}) == ["a", "'b c'", '"d\\"e"', "f\\ g"]
