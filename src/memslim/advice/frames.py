"""``category``, ``arrow-strings`` and ``downcast``: pandas DataFrame columns alive at the peak
that a narrower form holds in fewer bytes — strings of few distinct values as ``category``,
other columns of Python strings (pandas 2's ``object``) as ``string[pyarrow]`` where PyArrow is
installed, integers as the narrowest integer dtype their values fit, float64 as float32 (lossy).
Each is measured on the column itself in the census child (memslim._frames): the categorical
and the Arrow array are built and measured, integer widths are arithmetic on the column's
length. Charged to the program's line that made
the frame (a ``read_csv`` call gets the ``dtype=`` argument as its fix).

``frame-copy``: two frames alive at the peak whose columns hold the same values in separate
memory (``clean = raw.copy()`` with both kept), compared value by value in the census child.
Charged to the frame whose line calls ``.copy()``, else to the later line; the saving is the
copied columns' bytes."""

from __future__ import annotations

import ast
import json
import linecache
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from memslim.advice._finding import Finding, Run
from memslim.advice.dtype import narrowest_integer, overflows_float32
from memslim.advice.source import (
    calls_a_reader,
    converted_column,
    frame_column_value,
    line_text,
    nodes_at,
    syntax_tree,
    user_frame,
)

_ASSIGNED = re.compile(r"^\s*([A-Za-z_][A-Za-z_0-9]*)\s*=[^=]")
_DEEP_COPY = re.compile(r"\.copy\(\s*(deep\s*=\s*True\s*)?\)")


def _fix(file: str, line: int, column: str, dtype: str) -> str:
    """The changed code: ``dtype=`` on a reader call; the column's entry converted where a
    ``DataFrame({...})`` at the line builds it; else a conversion after the line."""
    source = line_text(file, line)
    if calls_a_reader(source):
        return f'{source}  # add: dtype={{"{column}": "{dtype}"}}'
    tree = syntax_tree(file)
    entry = frame_column_value(tree, line, column) if tree is not None else None
    if entry is not None:
        pandas, value = entry
        text = ast.get_source_segment("".join(linecache.getlines(file)), value)
        if text is not None:
            converted = converted_column(pandas, dtype, text)
            return f"{json.dumps(column)}: {converted},  # its entry in the DataFrame({{...}}) here"
    target = _ASSIGNED.match(source)
    frame = target.group(1) if target else "df"
    return f'{source}\n{frame}["{column}"] = {frame}["{column}"].astype("{dtype}")'


@dataclass
class _Summed:
    """One column's finding at one line: the first frame's facts, the bytes summed over all."""

    column: dict[str, Any]
    dtype: str
    lossy: bool
    rows: int
    now: int = 0
    after: int = 0
    cells: int = 0


def _narrower(column: dict[str, Any]) -> tuple[str, str, int, bool] | None:
    """(kind, dtype, bytes after, lossy) of the column's narrower form, or None."""
    if column["kind"] == "O":  # as category when few of its values are distinct (_frames)
        if "as_category" in column:
            return "category", "category", column["as_category"], False
        return "arrow-strings", "string[pyarrow]", column["as_arrow"], False
    if column["kind"] in "iu":
        narrow = narrowest_integer(column["min"], column["max"])
        if narrow is None or narrow[1] >= column["itemsize"]:
            return None
        return "downcast", narrow[0], column["size"] * narrow[1], False
    if column["kind"] == "f" and column["itemsize"] == 8 and not overflows_float32(column):
        return "downcast", "float32", column["size"] * 4, True
    return None


