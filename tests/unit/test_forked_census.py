"""What a census child sends the report survives the trip: every type comes back as the same
live type object, metaclasses included, and the packed (type, site, count, bytes) rows come back
equal."""

from __future__ import annotations

import pickle

from memslim import forked_census


class Meta(type):
    pass


class SubMeta(Meta):  # found only through Meta's subclasses
    pass


class Plain:
    pass


Classes = [SubMeta(f"C{i}", (), {}) for i in range(3)]


def _round_trip(raw: dict) -> dict:
    data = pickle.dumps(forked_census._encode(forked_census._pack_sites(raw)))
    decoded = forked_census._decode(pickle.loads(data), forked_census._live_types(), {})
    return forked_census._unpack_sites(decoded)


def test_live_types_include_subclasses_of_metaclasses() -> None:
    live = forked_census._live_types()
    for cls in (Meta, SubMeta, Plain, *Classes, int, type):
        assert live.get(id(cls)) is cls, cls


def test_site_rows_come_back_with_the_same_type_objects() -> None:
    rows = [(SubMeta, 7, 3, 1200), (Plain, None, 1, 16), (int, 2**31, 5, 140), (SubMeta, 9, 1, 400)]
    back = _round_trip({"objects": 10, "sites": rows, "types": [(SubMeta, 4, 1600)]})
    got = [(r.type, r.site, r.count, r.bytes) for r in back["sites"]]
    assert got == rows
    assert all(a[0] is b[0] for a, b in zip(got, rows, strict=True))
    assert len(back["sites"]) == 4 and back["sites"][-1].site == 9 and back["sites"][1].site is None
    assert back["types"][0][0] is SubMeta
    assert back["objects"] == 10


def test_a_type_that_died_comes_back_as_a_stand_in_with_its_name() -> None:
    gone = type("Gone", (), {})
    data = pickle.dumps(forked_census._encode({"sites": [], "types": [(gone, 1, 16)]}))
    live = forked_census._live_types()
    live.pop(id(gone))  # as if it had been collected after the census
    back = forked_census._decode(pickle.loads(data), live, {})
    stand_in = back["types"][0][0]
    assert stand_in is not gone and stand_in.__qualname__ == "Gone"
