"""Terminal report of a tracked run (``memslim run``, ``Tracker.report()``), with rich."""

from __future__ import annotations

import functools
import linecache
import os
from typing import Any, TextIO

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from memslim._paths import library_roots, without_own_frames
from memslim._units import allocations_header, format_bytes
from memslim.advice import Finding
from memslim.heap import HeapCensus, SavedHeap, SiteRows, bytes_by_site, largest_sites
from memslim.profile_data import FrameInfo, LineStats, Profile

# Sample mode says how far its peak may be off when one standard error is this share of it.
NOISY_PEAK = 0.05


def silence(file: Any) -> None:
    """Points ``file``'s descriptor at /dev/null: its reader left, and what is still written
    (or flushed at exit) goes nowhere instead of raising again. Nothing for a file without one."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, file.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


class _ReportConsole(Console):
    def on_broken_pipe(self) -> None:
        """The reader of the report went away (``memslim run ... 2>&1 | head``). rich's own
        handling exits with status 1 (and points stdout, not this console's file, at
        /dev/null): the program's exit status would be lost. The rest of the report goes
        nowhere, and the caller hears of it."""
        self.quiet = True
        silence(self.file)
        raise BrokenPipeError


def report_console(file: TextIO | None = None) -> Console:
    """A console on ``file`` (stderr by default), at least 120 columns wide when it is not a
    terminal (logs, CI, files)."""
    # No emoji codes: the program's paths and lines are printed as written.
    options: dict[str, Any] = {"file": file, "stderr": file is None, "emoji": False}
    console = _ReportConsole(**options)
    if not console.is_terminal:
        console = _ReportConsole(**options, width=max(console.width, 120))
    return console


@functools.lru_cache(maxsize=8192)
def short_path(file: str) -> str:
    """A file as its reader knows it: under the working directory, relative to it
    (``jobs/points.py``); in an installed package, from the package on
    (``site-packages/pandas/io/parsers/readers.py``); in the standard library, its name there
    (``<stdlib>/threading.py``); elsewhere absolute, with ``~`` for the home directory.
    Pseudo-files (``<frozen importlib._bootstrap>``) stay as they are."""
    if not file or file.startswith("<"):
        return file
    absolute = os.path.abspath(file)
    cwd = os.getcwd()
    if absolute.startswith(cwd + os.sep):
        return absolute[len(cwd) + 1 :]
    for root, prefix in library_roots():
        if absolute.startswith(root + os.sep):
            return f"{prefix}/{absolute[len(root) + 1 :]}"
    for marker in ("site-packages", "dist-packages"):  # another interpreter's packages
        cut = absolute.rfind(os.sep + marker + os.sep)
        if cut >= 0:
            return f"{marker}/{absolute[cut + len(marker) + 2 :]}"
    home = os.path.expanduser("~")
    if home not in ("", os.sep) and absolute.startswith(home + os.sep):
        return "~" + absolute[len(home) :]
    return absolute


def _where(file: str, line: int, width: int | None = None) -> str:
    """``file:line``, shortened (short_path); with ``width``, cut from the left to fit, so that
    the file's name and the line number stay. Line 0 (a finding with no line to change, such
    as a class made by type()): the file alone."""
    shown = f"{short_path(file)}:{line}" if line else short_path(file)
    if width is not None and len(shown) > width:
        shown = "…" + shown[len(shown) - width + 1 :]
    return shown


def _source(file: str, line: int) -> Text:
    return Text(linecache.getline(file, line).strip())  # Text: never read as rich markup


def _rows_by_line(
    rows: list[Any],
) -> list[tuple[str, tuple[str, str, int] | None, int, int]]:
    """(type, innermost frame, count, bytes) of census rows, those of one type and line added
    up, largest first: the table shows a site by its innermost line, and two sites there (two
    expressions of a line, or two callers) were two rows that read the same."""
    merged: dict[tuple[str, tuple[str, str, int] | None], list[int]] = {}
    for row in rows:
        frames = without_own_frames(row.frames) if row.frames else None
        key = (row.name, frames[0] if frames else None)
        totals = merged.setdefault(key, [0, 0])
        totals[0] += row.count
        totals[1] += row.bytes
    return sorted(
        ((name, frame, count, size) for (name, frame), (count, size) in merged.items()),
        key=lambda r: -r[3],
    )


def _share(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}" if whole > 0 else "-"


def print_run_report(
    profile: Profile,
    *,
    title: str,
    top: int = 10,
    console: Console | None = None,
    census: tuple[int, HeapCensus] | None = None,
    findings: list[Finding] | None = None,
    untraced: list[str] | None = None,
    rss: dict[str, Any] | None = None,
    all_frames: bool = False,
    tree: dict[str, Any] | None = None,
) -> None:
    """The run's report. Its top lines are the program's own (each stack charged to its nearest
    frame outside the standard library and installed packages), with the library lines under
    each that held the most; ``all_frames``: every stack's innermost line instead. ``tree``:
    the report's ``tree_peak`` when child processes ran (their tables follow this report)."""
    console = console or report_console()
    estimate = " (estimated from samples)" if profile.mode == "sample" else ""
    console.print(
        Text.assemble(
            ("memslim ", "bold"),
            f"{title} — {profile.mode} mode — peak traced ",
            (format_bytes(profile.peak_bytes), "bold"),
            f"{estimate} at {profile.peak_seconds:.2f} s, "
            f"peak RSS {format_bytes(profile.peak_rss_bytes)}, ran {profile.elapsed_seconds:.2f} s",
        )
    )
    if tree:
        console.print(
            Text.assemble(
                "That is this process's; with its child processes, the whole tree's peak: ",
                (format_bytes(tree["traced_bytes"]), "bold"),
                f" at {tree['at_s']:.2f} s ({tree['processes']} processes, see Processes below)",
            )
        )
    error = profile.peak_standard_error
    if profile.mode == "sample" and error >= NOISY_PEAK * profile.peak_bytes > 0:
        console.print(
            f"Sampled: the peak's estimate has a standard error of {format_bytes(error)} "
            f"({error / profile.peak_bytes:.0%}); the highest of the run's estimates, it tends to "
            "overstate a small heap that changes fast (--mode exact measures it)."
        )
    native = {d: b for d, b in profile.peak_by_domain.items() if d != "python" and b > 0}
    if native:
        parts = ", ".join(f"{domain} {format_bytes(b)}" for domain, b in native.items())
        python = profile.peak_by_domain.get("python", 0)
        console.print(f"At the peak: Python objects {format_bytes(python)}, {parts}")
    for problem in untraced or []:
        console.print(Text(f"Not traced: {problem}", style="yellow"))
    program = [] if all_frames else profile.program_lines()
    if program:
        entries = [(s, via) for s, via in program if s.bytes_at_peak > 0][:top]
        title = "Top lines of the program by bytes live at the peak (library lines under each)"
    else:
        entries = [(s, []) for s in profile.lines() if s.bytes_at_peak > 0][:top]
        title = "Top lines by bytes live at the peak"
    lines = [stats for stats, _ in entries]
    if not lines:
        console.print("No allocation was live at the peak.")
        return
    table = Table(title=title, title_justify="left")
    # One row per line, never wrapped: the location (cut from the left: the file's name and the
    # line number stay) above its function, the numbers, and the source in what width is left.
    shown = [d for d in native if any(stats.native_at_peak.get(d, 0) for stats in lines)]
    headers = ["line", "at peak", "% peak", *shown, allocations_header(profile.mode)]
    places, rows = [], []
    for stats in lines:
        function = stats.function if len(stats.function) <= 40 else stats.function[:39] + "…"
        places.append((_where(stats.file, stats.line, width=40), function))
        rows.append(
            [
                format_bytes(stats.bytes_at_peak),
                _share(stats.bytes_at_peak, profile.peak_bytes),
                *(format_bytes(stats.native_at_peak.get(domain, 0)) for domain in shown),
                f"{stats.allocations:,}",
            ]
        )
    # The location column holds the library lines under each row too (cut at 36, then "  ↳ ").
    under = [
        4 + len(part)  # after "  ↳ " and "    "
        for _stats, via in entries
        for frame, _at_peak in via
        for part in (_where(frame.file, frame.line, width=36), frame.function[:36])
    ]
    widths = [max(len(headers[0]), *(len(part) for place in places for part in place), *under)]
    columns = zip(headers[1:], zip(*rows, strict=True), strict=True)
    widths += [max(len(header), *map(len, column)) for header, column in columns]
    room = _room_for_source(console, widths)
    with_source = room >= 12
    for number, header in enumerate(headers):
        # The numbers keep their width: where the row is too wide (a pipe's 120 columns with
        # NumPy's and native columns), the location is cut, not "65.6 M…".
        table.add_column(
            header,
            justify="left" if number == 0 else "right",
            no_wrap=True,
            overflow="ellipsis",
            min_width=None if number == 0 else widths[number],
        )
    if with_source:
        table.add_column("source", overflow="ellipsis", no_wrap=True, max_width=min(room, 60))
    for (stats, via), (where, function), row in zip(entries, places, rows, strict=True):
        source = [_source(stats.file, stats.line)] if with_source else []
        table.add_row(Text.assemble(where, "\n", (function, "dim")), *row, *source)
        for frame, at_peak in via:  # the library lines this line's stacks went through
            under = Text.assemble(
                ("  ↳ " + _where(frame.file, frame.line, width=36), "dim"),
                "\n",
                ("    " + frame.function[:36], "dim"),
            )
            blanks = [""] * (len(row) - 2 + len(source))
            share = _share(at_peak, profile.peak_bytes)
            table.add_row(under, Text(format_bytes(at_peak), "dim"), Text(share, "dim"), *blanks)
    console.print(table)

    stacks = profile.stacks(3)
    if stacks:
        console.print(Text("Top stacks at the peak", style="italic"))
        for frames, total in stacks:
            console.print(f"  {format_bytes(total)} ({_share(total, profile.peak_bytes)}% of peak)")
            for frame in frames[:8]:
                console.print(Text(f"    {frame.function}  {_where(frame.file, frame.line)}"))
            if len(frames) > 8:
                console.print(f"    … {len(frames) - 8} outer frames")

    heaviest = profile.heaviest_function()
    if heaviest is not None:
        frame, per_line = heaviest
        print_function_table(
            frame, per_line, profile.peak_bytes, console=console, mode=profile.mode
        )
    if census is not None:
        # What no census can see: the peak's native memory (a parser's buffers, say).
        unseen = sum(profile.peak_by_domain.values()) - profile.peak_visible_bytes
        print_census(
            census[0], census[1], profile.peak_bytes, top=top, console=console, unseen=unseen
        )
    if rss:
        print_rss_ledger(rss, profile.peak_bytes, console=console)
    if findings:
        print_findings(findings, profile.peak_bytes, console=console)
    if profile.mode == "sample" and census is not None:
        # A run with none said nothing: sample mode's users did not know what they missed.
        console.print(
            Text(
                "Sample mode makes no findings that need every object's allocation site"
                " (intern, tuple, array, record-dict, cycle, pandas columns): --mode exact"
                " makes them.",
                style="dim",
            )
        )