def _after_the_read(
    run: Run, seen: set[int], at_peak: dict[tuple[str, int], int]
) -> list[dict[str, Any]]:
    """Frames the report's census did not see but another census did, made at a line that held
    at the peak at least half of what they hold: a read whose parse was the peak (pandas 2
    parses in the program's thread, and its census is taken inside the read; the frame the read
    returns is seen by the census after it). On pandas 2.3 a column's narrower form saves
    about as much at the parse's peak as on the frame (400,000 rows, tracemalloc, 2026-12-04:
    a category column −2.8 MB at the peak and on the frame, uint8 −2.8 and −2.8, uint32 −1.6
    and −1.6, string[pyarrow] names −32.2 and −32.1)."""
    if not run.frame_facts:
        return []
    from memslim import _stacks

    rows: list[dict[str, Any]] = []
    for site, site_rows in run.frame_facts.items():
        if site in seen:
            continue
        place = user_frame(_stacks.frames(site))
        if place is None:
            continue
        total = sum(column["bytes"] for row in site_rows for column in row["columns"])
        if total <= 0 or at_peak.get((place[0], place[2]), 0) < total // 2:
            continue  # the frame and its read were not the peak: a narrower column saves none of it
        rows.extend(dict(row, frames=_stacks.frames(site)) for row in site_rows)
    return rows


