"""Terminal report of ``memslim sizeof``: deep sizes of a finished script's globals."""

from __future__ import annotations
import __future__

import types
from typing import Any

from rich.console import Console
from rich.table import Table

from memslim._sizeof import SizeDetail, sizeof, type_name
from memslim._units import format_bytes


def _is_data(name: str, value: Any) -> bool:
    if name.startswith("__") and name.endswith("__"):
        return False
    if isinstance(value, __future__._Feature):  # `from __future__ import annotations`
        return False
    return not isinstance(
        value,
        type | types.ModuleType | types.FunctionType | types.BuiltinFunctionType | types.MethodType,
    )


def measure_globals(main_globals: dict[str, Any]) -> tuple[list[tuple[str, SizeDetail]], int]:
    """Deep size of each data global, largest first, and of all of them together."""
    data = {name: value for name, value in main_globals.items() if _is_data(name, value)}
    rows = [(name, sizeof(value, detail=True)) for name, value in data.items()]
    rows.sort(key=lambda row: row[1].bytes, reverse=True)
    values = tuple(data.values())
    together = sizeof(values) - sizeof(()) - 8 * len(values) if values else 0
    return rows, together


def print_globals_report(
    main_globals: dict[str, Any], *, top: int, title: str, console: Console | None = None
) -> None:
    console = console or Console(stderr=True)
    rows, together = measure_globals(main_globals)
    if not rows:
        console.print(f"memslim sizeof: {title}: no global variables hold data.")
        return
    table = Table(title=f"Deep size of the globals of {title}", title_justify="left")
    table.add_column("global")
    table.add_column("type")
    table.add_column("objects", justify="right")
    table.add_column("deep size", justify="right")
    table.add_column("bytes", justify="right")
    for name, detail in rows[:top]:
        value = main_globals[name]
        table.add_row(
            name,
            type_name(type(value)),
            f"{detail.objects:,}",
            format_bytes(detail.bytes),
            f"{detail.bytes:,}",
        )
    if len(rows) > top:
        table.add_row(f"… {len(rows) - top} more", "", "", "", "")
    table.add_section()
    table.add_row("all of them", "(shared once)", "", format_bytes(together), f"{together:,}")
    console.print(table)

    name, detail = rows[0]
    breakdown = Table(title=f"What {name} is made of", title_justify="left")
    breakdown.add_column("type")
    breakdown.add_column("count", justify="right")
    breakdown.add_column("bytes", justify="right")
    breakdown.add_column("%", justify="right")
    for row in detail.by_type[:10]:
        share = 100.0 * row.bytes / detail.bytes if detail.bytes else 0.0
        breakdown.add_row(row.name, f"{row.count:,}", f"{row.bytes:,}", f"{share:.1f}")
    console.print(breakdown)