def print_rss_ledger(rss: dict[str, Any], peak_bytes: int, *, console: Console) -> None:
    """RSS explained: what resident memory was made of near the peak and at the end."""
    from memslim.rss import UNTOUCHED_ROW, why_rss_stays_high

    columns = [(when, ledger) for when, ledger in rss.items() if ledger is not None]
    if not columns:
        return
    names = {"at_peak_census": "at the census nearest the peak", "end": "at the end"}
    table = Table(title="RSS explained", title_justify="left")
    table.add_column("")
    for when, ledger in columns:
        table.add_column(f"{names.get(when, when)} ({ledger.seconds:.2f} s)", justify="right")
    table.add_row("RSS", *(format_bytes(ledger.rss) for _, ledger in columns))
    rows = [ledger.rows() for _, ledger in columns]  # the same labels in each
    for i, (label, _) in enumerate(rows[0]):
        cells = [row[i][1] for row in rows]
        if label == UNTOUCHED_ROW and not any(cells):
            continue  # nearly every program writes what it allocates
        table.add_row(label, *("not known" if v is None else format_bytes(v) for v in cells))
    console.print(table)
    end = rss.get("end")
    if end is not None:
        why = why_rss_stays_high(end, peak_bytes)
        if why is not None:
            console.print(Text(why))


