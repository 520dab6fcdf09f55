"""What a finding is, and what every kind of finding reads."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from memslim.heap import CensusFacts, HeapCensus, bytes_by_site
from memslim.profile_data import Profile


@dataclass(frozen=True)
class Finding:
    """One change to one place in the user's code, and what it would save at the peak."""

    kind: str  # slots, record-dict, tuple, array, dtype, category, downcast, intern, ...
    file: str  # where the user makes the change
    line: int
    symbol: str  # the class, variable or expression concerned
    count: int  # objects (or calls) concerned
    bytes_now: int  # what they hold at the peak
    bytes_after: int  # what they would hold after the fix (measured on this interpreter)
    message: str
    fix: str  # the changed code, as a snippet
    time_only: bool = False  # a speed finding: no memory saving is claimed
    lossy: bool = False  # the fix changes values (e.g. float64 -> float32)
    # Other lines of the same file that the fix must change too for the saving to hold (a
    # generator finding's equal temporaries, each as large in its own moment).
    also_lines: tuple[int, ...] = ()
    # The expressions the fix wraps, where the tracker knows them (intern): (line, column, end
    # line, end column), UTF-8 byte columns. For --patch, in the process that found them; not
    # in the JSON.
    spans: tuple[tuple[int, int, int, int], ...] = field(default=(), compare=False, repr=False)
    # Why the fix is the author's to make, not --patch's (the census saw that the mechanical
    # fix would change what the program computes); "" when --patch may apply it. Not in the
    # JSON: the message says it.
    manual: str = field(default="", compare=False, repr=False)

    @property
    def saving_bytes(self) -> int:
        return max(0, self.bytes_now - self.bytes_after)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "symbol": self.symbol,
            "count": self.count,
            "bytes_now": self.bytes_now,
            "bytes_after": self.bytes_after,
            "saving_bytes": self.saving_bytes,
            "message": self.message,
            "fix": self.fix,
            "time_only": self.time_only,
            "lossy": self.lossy,
            "also_lines": list(self.also_lines),
        }

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Finding:
        """A finding as ``as_json`` wrote it (``saving_bytes`` is derived, not read)."""
        fields = ("kind", "file", "line", "symbol", "count", "bytes_now", "bytes_after")
        return cls(
            *(row[name] for name in fields),
            message=row["message"],
            fix=row["fix"],
            time_only=bool(row.get("time_only", False)),
            lossy=bool(row.get("lossy", False)),
            also_lines=tuple(row.get("also_lines", ())),
        )


@dataclass
class Run:
    """What the advisor reads about one run."""

    profile: Profile
    census: HeapCensus | None = None  # the last census (near the peak), with facts
    census_traced_bytes: int = 0  # traced bytes when it was taken
    # Earlier censuses' top retainers: (traced bytes, [(path, retained, length)]), oldest first.
    history: list[tuple[int, list[tuple[str, int, int | None]]]] = field(default_factory=list)
    main_globals: dict[str, Any] | None = None  # the target's module globals after the run
    # pandas DataFrames by allocation site: the largest (rows, bytes by column) any census saw
    # there (forked censuses only): a frame's columns, whichever census the report reads.
    frame_columns: dict[int, tuple[int, dict[str, int]]] = field(default_factory=dict)
    # And the frames' facts (memslim._frames) by allocation site, from the census that measured
    # the most there (forked censuses only): a frame that the report's census did not see.
    frame_facts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def main_file(self) -> str | None:
        """The file of the program's ``__main__`` (gone from sys.modules after the run)."""
        file = (self.main_globals or {}).get("__file__")
        return file if isinstance(file, str) else None

    @functools.cached_property
    def _at_census(self) -> dict[int, int]:
        """Bytes per allocation site (its node in the tracker's frame tree) as the census
        counted them; made when a rule first asks (from the rows' numbers alone: a SiteCount
        per row was 0.2 s of the report after scikit-learn's 119,000 rows)."""
        return {} if self.census is None else bytes_by_site(self.census.sites)

    @property
    def _tracked_at_census(self) -> dict[int, int]:
        """The tracker's bytes per site when the census was taken (exact mode), the same
        measure as its bytes at the peak; the census's own count per site where the census
        did not record them (an older capture)."""
        if self.census is not None and self.census.site_tracked:
            return self.census.site_tracked
        return self._at_census

    @property
    def facts(self) -> CensusFacts | None:
        """The census's facts for advice, if a census ran."""
        return self.census.facts if self.census is not None else None

    @property
    def site_facts(self) -> CensusFacts | None:
        """The facts, when their per-site rows cover every object (exact mode, see exact)."""
        return self.facts if self.exact else None

    @property
    def exact(self) -> bool:
        """Whether every object's allocation site is known (exact mode). In sample mode the
        census knows the sites of sampled blocks only: per-site facts are a sample, and the
        findings built on them are not made."""
        return self.profile.mode == "exact"

    def peak_scale(self, sites: Iterable[int | None]) -> float:
        """How much of what the census saw at these allocation sites was live at the peak:
        bytes live at the peak there (exact, from the tracker) over bytes the census counted
        there. The census runs near the peak, not at it; a finding's census counts times this
        scale estimate the peak. In sample mode, the sites' sampled bytes at the peak over
        theirs when the census was taken. 1.0 when the sites are unknown; 0.0 when they held
        nothing at the peak (the census saw a later phase: a list built after the peak, in a
        program whose peak was a thread's, claimed its bytes "at the peak")."""
        unique = {s for s in sites if s is not None}
        if self.exact:
            census = sum(self._tracked_at_census.get(s, 0) for s in unique)
        else:
            # The census's per-site bytes cover sampled objects only, counted by their sizes;
            # the tracker's are the samples' weights, the census's moment's and the peak's.
            then = {} if self.census is None else self.census.site_live
            unique &= then.keys()
            census = sum(then[s] for s in unique)
        peak = sum(self.profile.at_peak(s) for s in unique)
        if census <= 0:
            return 1.0
        return max(peak, 0) / census

    def growth_to_peak(self, sites: Iterable[int | None]) -> int:
        """Bytes these allocation sites gained between the census and the peak (exact, from the
        tracker): what was built there after the census, live at the peak. 0 in sample mode."""
        if not self.exact:
            return 0
        unique = {s for s in sites if s is not None}
        then = self._tracked_at_census
        return sum(max(0, self.profile.at_peak(s) - then.get(s, 0)) for s in unique)

    def type_sites(self, cls: type) -> list[int | None]:
        """The allocation sites of ``cls``'s instances seen by the census."""
        if self.census is None:
            return []
        return [row.site for row in self.census.sites if row.type is cls]
