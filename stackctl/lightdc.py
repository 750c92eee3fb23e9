"""Dataclasses without the code generation: the subset of ``dataclasses`` stackctl uses.

``@dataclasses.dataclass`` writes source for ``__init__``, ``__repr__``,
``__eq__``, ``__hash__`` and the frozen ``__setattr__`` of every class and
``exec``s it: about 1.2 ms per class on the machines we measure on, and
``import dataclasses`` pulls in ``inspect``, ``ast`` and ``dis`` (~15 ms, ~1.2 MiB
resident). ``stackctl run`` defines some forty such classes on its way to the
container, and every monitor holds them. Here the same methods are generic
functions that read the class's field table, so defining a class costs a few
microseconds; building an instance costs a little more than with generated code
(a loop over the fields), which no path of ours notices.

Same names and semantics as ``dataclasses`` for what we use: ``dataclass(frozen,
eq, order)``, ``field(default, default_factory, compare, repr, init)``,
``replace``, ``fields``, ``asdict``, ``is_dataclass``, ``FrozenInstanceError``,
``__post_init__``, inheritance of fields, ``ClassVar`` annotations skipped, and
methods a class defines itself (``__eq__``, ``__hash__``, ``__repr__``) kept.
Not supported (not used): ``slots``, ``kw_only``, ``InitVar``, ``unsafe_hash``.
Type checkers see ``dataclass`` as a dataclass transform (PEP 681).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_kw: object) -> object:
        return lambda f: f


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

_FIELDS = "__lightdc_fields__"  # every field, in definition order (bases first)
_INIT = "__lightdc_init__"  # the fields __init__ takes
_KEY = "__lightdc_key__"  # the names compared (eq, order, hash)


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen dataclass (as ``dataclasses``')."""


class Field:
    __slots__ = ("compare", "default", "default_factory", "init", "name", "repr")

    def __init__(self, default: Any, default_factory: Any, init: bool, repr: bool,
                 compare: bool) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r})"


def field(*, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING,
          init: bool = True, repr: bool = True, compare: bool = True) -> Any:
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory, init, repr, compare)


@dataclass_transform(field_specifiers=(field, Field))
def dataclass(cls: Any = None, /, *, frozen: bool = False, eq: bool = True,
              order: bool = False) -> Any:
    def wrap(cls: type[T]) -> type[T]:
        _process(cls, frozen=frozen, eq=eq, order=order)
        return cls

    return wrap if cls is None else wrap(cls)


def _is_classvar(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))


def _process(cls: Any, *, frozen: bool, eq: bool, order: bool) -> None:
    table: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in base.__dict__.get(_FIELDS, ()):
            table[f.name] = f
    # the class's own annotations, unevaluated (inspect.get_annotations: ~10 ms import)
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
        if _is_classvar(annotation):
            continue
        value = cls.__dict__.get(name, MISSING)
        if isinstance(value, Field):
            f = value
            if f.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        else:
            f = Field(value, MISSING, True, True, True)
        f.name = name
        table[name] = f
    fields_ = tuple(table.values())
    setattr(cls, _FIELDS, fields_)
    setattr(cls, _INIT, tuple(f for f in fields_ if f.init))
    setattr(cls, _KEY, tuple(f.name for f in fields_ if f.compare))
    cls.__match_args__ = tuple(f.name for f in fields_ if f.init)  # type: ignore[misc]
    own = cls.__dict__
    if "__init__" not in own:
        cls.__init__ = _init
    if "__repr__" not in own:
        cls.__repr__ = _repr
    if eq and "__eq__" not in own:
        cls.__eq__ = _eq
    if "__hash__" not in own or own["__hash__"] is None:
        if eq and frozen:
            cls.__hash__ = _hash
        elif eq:
            cls.__hash__ = None  # mutable and compared by value: unhashable
    if order:
        cls.__lt__, cls.__le__, cls.__gt__, cls.__ge__ = _lt, _le, _gt, _ge
    if frozen:
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = type(self)
    init_fields: tuple[Field, ...] = getattr(cls, _INIT)
    if len(args) > len(init_fields):
        raise TypeError(f"{cls.__name__}.__init__() takes {len(init_fields) + 1} positional "
                        f"arguments but {len(args) + 1} were given")
    put = object.__setattr__
    for f, value in zip(init_fields, args, strict=False):
        if f.name in kwargs:
            raise TypeError(f"{cls.__name__}.__init__() got multiple values for argument "
                            f"'{f.name}'")
        put(self, f.name, value)
    for f in init_fields[len(args):]:
        value = kwargs.pop(f.name, MISSING)
        if value is MISSING:
            value = _default(cls, f)
        put(self, f.name, value)
    if kwargs:
        raise TypeError(f"{cls.__name__}.__init__() got an unexpected keyword argument "
                        f"'{next(iter(kwargs))}'")
    for f in getattr(cls, _FIELDS):
        if not f.init:
            put(self, f.name, _default(cls, f))
    post = getattr(self, "__post_init__", None)
    if post is not None:
        post()