def print_limit(limit: Any, *, console: Console) -> None:
    """Whether the program's peak fits a memory limit (memslim.limit.Fit), and which findings
    together bring it under."""
    verdict, lines = limit.describe()
    console.print(Text(verdict, style="bold" if limit.fits else "bold yellow"))
    for line in lines:
        console.print(Text(f"  {line}"))


def print_verify(verified: Any, *, console: Console) -> None:
    """What ``--verify`` saw (memslim.verify.Verified), or why it did not run (a str)."""
    if isinstance(verified, str):
        console.print(Text(f"Verify: not done: {verified}.", style="bold yellow"))
        return
    same = verified.same_output and verified.same_exit
    console.print(
        Text(
            "Verify: the fixes applied in a copy, the program run as it is and patched",
            style="bold",
        )
    )
    # A patched run whose exit status changed (a fix broke the program: it ended early) saved
    # nothing that counts, and its findings tell nothing: neither is claimed.
    failed = not verified.same_exit
    exit_was = verified.original.exit_code
    for (finding, gone), alone, code, same_alone in zip(
        verified.applied,
        verified.alone,
        verified.alone_exit,
        verified.alone_same_output,
        strict=True,
    ):
        if alone is None:
            by_itself = ""
        elif code is not None and code != exit_was:
            by_itself = f"alone it changed the exit status ({exit_was} → {code}); "
        else:
            by_itself = f"alone it saved {format_bytes(alone)}; "
            if same_alone is False:
                by_itself += "alone it changed the output; "
        console.print(
            Text(
                f"  [{finding.kind}] {_where(finding.file, finding.line)} {finding.symbol} — "
                f"predicted {format_bytes(finding.saving_bytes)}; "
                + by_itself
                + (
                    "not known after the patch (the patched run failed)"
                    if failed
                    else "gone after the patch"
                    if gone
                    else "still found after the patch"
                )
            )
        )
    saved = (
        f"no saving measured, against {format_bytes(verified.predicted_bytes)} predicted"
        if failed
        else f"saved {format_bytes(verified.measured_bytes)} against "
        f"{format_bytes(verified.predicted_bytes)} predicted"
    )
    console.print(
        Text(
            f"  peak traced {format_bytes(verified.original.peak_bytes)} → "
            f"{format_bytes(verified.patched.peak_bytes)}: {saved}; "
            + (
                "output and exit status the same"
                if same
                else ("the output differs" if not verified.same_output else "")
                + (" and " if not verified.same_output and not verified.same_exit else "")
                + (
                    f"the exit status differs ({verified.original.exit_code} → "
                    f"{verified.patched.exit_code})"
                    if not verified.same_exit
                    else ""
                )
            ),
            style=None if same else "bold yellow",
        )
    )


