"""Whatever the data, loading ends in a Project or a SpecError, never a crash."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackctl.errors import SpecError
from stackctl.spec.models_service import Service
from stackctl.spec.options import LoadOptions, Positions, RawProject
from stackctl.spec.project import project_from_raw

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=False),
    st.sampled_from(
        [
            "",
            "80",
            "8080:80",
            "a:b:c",
            "./x:/y:ro",
            "1m",
            "CMD",
            "x=y",
            "$V",
            "service:web",
            "0440",
            "-1",
            "true",
            "host:1.2.3.4",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                ["a", "soft", "hard", "target", "source", "test", "condition", "x-e", "limits"]
            ),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=8,
)
keys = st.sampled_from(sorted(set(Service.model_fields) - {"extensions"}))


def _load(service: dict[str, Any], interpolate: bool) -> None:
    raw = RawProject(
        name="fuzz",
        working_dir="/nonexistent",
        files=("compose.yaml",),
        environment={},
        data={"services": {"web": service, "db": {"image": "x"}}},
        positions=Positions(),
    )
    try:
        project_from_raw(
            raw, LoadOptions(interpolate=interpolate, environ={}), read_env_file=lambda *_: {}
        )
    except SpecError as exc:
        assert str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, values, max_size=4), st.booleans())
def test_any_service_data_loads_or_fails_cleanly(service: dict[str, Any], interp: bool) -> None:
    _load({"image": "busybox", **service}, interp)
