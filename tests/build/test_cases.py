"""Our Dockerfile corpus: tests/build/cases/<case>/{Dockerfile, expected|error}.

``expected`` is the typed result (stages.describe); ``error`` is the exact
message and hint of the DockerfileParseError.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.engine.build.stages import describe, load
from stackctl.errors import DockerfileParseError

CASES = sorted(p for p in (Path(__file__).parent / "cases").iterdir() if p.is_dir())


def test_corpus_size() -> None:
    assert len(CASES) >= 40
    assert any((c / "error").exists() for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path) -> None:
    data = (case / "Dockerfile").read_bytes()
    if (case / "error").exists():
        with pytest.raises(DockerfileParseError) as info:
            load(data)
        got = f"{info.value.message}\nhint: {info.value.hint}\n"
        assert got == (case / "error").read_text()
    else:
        assert describe(load(data)) == (case / "expected").read_text()
