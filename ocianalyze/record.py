"""Records: the package's value classes (slotted, frozen by default), made at import in a
fraction of what ``dataclasses`` costs there.

Why not ``dataclasses``: every run of the command line creates some 20-30 classes before it
reads a byte. ``dataclasses`` imports ``inspect`` (~6 ms) and compiles several generated
methods for each class (a ``frozen=True, slots=True`` dataclass costs ~0.6-0.8 ms to create);
``record`` compiles one small block per class (~0.05 ms) and imports nothing. msgspec
``Struct`` classes are cheaper still to create, but importing msgspec costs ~30 ms (it loads
``typing_extensions``, ``inspect``, ``datetime``, ``decimal``): more than it saves.
(benchmarks/README.md, start-up rows, gives the measurements.)

What a record is: the annotated class attributes, in order, are its fields (a ``ClassVar``
annotation is not one); a value after a field is its default, ``field(default_factory=f)``
a default made per instance. ``record`` gives the class ``__slots__``, ``__init__`` (calling
``__post_init__`` if the class defines one), ``__repr__``, ``__eq__`` (same class, equal
fields), and, when frozen, ``__hash__`` and an ``__setattr__``/``__delattr__`` that raise
:class:`FrozenInstanceError`; instances pickle by their fields. Type checkers read the
decorator through PEP 681 (``dataclass_transform``), as they read a dataclass.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:  # typing has it from 3.11 only; type checkers know it from here
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: object) -> Callable[[_T], _T]:
        """At run time, a marker for type checkers only: it changes nothing."""
        return lambda f: f


__all__ = ["FrozenInstanceError", "astuple", "field", "fields", "is_record", "record", "replace"]

_T = TypeVar("_T")
_FIELDS = "__record_fields__"
_MISSING = object()  # "no value given" for a field with a default_factory


class FrozenInstanceError(AttributeError):
    """Raised on assigning to, or deleting, a field of a frozen record."""


class _Factory:
    """A default made anew for each instance (``field(default_factory=list)``)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], _T]) -> _T:
    """A field whose default is ``default_factory()``, called for each instance."""
    return _Factory(default_factory)  # type: ignore[return-value]


def _is_classvar(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return str(text).split("[", 1)[0].rsplit(".", 1)[-1] == "ClassVar"


def _init_source(names: list[str], defaults: dict[str, object], post: bool) -> str:
    """``__init__``: each field stored through its slot's own setter (``_set_<name>``),
    which a frozen ``__setattr__`` does not see."""
    params, body = ["self"], []
    for name in names:
        if name not in defaults:
            params.append(name)
        elif isinstance(defaults[name], _Factory):
            params.append(f"{name}=_MISSING")
            body.append(f"    if {name} is _MISSING: {name} = _default_{name}.make()")
        else:
            params.append(f"{name}=_default_{name}")
    body += [f"    _set_{name}(self, {name})" for name in names]
    if post:
        body.append("    self.__post_init__()")
    return f"def __init__({', '.join(params)}) -> None:\n" + "\n".join(body or ["    pass"])


def _values(self: Any) -> tuple[object, ...]:
    return self.__record_values__(self)  # type: ignore[no-any-return]


def _repr(self: Any) -> str:
    pairs = zip(self.__record_fields__, _values(self), strict=True)
    shown = ", ".join(f"{n}={v!r}" for n, v in pairs)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: object) -> object:  # bool, or NotImplemented for another class
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _reduce(self: Any) -> tuple[type, tuple[object, ...]]:
    return (self.__class__, _values(self))


def _hash(self: Any) -> int:
    return hash(_values(self))


def _frozen_setattr(self: Any, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getter(names: list[str]) -> Callable[[object], tuple[object, ...]]:
    """The fields' values as one tuple, read in C (``attrgetter`` returns a bare value for
    one name, and the empty tuple needs no getter)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _build(cls: type, frozen: bool) -> type:
    # the class's own annotations, as strings (PEP 563); inspect is what we avoid importing
    annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    names = [n for n, a in annotations.items() if not _is_classvar(a)]
    body = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    defaults = {n: body.pop(n) for n in names if n in body}
    seen_default = False
    for n in names:  # as for a function's parameters: no required field after a default
        if n in defaults:
            seen_default = True
        elif seen_default:
            raise TypeError(f"{cls.__qualname__}: field {n!r} without a default follows one with")
    body["__slots__"] = tuple(names)
    body[_FIELDS] = tuple(names)
    new = type(cls.__name__, cls.__bases__, body)
    ns: dict[str, Any] = {"_MISSING": _MISSING}
    ns.update({f"_default_{n}": v for n, v in defaults.items()})
    ns.update({f"_set_{n}": getattr(new, n).__set__ for n in names})
    src = _init_source(names, defaults, hasattr(new, "__post_init__"))
    # Only __init__ is compiled for each class (its signature is the fields'); the other
    # methods are shared and read the values through one C getter.
    exec(compile(src, f"<record {cls.__qualname__}>", "exec"), ns)
    _attach(new, "__init__", ns["__init__"])
    new.__record_values__ = staticmethod(_getter(names))  # type: ignore[attr-defined]
    for name, fn in (("__repr__", _repr), ("__eq__", _eq), ("__reduce__", _reduce)):
        setattr(new, name, fn)
    if frozen:
        new.__hash__ = _hash  # type: ignore[assignment]
        new.__setattr__ = _frozen_setattr  # type: ignore[assignment]
        new.__delattr__ = _frozen_delattr  # type: ignore[assignment]
    else:
        new.__hash__ = None  # type: ignore[assignment]  # mutable and equal by value: unhashable
    setattr(new, "__match_args__", tuple(names))  # noqa: B010 (mypy: type has no such field)
    return new


def _attach(cls: type, name: str, fn: Any) -> None:
    fn.__qualname__ = f"{cls.__qualname__}.{name}"
    fn.__module__ = cls.__module__
    setattr(cls, name, fn)


@overload
@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[_T], /) -> type[_T]: ...
@overload
def record(*, frozen: bool = True) -> Callable[[type[_T]], type[_T]]: ...


def record(cls: type[_T] | None = None, /, *, frozen: bool = True) -> Any:
    """Make ``cls`` a record (see the module's docstring): ``@record`` or
    ``@record(frozen=False)``. Raises TypeError for a field without a default after one
    with a default."""
    if cls is None:
        return lambda c: _build(c, frozen)
    return _build(cls, frozen)


def fields(obj: object) -> tuple[str, ...]:
    """The field names of a record (an instance or the class), in order."""
    return tuple(getattr(obj, _FIELDS))


def is_record(obj: object) -> bool:
    """Whether ``obj`` is a record class or instance."""
    return hasattr(obj, _FIELDS)


def astuple(obj: object) -> tuple[object, ...]:
    """The field values of a record instance, in order (not recursive)."""
    return tuple(getattr(obj, n) for n in fields(obj))


def replace(obj: _T, /, **changes: object) -> _T:
    """A copy of record ``obj`` with ``changes`` applied (``__post_init__`` runs again).
    Raises TypeError for a name that is not a field."""
    names = fields(obj)
    unknown = set(changes) - set(names)
    if unknown:
        raise TypeError(f"{type(obj).__qualname__} has no field {sorted(unknown)[0]!r}")
    values = {n: changes[n] if n in changes else getattr(obj, n) for n in names}
    return type(obj)(**values)
