"""The advisor: each classic memory technique as a finding on the user's own code, with the
bytes it would save measured on the running interpreter (see ``measure``), never quoted from a
rule of thumb.

One module per kind of finding; each exposes ``find(run) -> Iterable[Finding]`` reading the run's
profile (sites, peak), its census near the peak (:class:`memslim.heap.HeapCensus` with facts),
and the source of the lines involved. :func:`advise` runs them all and ranks the findings.
"""

from __future__ import annotations

from memslim.advice._finding import Finding, Run
from memslim.advice.advisor import MIN_SAVING_BYTES, MIN_SAVING_SHARE, advise

__all__ = ["MIN_SAVING_BYTES", "MIN_SAVING_SHARE", "Finding", "Run", "advise"]
