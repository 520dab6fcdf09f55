"""RSS explained: a ledger of what a process's resident memory is made of.

RSS (``/proc/self/status``) = what the program holds (traced by memslim, per domain), less its
large blocks' pages that were never written (requested, not resident: ``np.zeros``, a parser's
buffer grown ahead) + free space in pymalloc's arenas (an arena goes back to the system only
when every block in it is free) + freed memory the C allocator keeps (glibc's ``mallinfo2``) +
memslim's own bookkeeping + file-backed pages (code, mapped files) + shared memory + the rest
(memory allocated before tracking started, thread stacks, the interpreter's static data;
negative when free space counted above is not resident).

Taken at the census nearest the peak (the census child reads the allocators' state of the
instant it was forked from; the parent reads its RSS just before the fork) and at the end of the
run. See docs/design.md, "RSS explained".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memslim import _core

_STATUS_FIELDS = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file", "RssShmem": "shmem"}

MiB = 1 << 20


def process_memory() -> dict[str, int] | None:
    """This process's resident memory in bytes: ``rss``, ``anon``, ``file``, ``shmem``; None
    where /proc does not say (not Linux). Read without releasing the GIL (a census reads it
    right before its fork: ``_core.proc_self_status``)."""
    found: dict[str, int] = {}
    try:
        for line in _core.proc_self_status().decode("ascii", "replace").splitlines():
            name, _, rest = line.partition(":")
            key = _STATUS_FIELDS.get(name)
            if key is not None:
                found[key] = int(rest.split()[0]) * 1024
    except (ValueError, IndexError):
        return None
    return found if len(found) == len(_STATUS_FIELDS) else None


def allocators_now() -> dict[str, Any]:
    """What memslim needs of this instant for a ledger, besides RSS: traced bytes per domain,
    the allocators' accounts and memslim's own bookkeeping. In a census child, call it first:
    the walk's own allocations would count."""
    return {
        "traced_by_domain": dict(_core.live_bytes_by_domain()),
        "allocators": dict(_core.allocator_stats()),
        "memslim_bytes": int(_core.bookkeeping_bytes()),
        "untouched_bytes": int(_core.untouched_bytes()),
    }


# A row shown only where some ledger has such bytes (see the terminal report).
UNTOUCHED_ROW = "less: allocated, never written (not resident)"


@dataclass(frozen=True)
class RssLedger:
    seconds: float  # since tracking started (-1: not known)
    rss: int
    anon: int
    file: int
    shmem: int
    traced_by_domain: dict[str, int] = field(default_factory=dict)
    pymalloc_free: int | None = None  # None: pymalloc not in use (PYTHONMALLOC=malloc)
    malloc_free: int | None = None  # None: not glibc
    memslim: int = 0
    untouched: int = 0  # of the traced bytes, never written: not resident

    @classmethod
    def from_parts(cls, seconds: float, memory: dict[str, int], now: dict[str, Any]) -> RssLedger:
        stats = now["allocators"]
        arenas, blocks = stats.get("pymalloc_arena_bytes"), stats.get("pymalloc_block_bytes")
        return cls(
            seconds=seconds,
            rss=memory["rss"],
            anon=memory["anon"],
            file=memory["file"],
            shmem=memory["shmem"],
            traced_by_domain={k: max(0, int(v)) for k, v in now["traced_by_domain"].items()},
            pymalloc_free=None if arenas is None or blocks is None else max(0, arenas - blocks),
            malloc_free=stats.get("malloc_free_bytes"),
            memslim=now["memslim_bytes"],
            untouched=now.get("untouched_bytes", 0),
        )

    @property
    def traced(self) -> int:
        return sum(self.traced_by_domain.values())

    @property
    def rest(self) -> int:
        """What the other rows do not explain (negative: some free space was not resident)."""
        return (
            self.rss
            - (self.traced - self.untouched)
            - (self.pymalloc_free or 0)
            - (self.malloc_free or 0)
            - self.memslim
            - self.file
            - self.shmem
        )

    def rows(self) -> list[tuple[str, int | None]]:
        """(label, bytes) in the order the report prints them; None: not known here."""
        return [
            ("held by the program (traced)", self.traced),
            (UNTOUCHED_ROW, -self.untouched),
            ("free space in pymalloc's arenas", self.pymalloc_free),
            ("freed memory the C allocator keeps", self.malloc_free),
            ("memslim's own bookkeeping", self.memslim),
            ("file-backed pages (code, mapped files)", self.file),
            ("shared memory", self.shmem),
            ("rest (block rounding, before tracking, stacks)", self.rest),
        ]

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> RssLedger:
        """A ledger as ``as_json`` wrote it (``traced_bytes`` and ``rest_bytes`` are derived)."""
        return cls(
            seconds=row["seconds"],
            rss=row["rss_bytes"],
            anon=row["anon_bytes"],
            file=row["file_bytes"],
            shmem=row["shmem_bytes"],
            traced_by_domain=dict(row["traced_by_domain"]),
            pymalloc_free=row["pymalloc_free_bytes"],
            malloc_free=row["malloc_free_bytes"],
            memslim=row["memslim_bytes"],
            untouched=row.get("untouched_bytes", 0),  # captures written before it existed
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 6),
            "rss_bytes": self.rss,
            "anon_bytes": self.anon,
            "file_bytes": self.file,
            "shmem_bytes": self.shmem,
            "traced_bytes": self.traced,
            "traced_by_domain": dict(self.traced_by_domain),
            "pymalloc_free_bytes": self.pymalloc_free,
            "malloc_free_bytes": self.malloc_free,
            "memslim_bytes": self.memslim,
            "untouched_bytes": self.untouched,
            "rest_bytes": self.rest,
        }


def why_rss_stays_high(end: RssLedger, peak_traced: int) -> str | None:
    """One or two sentences when the program freed most of what it held but RSS did not follow:
    which allocator keeps the memory, and what returns it. None when that is not the case.
    memslim's own bookkeeping is left out: without memslim it would not be there."""
    from memslim._units import format_bytes

    kept = (end.pymalloc_free or 0) + (end.malloc_free or 0)
    program_anon = end.anon - end.memslim
    if peak_traced <= 0 or end.traced > peak_traced // 2 or kept < 16 * MiB:
        return None
    if kept < program_anon // 4:
        return None
    parts = []
    if (end.malloc_free or 0) >= kept // 5:
        parts.append(
            f"the C allocator keeps {format_bytes(end.malloc_free or 0)} of freed memory for"
            " reuse (glibc gives back only the top of its heap on its own;"
            " ctypes.CDLL(None).malloc_trim(0) hands the rest back)"
        )
    if (end.pymalloc_free or 0) >= kept // 5:
        parts.append(
            f"pymalloc keeps {format_bytes(end.pymalloc_free or 0)} of free space in its arenas"
            " (an arena goes back to the system only once every object in it is freed: objects"
            " that outlive their neighbours keep whole arenas)"
        )
    return (
        f"Why RSS stays high: {format_bytes(end.rss - end.memslim)} (memslim's own"
        f" {format_bytes(end.memslim)} left out) after the program freed all but"
        f" {format_bytes(end.traced)} of its {format_bytes(peak_traced)} peak — "
        + "; ".join(parts)
        + "."
    )
