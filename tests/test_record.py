"""ocianalyze.record: the value classes' behaviour, checked against what a frozen, slotted
dataclass does (the class they replace)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import ClassVar

import pytest

from ocianalyze.digest import Digest
from ocianalyze.record import FrozenInstanceError, astuple, field, fields, record, replace


@record
class Point:
    """A frozen record with a plain default and a per-instance factory default."""

    x: int
    y: str = "y"
    tags: list[str] = field(default_factory=list)
    LIMIT: ClassVar[int] = 3


@record(frozen=False)
class Counter:
    n: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class PointDC:
    x: int
    y: str = "y"
    tags: list[str] = dataclasses.field(default_factory=list)


def test_fields_exclude_classvars_and_keep_order() -> None:
    assert fields(Point) == ("x", "y", "tags")
    assert Point.LIMIT == 3
    assert Point.__slots__ == ("x", "y", "tags")


def test_init_repr_and_equality_match_a_dataclass() -> None:
    p, d = Point(1), PointDC(1)
    assert repr(p) == repr(d).replace("PointDC", "Point") == "Point(x=1, y='y', tags=[])"
    assert Point(1, "a") == Point(1, "a") and Point(1, "a") != Point(1, "b")
    assert Point(1) != PointDC(1)  # another class is never equal, as with dataclasses
    assert Point(x=2, y="q", tags=["t"]).tags == ["t"]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, nope=2)  # type: ignore[call-arg]


def test_factory_default_is_made_for_each_instance() -> None:
    a, b = Point(1), Point(1)
    a.tags.append("only a")
    assert b.tags == [] and a.tags == ["only a"]


def test_frozen_records_hash_by_value_and_refuse_assignment() -> None:
    p = Point(1, "a", [])
    assert hash(Point(5, "z", ())) == hash(Point(5, "z", ()))  # type: ignore[arg-type]
    assert hash(Point(5, "z", ())) == hash((5, "z", ()))  # type: ignore[arg-type]
    with pytest.raises(FrozenInstanceError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del p.x  # type: ignore[misc]
    with pytest.raises(AttributeError):  # slots: no other attribute either
        object.__setattr__(p, "other", 1)


def test_mutable_records_assign_and_are_unhashable() -> None:
    c = Counter()
    c.n += 2
    assert c == Counter(2)
    with pytest.raises(TypeError):
        hash(c)


def test_replace_astuple_pickle_and_copy() -> None:
    p = Point(1, "a", ["t"])
    assert replace(p, y="b") == Point(1, "b", ["t"])
    assert astuple(p) == (1, "a", ["t"])
    with pytest.raises(TypeError, match="no field 'z'"):
        replace(p, z=1)
    for clone in (pickle.loads(pickle.dumps(p)), copy.copy(p), copy.deepcopy(p)):
        assert clone == p and type(clone) is Point


def test_required_field_after_a_default_is_refused() -> None:
    with pytest.raises(TypeError, match="'b' without a default"):

        @record
        class Bad:
            a: int = 0
            b: int


def test_post_init_runs_after_the_fields_are_set() -> None:
    seen: list[int] = []

    @record
    class Checked:
        v: int

        def __post_init__(self) -> None:
            seen.append(self.v)

    Checked(7)
    replace(Checked(8), v=9)
    assert seen == [7, 8, 9]


def test_digests_sort_by_algorithm_then_encoding() -> None:
    a, b, c = Digest("sha256", "b" * 64), Digest("sha256", "a" * 64), Digest("sha512", "0" * 128)
    assert sorted([c, a, b]) == [b, a, c]
    assert a > b and c >= a and b <= a
    with pytest.raises(TypeError):
        _ = a < "sha256:" + "a" * 64  # type: ignore[operator]
