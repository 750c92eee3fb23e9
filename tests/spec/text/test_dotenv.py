"""The .env parser against compose-go's dotenv fixtures, plus our own edge cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackctl.errors import SpecError
from stackctl.spec.dotenv import DotenvError, parse_dotenv, read_dotenv


def _cases(conformance: Path) -> list[tuple[str, dict[str, Any]]]:
    expected = json.loads((conformance / "compose-loader/dotenv/expected.json").read_text())
    out = []
    for name, spec in expected.items():
        if name.startswith("_") or name == "custom.format":
            continue
        for i, case in enumerate(spec if isinstance(spec, list) else [spec]):
            out.append((f"{name}#{i}", case))
    return out


def test_dotenv_fixtures(conformance: Path) -> None:
    base = conformance / "compose-loader/dotenv"
    cases = _cases(conformance)
    assert len(cases) >= 12
    for ident, case in cases:
        name = ident.split("#")[0]
        env: dict[str, str] = case.get("env", {})
        if case.get("expect_error"):
            with pytest.raises(SpecError):
                read_dotenv(base / name, env.get)
            continue
        got = read_dotenv(base / name, env.get)
        if case.get("exact"):
            assert got == case["expect"], ident
        else:
            for key, value in case.get("expect", {}).items():
                assert got.get(key) == value, (ident, key)
        for key in case.get("expect_absent", []):
            assert key not in got, (ident, key)


def test_invalid_fixture_error_text(conformance: Path) -> None:
    text = (conformance / "compose-loader/dotenv/invalid1.env").read_text()
    with pytest.raises(DotenvError) as info:
        parse_dotenv(text)
    assert str(info.value) == "line 7: key cannot contain a space"
    path = conformance / "compose-loader/dotenv/invalid1.env"
    with pytest.raises(SpecError) as spec_info:
        read_dotenv(path)
    assert str(spec_info.value) == f"{path}:7: key cannot contain a space"


def test_bom_is_skipped(conformance: Path) -> None:
    raw = (conformance / "compose-loader/dotenv/utf8-bom.env").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert next(iter(read_dotenv(conformance / "compose-loader/dotenv/utf8-bom.env"))) == "OPTION_A"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=1\r\nB=2\r\n", {"A": "1", "B": "2"}),
        ('A="x\\ty\\\\z\\"q"\n', {"A": 'x\ty\\z"q'}),
        ('A="\\$HOME"\nB=$$HOME\n', {"A": "$HOME", "B": "$HOME"}),
        ("A='$HOME ${X}'\n", {"A": "$HOME ${X}"}),
        ("A=a#b\n", {"A": "a#b"}),
        ("A=a #b\n", {"A": "a"}),
        ('A="a # b" # c\n', {"A": "a # b"}),
        ("A: yaml style\n", {"A": "yaml style"}),
        ("export   A=1\nexported=2\n", {"A": "1", "exported": "2"}),
        ("A=1\nB=${A}-${C:-c}\n", {"A": "1", "B": "1-c"}),
        ("A=last", {"A": "last"}),
        ("  # indented comment\n\n\nA=1", {"A": "1"}),
        ('A="\\0101"\n', {"A": "A"}),
    ],
)
def test_edge_cases(text: str, expected: dict[str, str]) -> None:
    assert parse_dotenv(text) == expected


def test_process_environment_wins_in_expansion_but_not_for_the_key() -> None:
    got = parse_dotenv("A=1\nB=$A\n", {"A": "env"}.get)
    assert got == {"A": "1", "B": "env"}


def test_missing_variables_are_reported() -> None:
    missing: list[str] = []
    assert parse_dotenv("A=${NOPE}\n", None, missing.append) == {"A": ""}
    assert missing == ["NOPE"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A=1\nB C=2\n", "line 2: key cannot contain a space"),
        ("A=1\n\nB!=2\n", 'line 3: unexpected character "!" in variable name "B!=2"'),
        ("A=1\nB='open\nstill\n", "line 2: unterminated quoted value 'open"),
        ("A=${X:?need X}\n", "line 1: expanding variables: required variable X is missing"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(DotenvError) as info:
        parse_dotenv(text)
    assert str(info.value).startswith(message)


def test_read_dotenv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"env file .* not found"):
        read_dotenv(tmp_path / "nope.env")


def test_raw_format(tmp_path: Path) -> None:
    path = tmp_path / "raw.env"
    path.write_text("# c\nA='quoted' $X\nB=x=y\n")
    assert read_dotenv(path, format="raw") == {"A": "'quoted' $X", "B": "x=y"}


_key = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,10}", fullmatch=True)


@given(st.dictionaries(_key, st.text(alphabet=st.characters(
    blacklist_characters="'\\\x00", blacklist_categories=("Cs",)), max_size=20), max_size=5))
def test_single_quoted_values_are_verbatim(env: dict[str, str]) -> None:
    text = "".join(f"{k}='{v}'\n" for k, v in env.items())
    assert parse_dotenv(text) == env


@given(st.dictionaries(_key, st.from_regex(r"[A-Za-z0-9_./:@%+=-]{1,20}", fullmatch=True),
                       max_size=5))
def test_plain_values_round_trip(env: dict[str, str]) -> None:
    text = "".join(f"export {k} = {v}  # note\n" for k, v in env.items())
    assert parse_dotenv(text) == env


# compose-go dotenv TestParsing / TestExpanding (godotenv_test.go), line -> (key, value).
_GODOTENV_CASES = [
    ("FOO=bar", "FOO", "bar"),
    ("FOO =bar", "FOO", "bar"),
    ("FOO= bar", "FOO", "bar"),
    ('FOO="bar"', "FOO", "bar"),
    ("FOO='bar'", "FOO", "bar"),
    ('FOO="escaped\\"bar"', "FOO", 'escaped"bar'),
    ('FOO="\\"quoted\\""', "FOO", '"quoted"'),
    ("FOO=\"'d'\"", "FOO", "'d'"),
    ("OPTION_A: 1", "OPTION_A", "1"),
    ("OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"),
    ("OPTION_A=1:B", "OPTION_A", "1:B"),
    ("export OPTION_A=2", "OPTION_A", "2"),
    ("export OPTION_B='\\n'", "OPTION_B", "\\n"),
    ("export exportFoo=2", "exportFoo", "2"),
    ("exportFOO=2", "exportFOO", "2"),
    ("export_FOO =2", "export_FOO", "2"),
    ("export.FOO= 2", "export.FOO", "2"),
    ("export\tOPTION_A=2", "OPTION_A", "2"),
    ("  export OPTION_A=2", "OPTION_A", "2"),
    ("\texport OPTION_A=2", "OPTION_A", "2"),
    ('export OPTION_A="export A"', "OPTION_A", "export A"),
    ('FOO="bar\\nbaz"', "FOO", "bar\nbaz"),
    ("FOO=a\\tb", "FOO", "a\\tb"),
    ('FOO="a\\tb"', "FOO", "a\tb"),
    ('KEY="Z\\aZ\\bZ\\fZ\\nZ\\rZ\\tZ\\vZ\\\\Z\\0123Z"', "KEY", "Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\ZSZ"),
    ("FOO.BAR=foobar", "FOO.BAR", "foobar"),
    ("FOO=foobar=", "FOO", "foobar="),
    ("FOO=bar ", "FOO", "bar"),
    ("FOO=bar # this is foo", "FOO", "bar"),
    ("FOO=bar #this is foo", "FOO", "bar"),
    ("FOO=bar #", "FOO", "bar"),
    ("FOO=123#not-an-inline-comment", "FOO", "123#not-an-inline-comment"),
    ('FOO="bar#baz"', "FOO", "bar#baz"),
    ('FOO="bar#baz"#', "FOO", "bar#baz"),
    ('FOO="bar#baz" # comment', "FOO", "bar#baz"),
    ("FOO='bar#baz' # comment", "FOO", "bar#baz"),
    ('FOO="bar#baz#bang" # comment', "FOO", "bar#baz#bang"),
    ('FOO="bar\\n\\ b\\az"', "FOO", "bar\n\\ b\az"),
    ('FOO="bar\\\\\\n\\ b\\az"', "FOO", "bar\\\n\\ b\az"),
    ('FOO="bar\\\\r\\ b\\az"', "FOO", "bar\\r\\ b\az"),
    ('FOO="bar\\nbaz\\\\"', "FOO", "bar\nbaz\\"),
    ('="value"', "", "value"),
    (" KEY =value", "KEY", "value"),
    ("\tKEY=value", "KEY", "value"),
    ('KEY="\\0123"', "KEY", "S"),
    ('KEY="\\x07"', "KEY", "\\x07"),
    ('KEY="\\u12e4"', "KEY", "\\u12e4"),
    ("FOO=test\nBAR=${FOO}bar", "BAR", "testbar"),
    ('FOO=test\nBAR="quote $FOO"', "BAR", "quote test"),
    ("BAR='quote $FOO'", "BAR", "quote $FOO"),
    ('FOO="foo\\$BAR"', "FOO", "foo$BAR"),
    ('FOO="foo\\${BAR}"', "FOO", "foo${BAR}"),
    ('FOO=test\nBAR="foo\\${FOO} ${FOO}"', "BAR", "foo${FOO} test"),
    ('TEST_URLS="stratum+tcp://a:3333\nstratum+tcp://a:443"', "TEST_URLS",
     "stratum+tcp://a:3333\nstratum+tcp://a:443"),
]


@pytest.mark.parametrize(("text", "key", "value"), _GODOTENV_CASES)
def test_godotenv_parsing(text: str, key: str, value: str) -> None:
    assert parse_dotenv(text)[key] == value


@pytest.mark.parametrize(
    "text", ['KEY="', 'KEY="value', 'KEY="value\\"', "KEY=\"value'", "KEY='", "KEY='value",
             "KEY='value\\'", "KEY='value\""])
def test_unterminated_quotes(text: str) -> None:
    with pytest.raises(DotenvError, match="unterminated quoted value"):
        parse_dotenv(text)


def test_bad_line_is_an_error() -> None:
    with pytest.raises(DotenvError, match="unexpected character"):
        parse_dotenv("lol$wut")
