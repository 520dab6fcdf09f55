"""``cycle``: instances freed by the cyclic GC rather than by reference counting, the attribute
that closes their cycles, and the garbage waiting for the collector at the peak -> a weak
reference for the back-reference."""

from __future__ import annotations

import ast
import functools
import weakref
from collections.abc import Iterator

from memslim import _core
from memslim.advice._finding import Finding, Run
from memslim.advice.source import class_definition, syntax_tree

# Attribute names that usually point back up a structure.
BACK_REFERENCES = (
    "parent",
    "owner",
    "prev",
    "previous",
    "back",
    "root",
    "container",
    "manager",
    "outer",
)


def _assignment_line(cls: type, attribute: str, main_file: str | None) -> tuple[str, int] | None:
    """Where ``self.<attribute> = ...`` is written in the class's source."""
    where = class_definition(cls, main_file)
    if where is None:
        return None
    tree = syntax_tree(where[0])
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__ and node.lineno == where[1]:
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Assign, ast.AnnAssign)):
                    targets = inner.targets if isinstance(inner, ast.Assign) else [inner.target]
                    for target in targets:
                        if isinstance(target, ast.Attribute) and target.attr == attribute:
                            return where[0], inner.lineno
            return where
    return None


# (from type, attribute, to type, references seen, distinct targets, live targets, of those
# held by nothing else): see CycleEdge in _core/cpython/census_advice.h.
Edge = tuple[type, str, type, int, int, "int | None", "int | None"]


def _score(edge: Edge) -> tuple[int, int]:
    _source, attribute, _target, count, *_rest = edge
    named = any(word in attribute.lower() for word in BACK_REFERENCES)
    return (1 if named else 0, count)


@functools.cache
def weakref_bytes() -> int:
    """Bytes of one weakref.ref on this interpreter."""

    class Probe:
        pass

    probe = Probe()
    return _core.true_sizeof(weakref.ref(probe))


def find(run: Run) -> Iterator[Finding]:
    """The model: at the census (taken as a full collection starts, when that is at the peak),
    garbage G waits for the collector while live objects L of the same kinds (same types and
    allocation stacks) are being built. With the cycle broken, each structure is freed when it
    dies, and the peak becomes what is left plus the larger of L and the largest garbage group
    (a structure is whole before it dies): the saving is G + L - max(largest group, L), less the
    weak references the fix adds."""
    facts = run.site_facts  # per-site facts need exact mode
    if facts is None or run.census is None:
        return
    edges = [e for e in facts.cycle_edges if class_definition(e[0], run.main_file) is not None]
    if not facts.garbage or not edges:
        return
    garbage = facts.garbage_bytes
    objects = facts.garbage_objects
    at_site: dict[tuple[type, object], int] = {}
    for site in run.census.sites:
        key = (site.type, site.site)
        at_site[key] = at_site.get(key, 0) + site.bytes
    live = sum(
        max(0, at_site.get((row["type"], row["site"]), 0) - row["bytes"]) for row in facts.garbage
    )
    # The census ran near the peak, not at it: what those sites built after it was live at the
    # peak too (the structure being built then was not whole yet: 0.91 of the saving on
    # examples/advice/cycle before this).
    live += run.growth_to_peak(row["site"] for row in facts.garbage)
    largest = facts.largest_garbage_group or garbage
    source_type, attribute, target_type, count, targets, live_targets, stranded = max(
        edges, key=_score
    )
    where = _assignment_line(source_type, attribute, run.main_file)
    if where is None:
        return
    saving = garbage + live - max(largest, live)
    weakrefs = targets * weakref_bytes()
    gc_freed = run.profile.gc_freed_bytes
    message = (
        f"{objects:,} objects ({garbage:,} bytes) were unreachable garbage waiting for the "
        f"cyclic GC at the census near the peak: reference cycles through "
        f"{source_type.__name__}.{attribute} -> {target_type.__name__} ({count:,} seen) keep "
        f"them alive until a collection runs (largest dead structure {largest:,} bytes)."
    )
    if gc_freed:
        message += (
            f" Over the run the cyclic GC freed {gc_freed:,} bytes that reference counting"
            " could have freed at once."
        )
    fix = (
        f"self.{attribute} = weakref.ref({attribute})  # read it as self.{attribute}()"
        f"\n# or weakref.proxy({attribute}) to keep attribute access unchanged"
    )
    manual = ""
    if live_targets is None:
        # Not among the edges the census checked (census_advice.cpp, CycleEdge::kMaxChecked).
        manual = f"the census did not check what else holds the objects .{attribute} refers to"
    elif stranded:
        # Nothing but the back-references held them at the census: a weak one frees them while
        # the program still reads it (a tree that the program keeps by its leaves).
        target = target_type.__name__
        manual = (
            f"{stranded:,} of the {live_targets:,} live {target} objects that .{attribute} "
            f"refers to are held by nothing else"
        )
        message += (
            f" But {manual} at the census: a weak {attribute} would free them while the program"
            f" still reads it. Keep the structure's top {target} referenced wherever its other"
            f" objects are kept, then make {attribute} weak; or set {attribute} to None on"
            f" each object when the structure is dropped."
        )
        fix = (
            f"# keep the top {target} referenced where the structure is kept (return it too),\n"
            f"# then: self.{attribute} = weakref.ref({attribute})  # read as self.{attribute}()"
        )
    else:
        message += (
            f" A weak reference for {attribute} breaks the cycle; the {targets:,} weak "
            f"references cost {weakrefs:,} bytes."
        )
    yield Finding(
        kind="cycle",
        file=where[0],
        line=where[1],
        symbol=f"{source_type.__qualname__}.{attribute}",
        count=objects,
        bytes_now=garbage,
        bytes_after=garbage - saving + weakrefs,
        message=message,
        fix=fix,
        manual=manual,
    )