def _default(cls: type, f: Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise TypeError(f"{cls.__name__}.__init__() missing 1 required argument: '{f.name}'")


def _repr(self: Any) -> str:
    parts = ", ".join(f"{f.name}={getattr(self, f.name)!r}"
                      for f in getattr(type(self), _FIELDS) if f.repr)
    return f"{type(self).__qualname__}({parts})"


def _key(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name in getattr(type(self), _KEY))


def _eq(self: Any, other: object) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return self is other or _key(self) == _key(other)


def _hash(self: Any) -> int:
    return hash(_key(self))


def _lt(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _key(self) < _key(other)


def _le(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _key(self) <= _key(other)


def _gt(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _key(self) > _key(other)


def _ge(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _key(self) >= _key(other)


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field '{name}'")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field '{name}'")


def is_dataclass(obj: object) -> bool:
    cls = obj if isinstance(obj, type) else type(obj)
    return hasattr(cls, _FIELDS)


def fields(obj: object) -> tuple[Field, ...]:
    cls = obj if isinstance(obj, type) else type(obj)
    try:
        return getattr(cls, _FIELDS)  # type: ignore[no-any-return]
    except AttributeError:
        pass
    if hasattr(cls, "__dataclass_fields__"):  # a standard library dataclass
        import dataclasses

        return dataclasses.fields(cls)  # type: ignore[return-value]
    raise TypeError("must be called with a dataclass type or instance")


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of ``obj`` with ``changes`` (``dataclasses.replace``)."""
    for f in fields(obj):
        if not f.init:
            if f.name in changes:
                raise ValueError(f"field {f.name} is declared with init=False, "
                                 "it cannot be specified with replace()")
        elif f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    return type(obj)(**changes)


_ATOMS = (str, int, float, bool, bytes, type(None))


def asdict(obj: object) -> dict[str, Any]:
    """``dataclasses.asdict``: nested dataclasses, lists, tuples and dicts become
    plain dicts, lists, tuples and dicts; other values are deep-copied."""
    if hasattr(type(obj), "__dataclass_fields__"):  # a standard library dataclass
        import dataclasses

        return dataclasses.asdict(obj)  # type: ignore[call-overload, no-any-return]
    if not is_dataclass(obj) or isinstance(obj, type):
        raise TypeError("asdict() should be called on dataclass instances")
    return _asdict(obj)  # type: ignore[no-any-return]


def _asdict(value: Any) -> Any:
    if isinstance(value, _ATOMS):
        return value
    if hasattr(type(value), _FIELDS):
        return {f.name: _asdict(getattr(value, f.name)) for f in getattr(type(value), _FIELDS)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
        return type(value)(*(_asdict(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_asdict(v) for v in value)
    if isinstance(value, dict):
        return type(value)((_asdict(k), _asdict(v)) for k, v in value.items())
    import copy

    return copy.deepcopy(value)


__all__ = ["MISSING", "Field", "FrozenInstanceError", "asdict", "dataclass", "field", "fields",
           "is_dataclass", "replace"]
