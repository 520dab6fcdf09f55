"""``record-dict``: many dicts from one line sharing one key set -> a slotted dataclass."""

from __future__ import annotations

import keyword
from collections.abc import Iterator

from memslim.advice import measure
from memslim.advice._finding import Finding, Run
from memslim.advice.source import user_frame


def _class_name(function: str) -> str:
    base = function.split(".")[-1].strip("<>_") or "record"
    if base in ("module", "listcomp", "dictcomp", "genexpr", "lambda"):
        base = "record"
    return "".join(part.capitalize() for part in base.split("_")) + "Row"


def find(run: Run) -> Iterator[Finding]:
    facts = run.site_facts  # per-site facts need exact mode
    if facts is None:
        return
    for row in facts.dicts:
        keys = row["keys"]
        frame = user_frame(row["frames"])
        if frame is None or not keys or row["common_count"] < 0.9 * row["dicts"]:
            continue
        if not all(
            isinstance(k, str) and k.isidentifier() and not keyword.iskeyword(k) for k in keys
        ):
            continue
        scale = run.peak_scale([row["site"]])  # census near the peak -> at the peak
        count = round(row["common_count"] * scale)
        bytes_now = round(row["common_bytes"] * scale)
        per_record = measure.slotted_instance(len(keys))
        name = _class_name(frame[1])
        fields = "\n".join(f"    {k}: object" for k in keys)
        fix = (
            f"@dataclass(slots=True)\nclass {name}:\n{fields}\n\n"
            f"# then build {name}({', '.join(f'{k}=...' for k in keys)}) instead of the dict, "
            f"and read row.{keys[0]} instead of row[{keys[0]!r}]"
        )
        yield Finding(
            kind="record-dict",
            file=frame[0],
            line=frame[2],
            symbol="{" + ", ".join(repr(k) for k in keys) + "}",
            count=count,
            bytes_now=bytes_now,
            bytes_after=count * per_record,
            message=(
                f"{count:,} dicts made here share the keys {', '.join(keys)} and hold "
                f"{bytes_now:,} bytes at the peak ({bytes_now // max(count, 1)} each); a slotted "
                f"dataclass (or NamedTuple) stores the same fields in {per_record} bytes."
            ),
            fix=fix,
        )
