"""stackctl.lightdc behaves as the standard library's dataclasses for what we use.

Each case defines the same class with both decorators and checks they agree.
"""

from __future__ import annotations

import dataclasses
import pickle
from typing import ClassVar

import pytest

from stackctl import lightdc


def _pair(body: dict[str, object], annotations: dict[str, str], **opts: bool
          ) -> tuple[type, type]:
    def make(deco: object, fld: object) -> type:
        ns = {k: (fld(**v) if isinstance(v, dict) else v)  # type: ignore[operator]
              for k, v in body.items()}
        ns["__annotations__"] = dict(annotations)
        return deco(**opts)(type("Rec", (), ns))  # type: ignore[operator, no-any-return]

    return make(dataclasses.dataclass, dataclasses.field), make(lightdc.dataclass, lightdc.field)


ANN = {"a": "int", "b": "str", "c": "list[int]", "d": "dict[str, int]"}
BODY = {"b": "x", "c": {"default_factory": list}, "d": {"default_factory": dict,
                                                         "compare": False}}


@pytest.mark.parametrize("frozen", [True, False])
def test_init_repr_eq_hash_agree_with_dataclasses(frozen: bool) -> None:
    std, light = _pair(BODY, ANN, frozen=frozen)
    for args, kwargs in [((1,), {}), ((1, "y"), {}), ((), {"a": 2, "c": [1]}),
                         ((3,), {"d": {"k": 1}})]:
        s, li = std(*args, **kwargs), light(*args, **kwargs)
        assert repr(s) == repr(li)
        assert li == light(*args, **kwargs)
        assert (li == light(9)) == (s == std(9))
        if frozen:
            assert hash(light(1, "x", (), {"other": 2})) == hash(light(1, "x", (), {}))
            assert hash(light(1, "x", (), {})) == hash(std(1, "x", (), {}))
        else:
            with pytest.raises(TypeError):
                hash(li)
    assert light(1).c is not light(1).c  # a fresh default per instance


def test_bad_calls_raise_type_error_as_dataclasses() -> None:
    std, light = _pair(BODY, ANN)
    for args, kwargs in [((), {}), ((1, "x", [], {}, 5), {}), ((1,), {"a": 2}),
                         ((1,), {"zzz": 1})]:
        with pytest.raises(TypeError):
            std(*args, **kwargs)
        with pytest.raises(TypeError):
            light(*args, **kwargs)


def test_frozen_refuses_assignment_and_deletion() -> None:
    _std, light = _pair(BODY, ANN, frozen=True)
    rec = light(1)
    with pytest.raises(lightdc.FrozenInstanceError):
        rec.a = 2
    with pytest.raises(AttributeError):
        del rec.a
    mutable = _pair(BODY, ANN)[1](1)
    mutable.a = 5
    assert mutable.a == 5


def test_order_compares_fields_in_turn() -> None:
    _std, light = _pair({}, {"x": "int", "y": "int"}, frozen=True, order=True)
    assert sorted([light(2, 1), light(1, 5), light(1, 2)]) == [light(1, 2), light(1, 5),
                                                               light(2, 1)]


@lightdc.dataclass(frozen=True)
class Base:
    a: int
    b: int = 2
    kind: ClassVar[str] = "base"


@lightdc.dataclass(frozen=True)
class Child(Base):
    c: tuple[Base, ...] = ()
    hidden: int = lightdc.field(default=0, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("a must not be negative")


@lightdc.dataclass(frozen=True, eq=False)
class ByIdentity:
    a: int


def test_inheritance_classvar_post_init_and_identity_eq() -> None:
    ch = Child(1, c=(Base(5),))
    assert [f.name for f in lightdc.fields(Child)] == ["a", "b", "c", "hidden"]
    assert repr(ch) == "Child(a=1, b=2, c=(Base(a=5, b=2),))"
    assert Child.kind == "base" and "kind" not in Child.__match_args__
    assert ch == Child(1, c=(Base(5),), hidden=7)  # hidden is not compared
    assert ch != Child(1)
    assert ch != Base(1)  # another class is never equal
    with pytest.raises(ValueError):
        Child(-1)
    x = ByIdentity(1)
    assert x != ByIdentity(1)
    assert x == x
    assert {x: 1}[x] == 1


def test_replace_asdict_and_pickle() -> None:
    ch = Child(1, c=(Base(5),))
    moved = lightdc.replace(ch, b=9)
    assert (moved.a, moved.b, moved.c) == (1, 9, (Base(5),)) and ch.b == 2
    with pytest.raises(TypeError):
        lightdc.replace(ch, nope=1)
    assert lightdc.asdict(ch) == {"a": 1, "b": 2, "c": ({"a": 5, "b": 2},), "hidden": 0}
    assert pickle.loads(pickle.dumps(ch)) == ch
    assert lightdc.is_dataclass(ch) and not lightdc.is_dataclass(1)


def test_standard_dataclasses_are_accepted_by_replace_fields_asdict() -> None:
    @dataclasses.dataclass(frozen=True)
    class Std:
        a: int
        b: int = 0

    assert lightdc.replace(Std(1), b=3) == Std(1, 3)
    assert [f.name for f in lightdc.fields(Std)] == ["a", "b"]
    assert lightdc.asdict(Std(1)) == {"a": 1, "b": 0}