def print_findings(findings: list[Finding], peak_bytes: int, *, console: Console) -> None:
    """ "How to save memory": each finding with what it saves at the peak and the fix."""
    console.print(Text("How to save memory", style="bold"))
    for number, finding in enumerate(findings, 1):
        if finding.time_only:
            gain = "speed (no memory saving claimed)"
        elif finding.line == 0:  # no line to change (a class made by type())
            gain = "no line to change, no saving claimed"
        else:
            gain = (
                f"saves {format_bytes(finding.saving_bytes)} "
                f"({_share(finding.saving_bytes, peak_bytes)}% of the peak)"
            )
        console.print(
            Text.assemble(
                (f"{number}. [{finding.kind}] ", "bold"),
                f"{_where(finding.file, finding.line)} — {gain}",
            )
        )
        console.print(Text(f"   {finding.message}"))
        console.print(_fix(finding.fix, console))


def _fix(code: str, console: Console) -> Any:
    """A finding's fix, three spaces in: highlighted where the console shows colours. Elsewhere
    (a pipe, a file, CI's log, NO_COLOR) highlighting would only be thrown away, and Pygments'
    Python lexer compiles its rules on first use: 30-50 ms of every report with a finding
    (pandas' bench job, cProfile of the end of the run). rich's Syntax is imported here, when a
    fix is shown on a colour console: with Pygments it costs 17 ms, every report that has no
    finding included."""
    indent = (0, 3)
    if console.color_system is None:
        return Padding(Text(code), indent)
    from rich.syntax import Syntax

    return Syntax(code, "python", theme="ansi_dark", padding=indent)