def _alive(run: Run, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's census's frames with their facts. A census walked in the program's process
    (a thread in a native library without the GIL: pandas 3.1's parallel read_csv) measures
    none (``measured`` False): a frame it saw alive takes the facts that a census child
    measured at its site, whatever its line held at the peak. Which census was the report's
    decided, on pandas' bench job, whether a merged frame's columns got findings at all."""
    if all(row.get("measured", True) for row in rows):
        return rows
    from memslim import _stacks

    alive: list[dict[str, Any]] = []
    taken: set[int] = set()  # frames made at one site (in a loop): its rows once
    for row in rows:
        site = row.get("site")
        if row.get("measured", True):
            alive.append(row)
        elif site not in taken:
            taken.add(site)
            alive.extend(
                dict(measured, frames=_stacks.frames(site))
                for measured in run.frame_facts.get(site, ())
            )
    return alive


def _holders(rows: list[dict[str, Any]]) -> dict[int, int]:
    """Of the columns that several frames of one census hold (the same memory), which frame's
    row each is charged to: the frame made at the line that made the column (`origin`), where
    there is one. A merge that keeps the left frame's rows holds the left frame's columns
    (pandas 3, copy-on-write): converting the merged frame's column alone frees nothing while
    the left frame holds it (pandas' bench job: −0.6 MB measured, 18.8 MiB claimed), but
    converted where it is made, both frames hold the narrower column. Otherwise the frame that
    measured it (the largest)."""
    from memslim import _stacks

    holders: dict[int, int] = {}
    shared = {
        column.get("memory")
        for row in rows
        for column in row["columns"]
        if column.get("shared") and column.get("memory")
    }
    for memory in shared:
        places = [
            (index, user_frame(row.get("frames")), column)
            for index, row in enumerate(rows)
            for column in row["columns"]
            if column.get("memory") == memory
        ]
        measured = next((index for index, _p, column in places if not column.get("shared")), None)
        origin_site = next((c.get("origin") for _i, _p, c in places if c.get("origin")), None)
        origin = None if origin_site is None else user_frame(_stacks.frames(origin_site))
        made_there = next(
            (
                index
                for index, place, _column in places
                if origin is not None and place is not None and place[::2] == origin[::2]
            ),
            None,
        )
        chosen = measured if made_there is None else made_there
        if chosen is not None:
            holders[memory] = chosen
    return holders


def _held_at_peak(run: Run) -> dict[tuple[str, int], int]:
    """Each program line's exact bytes at the peak (every stack under it)."""
    return {(s.file, s.line): s.bytes_at_peak for s, _via in run.profile.program_lines()}


def _statement_lines(file: str, line: int) -> range:
    """The lines of the innermost statement at ``line`` (a call spread over lines)."""
    spans = [(n.lineno, n.end_lineno or n.lineno) for n in nodes_at(file, line, ast.stmt)]
    if not spans:
        return range(line, line + 1)
    first, last = min(spans, key=lambda span: span[1] - span[0])
    return range(first, last + 1)


def _alive_at_peak(run: Run, row: dict[str, Any], held: int) -> bool:
    """Whether the frame of ``row`` (or one made at its allocation site) was alive at the peak,
    or the statement that made it held at the peak more than its columns (the peak was inside
    the read or the construction that made it: a dtype= there saves at it). A frame made after
    the peak, which a later census saw, saves nothing at the peak: a row filter after a read
    whose parse was the peak claimed 4.6 MiB for its columns, and --verify measured 24 KiB
    (2026-12-05)."""
    site = row.get("site")
    if site is None or run.profile.at_peak(site) > 0:
        return True
    return held > sum(column["bytes"] for column in row["columns"])


def find(run: Run) -> Iterator[Finding]:
    # The frame's line is its object's allocation site: known in exact mode only (a frame's
    # object is a few hundred bytes, rarely one of sample mode's blocks).
    facts = run.site_facts
    if facts is None:
        return
    # Each program line's exact bytes at the peak: which frames were the peak's, and where the
    # peak was inside the read that made them. Read only where there is a frame.
    at_peak = _held_at_peak(run) if facts.frames or run.frame_facts else {}
    alive = _alive(run, facts.frames)
    later = _after_the_read(run, {row.get("site") for row in facts.frames}, at_peak)
    # Frames made on one line (in a loop, say) add up; a column two frames share (a pandas
    # copy-on-write copy) was measured once, with the larger frame (memslim._frames), and is
    # charged to one of them (_holders).
    found: dict[tuple[str, int, str, str], _Summed] = {}
    frame_bytes: dict[tuple[str, int], int] = {}  # the large columns of the frames made there
    rows = [*alive, *later]
    holders = _holders(alive)
    for index, frame_row in enumerate(rows):
        frame = user_frame(frame_row.get("frames"))
        if frame is None:
            continue
        file, _function, line = frame
        held = sum(at_peak.get((file, at), 0) for at in _statement_lines(file, line))
        if not _alive_at_peak(run, frame_row, held):
            continue
        for column in frame_row["columns"]:
            # A shared column counts once: at its holder's row, else (a frame not alive at the
            # report's census) where it was measured.
            holder = holders.get(column.get("memory", 0)) if index < len(alive) else None
            counted = not column.get("shared") if holder is None else holder == index
            if not counted:
                continue
            frame_bytes[(file, line)] = frame_bytes.get((file, line), 0) + column["bytes"]
            narrower = _narrower(column)
            if narrower is None:
                continue
            kind, dtype, after, lossy = narrower
            key = (file, line, column["name"], kind)
            summed = found.setdefault(key, _Summed(column, dtype, lossy, frame_row["rows"]))
            summed.now += column["bytes"]
            summed.after += after
            summed.cells += column["size"]
    # Where the line held more than 1.5 times its frames' columns at the peak, the peak was
    # inside the read that made them (the parser's buffers), whichever census saw the frame.
    inside = {key for key, size in frame_bytes.items() if at_peak.get(key, 0) > 1.5 * size}
    for (file, line, name, kind), summed in found.items():
        column, dtype, lossy, rows = summed.column, summed.dtype, summed.lossy, summed.rows
        now, after, cells = summed.now, summed.after, summed.cells
        if kind == "category":
            what = (
                f"{column['dtype']} values, {column['categories']:,} distinct; as category it "
                f"would hold {after:,} bytes (a small integer code per row and each value once)"
            )
            pool = column.get("arrow_pool")
            if pool is not None and pool != "system":
                what += (
                    f"; its values are PyArrow's, held in its {pool} pool, which memslim does"
                    " not trace: the saving is in RSS, not in the traced peak"
                )
            shared = column.get("shared_bytes", 0)
            if shared >= now // 10:
                what += (
                    f". Its values also hold {shared:,} bytes that other objects share (another"
                    " frame's column, say): converted where they are made, those go too"
                )
        elif kind == "arrow-strings":
            what = (
                f"{cells:,} Python strings, most of them distinct (each an object of its own);"
                f" as string[pyarrow] it would hold {after:,} bytes (their characters in one"
                " buffer and an offset per row)"
            )
            pool = column.get("arrow_pool") or "own"
            if pool != "system":
                what += (
                    f", in PyArrow's {pool} pool, which memslim does not trace: the traced"
                    f" peak falls by all {now:,} bytes, the process's memory by the saving"
                )
        elif lossy:
            what = (
                f"float64 values from {column['min']:.6g} to {column['max']:.6g}; as float32 it "
                "would hold half of that, with about 7 significant digits instead of 16"
            )
        else:
            what = (
                f"{column['dtype']} values from {column['min']} to {column['max']}, which fit "
                f"{dtype}: {after:,} bytes"
            )
        if (file, line) in inside:
            message = (
                f"Column {name!r} of the DataFrame read here ({rows:,} rows) holds {now:,} bytes:"
                f" {what}. The peak was inside this read; converted as it is read, the column"
                " saves about as much at the read's peak (`--verify` measures it)."
            )
        else:
            message = (
                f"Column {name!r} of a DataFrame made here ({rows:,} rows) holds {now:,} bytes"
                f" at the peak: {what}."
            )
        yield Finding(
            kind=kind,
            file=file,
            line=line,
            symbol=name,
            count=cells,
            bytes_now=now,
            bytes_after=after,
            message=("Lossy: " + message) if lossy else message,
            fix=_fix(file, line, name, dtype),
            lossy=lossy,
        )


def _copy_on_write() -> bool:
    """Whether the program's pandas copies on write (pandas 3, or the option turned on): there a
    shallow copy behaves as a copy. Without it, writing one frame would change the other."""
    pandas = sys.modules.get("pandas")
    if pandas is None:
        return False
    try:
        major = int(str(pandas.__version__).split(".")[0])
        return major >= 3 or pandas.options.mode.copy_on_write is True
    except (AttributeError, ValueError):
        return False


def _copy_fix(source: str, original: str) -> str:
    """A shallow copy where the line makes a deep one and pandas copies on write, else a
    comment."""
    if _DEEP_COPY.search(source) and _copy_on_write():
        return _DEEP_COPY.sub(".copy(deep=False)", source, count=1)
    return f"{source}  # keep one of this frame and the one made at {original}"


def _is_the_copy(here: tuple[str, str, int], there: tuple[str, str, int]) -> bool:
    """Of two frames with the same columns, made at `here` and `there`, whether `here` made
    the copy."""
    copies_here = bool(_DEEP_COPY.search(line_text(here[0], here[2])))
    if copies_here != bool(_DEEP_COPY.search(line_text(there[0], there[2]))):
        return copies_here
    return (here[0], here[2]) > (there[0], there[2])


def find_copies(run: Run) -> Iterator[Finding]:
    facts = run.site_facts
    if facts is None:
        return
    rows = facts.frames
    places = [user_frame(row.get("frames")) for row in rows]
    # Charged to the copy: of two frames, the one whose line calls .copy(), else the later
    # line (a copy is made after what it copies). A column counts once however many frames
    # hold its values; frames made on one line add up.
    found: dict[tuple[str, int], list[Any]] = {}
    for index, row in enumerate(rows):
        here = places[index]
        if here is None:
            continue
        copied: dict[str, tuple[int, tuple[str, str, int]]] = {}
        for copy in row.get("copies", ()):
            there = places[copy["of"]]
            if there is not None and _is_the_copy(here, there):
                copied.setdefault(copy["name"], (copy["bytes"], there))
        if copied:
            summed = found.setdefault(
                (here[0], here[2]), [0, set(), min(t for _b, t in copied.values()), row["rows"]]
            )
            summed[0] += sum(size for size, _there in copied.values())
            summed[1].update(copied)
    for (file, line), (now, names, there, frame_rows) in found.items():
        original = f"{there[0]}:{there[2]}" if there[0] != file else f"line {there[2]}"
        shown = ", ".join(repr(name) for name in sorted(names)[:5])
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        yield Finding(
            kind="frame-copy",
            file=file,
            line=line,
            symbol=", ".join(sorted(names)),
            count=len(names),
            bytes_now=now,
            bytes_after=0,
            message=(
                f"A DataFrame made here ({frame_rows:,} rows) holds {len(names)} column(s) "
                f"({shown}{more}) with the same values as the frame made at {original}, in "
                f"memory of their own: {now:,} bytes at the peak. Keeping only one of the "
                "frames saves them; so does a shallow copy (`.copy(deep=False)`) where pandas "
                "copies on write (pandas 3): it copies a column only when one frame writes it."
            ),
            fix=_copy_fix(line_text(file, line), original),
        )


def _usecols_fix(source: str, uses: Any, keep: list[str]) -> str:
    """The reader call's line with the selection added (a call spanning lines: a comment)."""
    listed = "[" + ", ".join(f'"{name}"' for name in keep) + "]"
    call = uses.call
    if call.lineno == call.end_lineno and source.rstrip().endswith(")"):
        head = source.rstrip()[:-1].rstrip()
        separator = "" if head.endswith("(") else ", "
        return f"{head}{separator}{uses.keyword}={listed})"
    return f"{source}  # add: {uses.keyword}={listed}"


def find_unused(run: Run) -> Iterator[Finding]:
    """``usecols``: columns of a frame read from a file that the program never uses (its
    source says so: memslim.advice.columns).

    The frame's columns are measured in a census child (memslim._frames), in whichever census
    saw the frame: the census nearest the peak may have run inside the read itself, when the
    parser's buffers made the peak. What the read's line held at the peak is exact (the
    tracker's bytes of every stack under that line); the saving is its share that the unused
    columns hold in the frame: the frame itself when it is what the line held at the peak, and
    the parser's buffers, which grow with the columns it converts, when the peak was inside
    the read."""
    if not run.exact or not run.frame_columns:
        return
    from memslim import _stacks
    from memslim.advice.columns import column_uses

    pandas = sys.modules.get("pandas")
    frame_type = getattr(pandas, "DataFrame", None)
    found: dict[tuple[str, int], list[Any]] = {}
    for site, (rows, sizes) in run.frame_columns.items():
        place = user_frame(_stacks.frames(site))
        if place is None:
            continue
        file, _function, line = place
        uses = column_uses(file, line)
        if uses is None:
            continue
        # df.name: a column only if the frame has it and a DataFrame has no such attribute.
        if any(a not in sizes or hasattr(frame_type, a) for a in uses.attributes):
            continue
        unused, keep = _split(sizes, uses)
        if not unused or not keep:
            continue
        summed = found.setdefault((file, line), [{}, 0, uses])
        for name, size in sizes.items():
            summed[0][name] = summed[0].get(name, 0) + size
        summed[1] += rows
    if not found:
        return
    at_peak = {(s.file, s.line): s.bytes_at_peak for s, _via in run.profile.program_lines()}
    for (file, line), (sizes, rows, uses) in found.items():
        total = sum(sizes.values())
        held = at_peak.get((file, line), 0)
        unused, keep = _split(sizes, uses)
        unused_bytes = sum(sizes[name] for name in unused)
        if total <= 0 or held <= 0:
            continue
        after = held - held * unused_bytes // total
        shown = ", ".join(repr(name) for name in unused[:6])
        more = f" and {len(unused) - 6} more" if len(unused) > 6 else ""
        share = f"{100 * unused_bytes / total:.0f}%"
        inside = held > 1.5 * total  # the line held more than its frames: the parse's peak
        where = (
            "the peak was inside this read, its parser's buffers grow with the columns it converts"
            if inside
            else "the frame held them at the peak"
        )
        yield Finding(
            kind="usecols",
            file=file,
            line=line,
            symbol=", ".join(unused),
            count=len(unused),
            bytes_now=held,
            bytes_after=after,
            message=(
                f"A DataFrame read here ({rows:,} rows) holds {len(unused)} column(s) that the "
                f"program never uses ({shown}{more}): {share} of the frame's bytes. This line "
                f"held {held:,} bytes at the peak ({where}). Reading only the {len(keep)} "
                f"it uses (`{uses.keyword}=`) leaves the others in the file."
            ),
            fix=_usecols_fix(line_text(file, line), uses, keep),
        )


def _split(sizes: dict[str, int], uses: Any) -> tuple[list[str], list[str]]:
    """(columns never used, columns the selection keeps) of a frame read at one line. A column
    the program writes before reading it is neither: it is not the file's."""
    unused = [name for name in sizes if name not in uses.read and name not in uses.created]
    keep = [name for name in sizes if name in uses.read and name not in uses.created]
    # The reader's own columns the frame does not show (index_col) stay in the selection.
    keep += sorted(name for name in uses.read - set(sizes) if name in _named(uses))
    return unused, keep


def _named(uses: Any) -> set[str]:
    """Columns that the reader call itself names (index_col, parse_dates, dtype's keys)."""
    from memslim.advice.columns import reader_columns

    return set(reader_columns(uses.call) or ())
