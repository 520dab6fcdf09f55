"""`memslim diff OLD NEW`: what changed between two runs, for people and for CI.

Either side is a memslim/1 JSON report (``memslim run --json``) or a capture file
(``memslim run -o``). The diff compares the peak and the end (traced bytes, and per domain),
the lines (keyed by file, function and line: the report's top lines; a line only one side
lists counts as 0 on the other, which may understate a change below a report's top 100), the
census's types (when both runs took one) and the findings (keyed by kind, place and symbol).

``--fail-over PERCENT`` makes it a CI check: exit 1 when the peak grew by more than PERCENT.
Schema of ``--json``: ``memslim-diff/1`` (fields added, never renamed).
"""

from __future__ import annotations

import json
from typing import Any

from memslim.capture import MAGIC, CaptureError, read_capture
from memslim.report.json_report import SCHEMA

DIFF_SCHEMA = "memslim-diff/1"


class DiffError(ValueError):
    """A side that cannot be read; the message is one line."""


def load_report(path: str) -> dict[str, Any]:
    """The memslim/1 report in ``path``: a JSON report or a capture file."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(MAGIC))
    except OSError as e:
        raise DiffError(f"cannot read {path!r}: {e.strerror or e}") from e
    if head == MAGIC:
        try:
            return read_capture(path).report
        except CaptureError as e:
            raise DiffError(f"{path}: {e}") from e
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise DiffError(
            f"{path}: not a memslim report (neither {SCHEMA} JSON nor a capture)"
        ) from e
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        raise DiffError(f"{path}: not a memslim report (its schema is not {SCHEMA})")
    # What the diff reads: a report without them read as a run of 0 bytes.
    for part in ("peak", "end"):
        if not isinstance(report.get(part), dict) or not isinstance(
            report[part].get("traced_bytes"), int
        ):
            raise DiffError(f"{path}: not a whole memslim report (no {part}.traced_bytes)")
    return report


def _change(old: int, new: int) -> dict[str, Any]:
    return {
        "old": old,
        "new": new,
        "change_bytes": new - old,
        "change_percent": None if old == 0 else round(100.0 * (new - old) / old, 2),
    }


def diff_reports(old: dict[str, Any], new: dict[str, Any], *, top: int = 50) -> dict[str, Any]:
    """The diff of two memslim/1 reports, as ``memslim diff --json`` writes it."""
    try:
        return _diff(old, new, top)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise DiffError(f"a report is not as memslim writes it ({type(e).__name__}: {e})") from e


def _diff(old: dict[str, Any], new: dict[str, Any], top: int) -> dict[str, Any]:
    out: dict[str, Any] = {"schema": DIFF_SCHEMA}
    for name in ("peak", "end"):
        a, b = old.get(name) or {}, new.get(name) or {}
        change = _change(int(a.get("traced_bytes", 0)), int(b.get("traced_bytes", 0)))
        da, db = a.get("by_domain", {}), b.get("by_domain", {})
        change["by_domain"] = {
            d: _change(int(da.get(d, 0)), int(db.get(d, 0))) for d in sorted(da.keys() | db.keys())
        }
        out[name] = change
    out["commands"] = {"old": old.get("command"), "new": new.get("command")}

    def line_key(row: dict[str, Any]) -> tuple[str, str, int]:
        return (str(row["file"]), str(row["function"]), int(row["line"]))

    old_lines = {line_key(r): int(r["bytes_at_peak"]) for r in old.get("lines", [])}
    new_lines = {line_key(r): int(r["bytes_at_peak"]) for r in new.get("lines", [])}
    lines = []
    for key in old_lines.keys() | new_lines.keys():
        a, b = old_lines.get(key, 0), new_lines.get(key, 0)
        if a != b:
            file, function, line = key
            lines.append({"file": file, "function": function, "line": line, **_change(a, b)})
    lines.sort(key=lambda r: (-abs(r["change_bytes"]), r["file"], r["line"]))
    out["lines"] = lines[:top]

    if "census" in old and "census" in new:
        old_types = {t["type"]: t for t in old["census"]["types"]}
        new_types = {t["type"]: t for t in new["census"]["types"]}
        types = []
        for name in old_types.keys() | new_types.keys():
            a, b = old_types.get(name, {}), new_types.get(name, {})
            row = {"type": name, **_change(int(a.get("bytes", 0)), int(b.get("bytes", 0)))}
            row["count_old"], row["count_new"] = int(a.get("count", 0)), int(b.get("count", 0))
            if row["change_bytes"] or row["count_old"] != row["count_new"]:
                types.append(row)
        types.sort(key=lambda r: (-abs(r["change_bytes"]), r["type"]))
        out["types"] = types[:top]

    def finding_key(row: dict[str, Any]) -> tuple[str, str, int, str]:
        return (str(row["kind"]), str(row["file"]), int(row["line"]), str(row["symbol"]))

    old_findings = {finding_key(f): f for f in old.get("findings", [])}
    new_findings = {finding_key(f): f for f in new.get("findings", [])}
    out["findings"] = {
        "appeared": [new_findings[k] for k in sorted(new_findings.keys() - old_findings.keys())],
        "disappeared": [old_findings[k] for k in sorted(old_findings.keys() - new_findings.keys())],
    }
    return out


def peak_grew_over(diff: dict[str, Any], percent: float) -> bool:
    """Whether the peak grew by more than ``percent`` (from nothing to something: always)."""
    peak = diff["peak"]
    if peak["old"] == 0:
        return peak["new"] > 0
    return 100.0 * (peak["new"] - peak["old"]) / peak["old"] > percent


def print_diff(
    diff: dict[str, Any], *, old_name: str, new_name: str, top: int, console: Any
) -> None:
    from rich.table import Table
    from rich.text import Text

    from memslim._units import format_bytes
    from memslim.report.terminal import _where

    def signed(n: int) -> str:
        return ("+" if n > 0 else "−" if n < 0 else "±") + format_bytes(abs(n))

    def percent(change: dict[str, Any]) -> str:
        p = change["change_percent"]
        return "new" if p is None and change["new"] else "" if p is None else f"{p:+.1f}%"

    console.print(Text.assemble(("memslim diff ", "bold"), f"{old_name} → {new_name}"))
    for name, label in (("peak", "peak traced"), ("end", "traced at the end")):
        change = diff[name]
        console.print(
            f"  {label}: {format_bytes(change['old'])} → {format_bytes(change['new'])} "
            f"({signed(change['change_bytes'])}, {percent(change) or '±0%'})"
        )
    if diff["lines"]:
        table = Table(title="Lines whose bytes at the peak changed", title_justify="left")
        table.add_column("line", no_wrap=True, overflow="ellipsis")
        for header in ("old", "new", "change", "%"):
            table.add_column(header, justify="right", no_wrap=True)
        for row in diff["lines"][:top]:
            table.add_row(
                Text.assemble(
                    _where(row["file"], row["line"], width=50), "\n", (row["function"], "dim")
                ),
                format_bytes(row["old"]),
                format_bytes(row["new"]),
                signed(row["change_bytes"]),
                percent(row),
            )
        console.print(table)
    if diff.get("types"):
        table = Table(title="Objects by type at the census", title_justify="left")
        table.add_column("type", overflow="fold")
        for header in ("count", "bytes old", "bytes new", "change"):
            table.add_column(header, justify="right", no_wrap=True)
        for row in diff["types"][:top]:
            table.add_row(
                Text(row["type"]),
                f"{row['count_old']:,} → {row['count_new']:,}",
                format_bytes(row["old"]),
                format_bytes(row["new"]),
                signed(row["change_bytes"]),
            )
        console.print(table)
    for kind, rows in diff["findings"].items():
        for row in rows:
            saves = format_bytes(int(row.get("saving_bytes", 0)))
            where = _where(str(row["file"]), int(row["line"]))
            console.print(
                Text(f"  finding {kind}: {row['kind']} {row['symbol']} at {where} (saves {saves})")
            )