def print_census(
    traced_at_census: int,
    heap: HeapCensus,
    peak_bytes: int,
    *,
    top: int,
    console: Console,
    near_peak: bool = True,
    unseen: int = 0,
) -> None:
    """The objects alive at the last census before the peak (or, not ``near_peak``, at the
    census an attach took), and what keeps them alive. ``unseen``: the peak's bytes that no
    census can see (native memory), said when they are a quarter of the peak or more."""
    if near_peak:
        line = (
            f"Heap census near the peak: taken at {format_bytes(traced_at_census)} traced "
            f"({_share(traced_at_census, peak_bytes)}% of the peak), "
            f"{heap.objects:,} objects, {format_bytes(heap.bytes)}"
        )
        # Exact mode knows the site of every object made while tracking: the rest was there
        # before (the interpreter's and memslim's modules), which is why the census's bytes
        # can exceed the traced bytes.
        # (A capture's rows, as the report wrote them, are those of known sites already.)
        sited = (
            sum(bytes_by_site(heap.sites).values())
            if isinstance(heap.sites, SiteRows)
            else sum(row.bytes for row in heap.sites)
        )
        before = heap.bytes - sited if heap.sites else 0
        if not (isinstance(heap, HeapCensus) and heap.site_live) and before * 20 >= heap.bytes:
            line += f" ({format_bytes(before)} of it made before tracking began)"
        if peak_bytes > 0 and unseen * 4 >= peak_bytes:
            line += (
                f"; {_share(unseen, peak_bytes)}% of the peak was native memory, which no census"
                " sees (the lines above show where it was allocated)"
            )
        console.print(Text(line))
    table = Table(title="Objects by type", title_justify="left")
    table.add_column("type", overflow="fold")
    table.add_column("count", justify="right")
    table.add_column("bytes", justify="right")
    for row in heap.types[:top]:
        table.add_row(Text(row.name), f"{row.count:,}", format_bytes(row.bytes))
    console.print(table)
    if heap.sites:
        sampled = isinstance(heap, HeapCensus) and bool(heap.site_live)
        title = "Objects by type and allocation site" + (
            " (estimated from the sampled blocks)" if sampled else ""
        )
        sites = Table(title=title, title_justify="left")
        sites.add_column("type", overflow="fold")
        sites.add_column("allocated at", no_wrap=True, overflow="ellipsis")
        sites.add_column("count", justify="right", no_wrap=True)
        sites.add_column("bytes", justify="right", no_wrap=True)
        shown = heap.estimated_sites() if isinstance(heap, HeapCensus) else heap.sites
        for name, frame, count, size in _rows_by_line(largest_sites(shown, top * 8))[:top]:
            # As in the top lines: the location (cut from the left) above its function.
            where = (
                Text.assemble(_where(frame[0], frame[2], width=50), "\n", (frame[1], "dim"))
                if frame
                else Text("<no Python stack>")
            )
            sites.add_row(Text(name), where, f"{count:,}", format_bytes(size))
        console.print(sites)
    if heap.retainers:
        retainers = Table(
            title="Top retainers (what would be freed without them)", title_justify="left"
        )
        retainers.add_column("retains", justify="right")
        retainers.add_column("object")
        retainers.add_column("path from a root", overflow="fold")
        for r in heap.retainers[:top]:
            retainers.add_row(format_bytes(r.retained), Text(r.type_name), Text(r.path))
        console.print(retainers)


def _room_for_source(console: Console, widths: list[int]) -> int:
    """The width left for a source column beside columns of these widths (borders and padding
    included): tables never wrap a row, and the numbers are never cut."""
    return console.width - sum(widths) - 3 * (len(widths) + 1) - 1


def print_function_table(
    frame: FrameInfo,
    per_line: dict[int, LineStats],
    peak_bytes: int,
    *,
    console: Console,
    mode: str = "exact",
) -> None:
    """Every line of one function that allocated, in source order."""
    table = Table(
        title=Text(f"{frame.function} ({_where(frame.file, frame.line)}), line by line"),
        title_justify="left",
    )
    headers = ["line", "at peak", "% peak", "allocated", allocations_header(mode)]
    rows = [
        [
            str(number),
            format_bytes(per_line[number].bytes_at_peak),
            _share(per_line[number].bytes_at_peak, peak_bytes),
            format_bytes(per_line[number].allocated_bytes),
            f"{per_line[number].allocations:,}",
        ]
        for number in sorted(per_line)
    ]
    widths = [max(len(header), *(len(row[i]) for row in rows)) for i, header in enumerate(headers)]
    room = _room_for_source(console, widths)
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    if room >= 12:
        table.add_column("source", overflow="ellipsis", no_wrap=True, max_width=min(room, 50))
    for number, row in zip(sorted(per_line), rows, strict=True):
        source = [_source(per_line[number].file, number)] if room >= 12 else []
        table.add_row(*row, *source)
    console.print(table)


