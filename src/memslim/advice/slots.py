"""``slots``: many instances of a class with per-instance attribute storage -> ``__slots__``."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from typing import Any

from memslim._sizeof import type_name
from memslim.advice import measure
from memslim.advice._finding import Finding, Run
from memslim.advice.source import class_definition, class_module_file


def distinct_attribute_sets(found: list[tuple[Any, int]]) -> list[Any]:
    """The attribute sets of a class's instances ((names, instances) from the census), without
    the one the census caught inside its __init__: a single instance holding some of another
    set's names. Every Point read as having "2 different attribute sets" so."""
    return [
        names
        for names, count in found
        if count > 1 or not any(set(names) < set(other) for other, _ in found)
    ]


def _unslotted_bases(cls: type) -> list[type]:
    """Bases (other than object) whose instances have a __dict__: they void __slots__."""
    return [
        base
        for base in cls.__mro__[1:]
        if base is not object and "__slots__" not in vars(base) and base.__dictoffset__ != 0
    ]


def _class_attributes(cls: type, names: list[str]) -> dict[str, Any]:
    """The slot names that the class or a base (other than object) also binds at class level:
    a default (``speed = 1.0``) or a ``functools.cached_property``. A slot of such a name in the
    class body raises ValueError; in a subclass it hides the base's default (unset, it raises
    AttributeError); a cached_property needs the instance's __dict__."""
    found: dict[str, Any] = {}
    for klass in cls.__mro__[:-1]:
        for name in names:
            if name not in found and name in vars(klass):
                found[name] = vars(klass)[name]
    return found


def find(run: Run) -> Iterator[Finding]:
    facts = run.facts
    if facts is None:
        return
    for row in facts.classes:
        cls: type = row["type"]
        if "__slots__" in vars(cls):
            continue  # slotted already (a base adds the dict)
        where = class_definition(cls, run.main_file)
        made_otherwise = None
        if where is None:
            # Made by type() (or another call) in the user's module: no class statement to
            # change. Said, with no saving claimed, only under --all-findings.
            made_otherwise = class_module_file(cls, run.main_file)
            if made_otherwise is None:
                continue  # not the user's class
            where = (made_otherwise, 0)
        names: list[str] = []
        for attribute_set, _count in row["attribute_sets"]:
            names.extend(n for n in attribute_set if n not in names)
        if not names or not all(n.isidentifier() for n in names):
            continue
        scale = run.peak_scale(run.type_sites(cls))  # census near the peak -> at the peak
        # The census's count is the peak's only when scaling leaves it as it is. Even within 1%
        # it may not be: a census at 99.4% of the peak counted 298,016 of 300,000 instances
        # (shown as exact, beside the peak's bytes of all 300,000); scaled, it reads "about".
        count = round(row["count"] * scale)
        exact = count == row["count"]
        # An estimate is shown to three significant digits ("about 300,000", not 300,009).
        shown = count if exact else round(count, 2 - len(str(count)))
        about = "" if exact else "about "
        bytes_now = round((row["bytes"] + row["dict_bytes"]) * scale)
        weak = row["weakly_referenced"] > 0
        attrs_class = hasattr(cls, "__attrs_attrs__")  # attrs keeps a __weakref__ slot
        each = measure.slotted_instance(len(names), weakref=weak or attrs_class)
        bytes_after = count * each
        bases = _unslotted_bases(cls)
        notes = []
        sets = distinct_attribute_sets(row["attribute_sets"])
        if len(sets) > 1 or row["other_sets"]:
            notes.append(
                f"instances have {len(sets) + (1 if row['other_sets'] else 0)}"
                f" different attribute sets: __slots__ lists all {len(names)} names (an unset"
                " slot still costs 8 bytes)"
            )
        clashes = _class_attributes(cls, names)
        cached = [n for n, value in clashes.items() if isinstance(value, functools.cached_property)]
        if dataclasses.is_dataclass(cls) or hasattr(cls, "__attrs_attrs__"):
            # Their slots=True moves the fields' defaults out of the class body itself.
            clashes = {n: clashes[n] for n in cached}
        if row["with_dict"]:
            why = (
                f"by cached_property {', '.join(cached)}"
                if cached
                else "read through obj.__dict__, vars(), copy or pickle; code doing that must"
                " change too"
            )
            notes.append(f"{row['with_dict']:,} instances had their __dict__ materialised ({why})")
        for name, value in clashes.items():
            if name in cached:
                notes.append(
                    f"{name} is a functools.cached_property, which keeps its value in the"
                    " instance's __dict__ (with __slots__ it fails): keep it in a slot of its own"
                    " behind a plain property"
                )
            else:
                notes.append(
                    f"{name} is also a class attribute ({type(value).__name__}), which a slot of"
                    f" that name would clash with or hide: set self.{name} in __init__ instead"
                )
        if bases:
            listed = ", ".join(type_name(b) for b in bases)
            notes.append(
                f"base class {listed} has no __slots__: give it __slots__ too, or no saving"
            )
        if weak:
            notes.append(
                f"{row['weakly_referenced']:,} instances are weakly referenced: __slots__ needs"
                ' "__weakref__" (8 bytes each, counted)'
            )
        slot_names = names + (["__weakref__"] if weak else [])
        if dataclasses.is_dataclass(cls):
            weakref_slot = ", weakref_slot=True" if weak else ""
            fix = f"@dataclass(slots=True{weakref_slot})\nclass {cls.__name__}:"
        elif attrs_class:  # @attr.s without slots (@attrs.define has them already)
            fix = f"@attr.s(slots=True)\nclass {cls.__name__}:"
        else:
            listed = ", ".join(repr(n) for n in slot_names)
            fix = f"class {cls.__name__}:\n    __slots__ = ({listed},)"
            for name in clashes:
                fix += (
                    f"\n    # and {name}: a cached value in a slot behind a property"
                    if name in cached
                    else f"\n    # and no class attribute {name}: set self.{name} in __init__"
                )
        message = (
            f"{about}{shown:,} {cls.__name__} instances hold {bytes_now:,} bytes at the peak; with "
            f"__slots__ each takes {each} bytes on this interpreter"
            + ("; " + "; ".join(notes) if notes else "")
            + "."
        )
        if made_otherwise is not None:
            listed = ", ".join(repr(n) for n in slot_names)
            message = (
                f"{about}{shown:,} {cls.__name__} instances hold {bytes_now:,} bytes at the peak,"
                f" but {cls.__name__} has no class statement in {made_otherwise} (made by type() or"
                " another call): no line to change here. With __slots__ each would take"
                f" {each} bytes on this interpreter ({max(0, bytes_now - bytes_after):,} bytes"
                " less in all): give the call that makes it a '__slots__' entry in the class's"
                " namespace."
            )
            fix = f'"__slots__": ({listed},),  # in the namespace given to type()'
            bytes_after = bytes_now  # no saving claimed where nothing can be changed
        yield Finding(
            kind="slots",
            file=where[0],
            line=where[1],
            symbol=cls.__qualname__,
            count=count,
            bytes_now=bytes_now,
            bytes_after=bytes_now if bases else bytes_after,
            message=message,
            fix=fix,
        )
