"""Durations and byte sizes: examples from the compose docs and property tests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackctl.spec.units import UnitError, format_duration, parse_bytes, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("10", 10.0),
        (10, 10.0),
        (1.5, 1.5),
        ("1.5h", 5400.0),
        ("2h45m", 9900.0),
        ("10us", 1e-5),
        ("0", 0.0),
        ("0s", 0.0),
        (" 30s ", 30.0),
        ("1h1m1s1ms", 3661.001),
    ],
)
def test_parse_duration(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "abc", "1x", "m", "1m30", "-5s", "-1", "1 s", True])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(UnitError, match="invalid duration"):
        parse_duration(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512m", 512 * 1024**2),
        ("1g", 1024**3),
        ("1.5GB", int(1.5 * 1024**3)),
        ("100", 100),
        (100, 100),
        ("100b", 100),
        ("64K", 65536),
        ("64kb", 65536),
        ("1Gi", 1024**3),
        ("1GiB", 1024**3),
        ("2 m", 2 * 1024**2),
        ("1t", 1024**4),
    ],
)
def test_parse_bytes(text: str | int, size: int) -> None:
    assert parse_bytes(text) == size


@pytest.mark.parametrize("bad", ["", "abc", "1x", "-1", "1.2.3m", "m", "1i", True, -5])
def test_parse_bytes_rejects(bad: object) -> None:
    with pytest.raises(UnitError, match="invalid size"):
        parse_bytes(bad)  # type: ignore[arg-type]


def test_errors_are_value_errors() -> None:
    assert issubclass(UnitError, ValueError)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(90.0, "1m30s"), (0.5, "500ms"), (3600.0, "1h0m0s"), (0, "0s"), (1.5, "1.5s"), (10, "10s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59), st.integers(0, 999))
def test_duration_components_add_up(h: int, m: int, s: int, ms: int) -> None:
    text = f"{h}h{m}m{s}s{ms}ms"
    assert parse_duration(text) == pytest.approx(h * 3600 + m * 60 + s + ms / 1000)


@given(st.integers(0, 10**7))
def test_duration_round_trips_through_format(ms: int) -> None:
    seconds = ms / 1000
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


@given(st.integers(0, 10**6), st.sampled_from(["", "k", "m", "g"]), st.booleans())
def test_bytes_units_are_binary(n: int, unit: str, upper: bool) -> None:
    text = f"{n}{unit.upper() if upper else unit}"
    assert parse_bytes(text) == n * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
    if unit:
        assert parse_bytes(text + "b") == parse_bytes(text)