def print_saved_heap(
    heap: SavedHeap,
    baseline: SavedHeap | None,
    *,
    title: str,
    top: int,
    console: Console | None = None,
) -> None:
    """`memslim heap FILE [--baseline OLD]`: census, retained bytes per type, growth."""
    console = console or report_console()
    console.print(
        Text(f"memslim heap {title}: {heap.objects:,} objects, {format_bytes(heap.bytes)}")
    )
    table = Table(title="Objects by type", title_justify="left")
    table.add_column("type", overflow="fold")
    table.add_column("count", justify="right")
    table.add_column("bytes", justify="right")
    table.add_column("retained", justify="right")
    table.add_column("largest single retainer", justify="right")
    for t in heap.types[:top]:
        table.add_row(
            Text(t.name),
            f"{t.count:,}",
            format_bytes(t.bytes),
            format_bytes(t.retained),
            format_bytes(t.largest),
        )
    console.print(table)
    if baseline is not None:
        growth = Table(title="Growth since the baseline", title_justify="left")
        growth.add_column("type", overflow="fold")
        growth.add_column("new objects", justify="right")
        growth.add_column("new bytes", justify="right")
        for row in heap.growth(baseline)[:top]:
            growth.add_row(Text(row.type), f"{row.count:+,}", f"{row.bytes:+,}")
        console.print(growth)


def print_processes(report: dict[str, Any], *, top: int = 10, console: Console) -> None:
    """Child processes (children.merged): each one's peak, the whole tree's peak, and the top
    lines across processes."""
    rows = report.get("processes") or []
    if not rows:
        return
    table = Table(title="Processes", title_justify="left")
    # A note only for a process that was killed (an empty, untitled column otherwise).
    noted = any(not row["complete"] for row in rows)
    for header in ("pid", "parent", "what", "peak traced", "at", "ran", "note")[
        : 7 if noted else 6
    ]:
        table.add_column(header, justify="left" if header in ("what", "note") else "right")
    main = report.get("process") or {}
    table.add_row(
        str(main.get("pid", "")),
        str(main.get("ppid", "")),
        Text(" ".join(report.get("command", []))[:60]),
        format_bytes(report["peak"]["traced_bytes"]),
        f"{report['peak']['at_s']:.2f} s",
        f"{report['duration_s']:.2f} s",
        *([""] if noted else []),
    )
    for row in rows:
        table.add_row(
            str(row["pid"]),
            str(row["ppid"]),
            Text(str(row["name"])[:60]),
            format_bytes(row["peak_traced_bytes"]),
            f"{row['peak_at_s']:.2f} s",
            f"{row['duration_s']:.2f} s",
            *(
                []
                if not noted
                else [""]
                if row["complete"]
                else [Text("killed: last checkpoint", style="yellow")]
            ),
        )
    console.print(table)
    tree = report["tree_peak"]
    console.print(
        Text.assemble(
            "Whole process tree: peak traced ",
            (format_bytes(tree["traced_bytes"]), "bold"),
            f" at {tree['at_s']:.2f} s ({tree['processes']} processes; times from the start of"
            " the run, each process's bytes from its timeline)",
        )
    )
    lines = report.get("lines_across_processes") or []
    if lines:
        across = Table(
            title="Top lines across processes (each at its own process's peak)",
            title_justify="left",
        )
        for header in ("pid", "line", "at peak", "function"):
            across.add_column(header, justify="left" if header in ("line", "function") else "right")
        for row in lines[:top]:
            across.add_row(
                str(row["pid"]),
                _where(row["file"], row["line"], width=50),
                format_bytes(row["bytes_at_peak"]),
                Text(str(row["function"])),
            )
        console.print(across)
