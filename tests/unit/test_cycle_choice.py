"""The `cycle` rule's fix is the author's where the census did not check what else holds the
objects the chosen attribute refers to (only the four edges seen most often are checked), or
where it saw live objects that only that attribute holds. Truth: the facts as given."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

from memslim.advice import cycle

NODE = """
class Node:
    def __init__(self, parent):
        self.parent = parent
"""


@pytest.mark.parametrize(
    ("live", "stranded", "manual"),
    [
        (400, 0, ""),
        (400, 300, "300 of the 400 live Node objects that .parent refers to"),
        (None, None, "the census did not check"),
    ],
)
def test_the_weak_reference_is_the_authors_unless_the_census_checked_it(
    tmp_path: Path, live: int | None, stranded: int | None, manual: str
) -> None:
    source = tmp_path / "nodes.py"
    source.write_text(NODE)
    spec = importlib.util.spec_from_file_location("nodes", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    node = module.Node
    facts = SimpleNamespace(
        garbage=[{"type": node, "site": 3, "count": 1000, "bytes": 64_000}],
        garbage_bytes=64_000,
        garbage_objects=1000,
        largest_garbage_group=640,
        cycle_edges=[(node, "parent", node, 1000, 500, live, stranded)],
    )
    run = SimpleNamespace(
        site_facts=facts,
        census=SimpleNamespace(sites=[]),
        main_file=str(source),
        growth_to_peak=lambda sites: 0,
        profile=SimpleNamespace(gc_freed_bytes=0),
    )
    (finding,) = cycle.find(run)  # type: ignore[arg-type]
    assert (finding.file, finding.line) == (str(source), 4)  # self.parent = parent
    assert finding.manual.startswith(manual) if manual else finding.manual == ""
