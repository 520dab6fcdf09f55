"""Censuses taken by a forked child while the program runs on.

A census walks the whole heap; done in the program's own process it stops the program for as
long (seconds for millions of objects, and a run of a few seconds paid for it twice). Here the
census callback forks (``_core.census_fork``): the child holds a copy-on-write image of the heap
at that instant, walks and summarises it, writes the summary to a file and leaves; the program
pays for the fork and for the pages it writes while the child lives (copy-on-write).

The summary crosses the process boundary as plain data: types travel as references (address,
module, qualified name) that the parent resolves to the same live type objects (the child is a
copy of the parent, so a type at that address is that type while it lives); other objects that
the census names (dict keys in paths) travel as their repr.
"""

from __future__ import annotations

import array
import contextlib
import os
import pickle
import resource
import shutil
import signal
import tempfile
import time
import types
from dataclasses import dataclass, field
from typing import Any

from memslim import _core

# A census that saw this share of the peak's traced bytes is the report's: none nearer is
# waited for or taken.
NEAR_PEAK = 0.95


@dataclass(frozen=True)
class _TypeRef:
    address: int
    module: str
    qualname: str


_PLAIN = (type(None), bool, int, float, str, bytes)


def _encode(value: Any) -> Any:
    """``value`` as data that pickles without importing anything of the program's."""
    if type(value) in _PLAIN:
        return value
    for plain in _PLAIN[1:]:  # a subclass (an enum member, NumPy's float64): its plain value
        if isinstance(value, plain):
            return plain(value)
    if isinstance(value, type):
        # A class's __module__ may be anything (a descriptor of its metaclass, say).
        module = getattr(value, "__module__", "")
        qualname = getattr(value, "__qualname__", "")
        return _TypeRef(
            id(value),
            module if isinstance(module, str) else "",
            qualname if isinstance(qualname, str) else value.__name__,
        )
    if isinstance(value, array.array):
        return value
    if isinstance(value, dict):
        return {_encode(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_encode(v) for v in value)
    return repr(value)[:200]


def _pack_sites(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with its (type, site, count, bytes) rows as one array of integers and a table of
    their types: a program that imports scikit-learn has 110,000 such rows, and as tuples of
    type references they took the child half a second to encode and the report as long to
    read back."""
    rows = raw.get("sites")
    if not rows:
        return raw
    index: dict[int, int] = {}
    types: list[type] = []
    flat = array.array("q")
    for tp, site, count, size in rows:
        i = index.get(id(tp))
        if i is None:
            i = index[id(tp)] = len(types)
            types.append(tp)
        flat.extend((i, -1 if site is None else site, count, size))
    return {**raw, "sites": {"types": types, "rows": flat}}


def _unpack_sites(raw: dict[str, Any]) -> dict[str, Any]:
    """What ``_pack_sites`` packed, as rows again."""
    packed = raw.get("sites")
    if isinstance(packed, dict):
        types, flat = packed["types"], iter(packed["rows"])
        raw["sites"] = [
            (types[i], None if site < 0 else site, count, size)
            for i, site, count, size in zip(flat, flat, flat, flat, strict=True)
        ]
    return raw


def _live_types() -> dict[int, type]:
    """Every type alive in this process, by address (through ``__subclasses__``)."""
    found: dict[int, type] = {}
    pending: list[type] = [object]
    while pending:
        cls = pending.pop()
        if id(cls) in found:
            continue
        found[id(cls)] = cls
        # type.__subclasses__(cls), not cls.__subclasses__(): on a metaclass (ABCMeta, typing's
        # _ProtocolMeta) the latter finds type's unbound method, and its classes were missed.
        pending.extend(type.__subclasses__(cls))
    return found


def _decode(value: Any, live: dict[int, type], gone: dict[int, type]) -> Any:
    if isinstance(value, _TypeRef):
        cls = live.get(value.address)
        if cls is not None and cls.__qualname__ == value.qualname:
            return cls
        # The type died after the census: a stand-in with its name (no advice reads it).
        stand_in = gone.get(value.address)
        if stand_in is None:
            stand_in = gone[value.address] = types.new_class(value.qualname.rsplit(".", 1)[-1])
            stand_in.__qualname__ = value.qualname
            stand_in.__module__ = value.module
        return stand_in
    if isinstance(value, dict):
        return {_decode(k, live, gone): _decode(v, live, gone) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, live, gone) for v in value]
    if isinstance(value, tuple):
        return tuple(_decode(v, live, gone) for v in value)
    return value


def _private_dirty_bytes() -> int:
    """Pages this process wrote since the fork (its own copies): memslim's cost."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("Private_Dirty:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _proc_kib(path: str, key: str) -> int | None:
    """The value (in KiB) of ``key`` in a /proc file of ``key: value kB`` lines."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def child_memory_budget() -> int | None:
    """How many bytes a census child may allocate: half of what the machine has available
    now. A census walk needs about 80 bytes per object (a program with 50 million objects:
    4 GB), and a child that took the machine's last free memory would push the program it
    measures into swap or into the OOM killer."""
    available = _proc_kib("/proc/meminfo", "MemAvailable")
    return None if available is None else available * 1024 // 2


def _limit_child_memory(budget: int | None) -> tuple[int, int]:
    """Caps this (child) process's new data pages at ``budget`` bytes: an allocation beyond it
    fails (``MemoryError``) and the census is given up, with the reason sent to the parent.
    Returns the limit it replaced."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a child that fails leaves no core file
    before = resource.getrlimit(resource.RLIMIT_DATA)
    data = _proc_kib("/proc/self/status", "VmData")  # what the fork inherited, counted too
    if budget is not None and data is not None:
        limit = data * 1024 + budget
        hard = before[1]
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    return before


@dataclass
class _Child:
    pid: int
    path: str
    traced_bytes: int
    started: float  # time.time(), comparable with the census file's mtime
    killed_at: float | None = None


@dataclass
class ForkedCensuses:
    """The census children of one run. ``take`` runs in the census callback."""

    top: int
    directory: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="memslim-census-"))
    # At most two children walk at once: the oldest, left to finish (each finished census is a
    # point of the growth history), and the newest, which a newer census replaces (the report
    # wants the one nearest the peak, such as the one taken as a full collection starts).
    running: list[_Child] = field(default_factory=list)
    done: list[tuple[int, str]] = field(default_factory=list)  # (traced bytes, file)
    errors: list[str] = field(default_factory=list)  # why children failed (a sentence each)
    # How long children lived in all: while one lives, every page the program writes is
    # copied (copy-on-write) and the child takes a core. (Making the margin adapt to keep this
    # under a quarter of the run was tried: on a 0.5 s run it put the last census at 85% of the
    # peak instead of 100%, for 5% less time on the longest bench program.)
    # Killed children not reaped yet: the kernel frees a large child's pages for milliseconds,
    # and the program need not wait for that.
    killed: list[_Child] = field(default_factory=list)
    child_seconds: float = 0.0
    fork_seconds: float = 0.0
    forks: int = 0
    _count: int = 0

    def take(self) -> None:
        """Fork a census child now (replacing the newest one still walking, if two are)."""
        self.running = [child for child in self.running if not self._reap(child, block=False)]
        self.killed = [child for child in self.killed if not self._reap(child, block=False)]
        if len(self.running) >= 2:
            self._kill(self.running.pop())
        from memslim.heap import retainer_summary, take_raw_census  # imported before the fork

        self._count += 1
        path = os.path.join(self.directory, f"census-{self._count:05d}.pickle")
        traced = _core.traced_bytes()
        began = time.perf_counter()
        pid = _core.census_fork()
        if pid == 0:  # the child: never returns
            status = 1
            budget = child_memory_budget()
            unlimited = resource.getrlimit(resource.RLIMIT_DATA)
            try:
                unlimited = _limit_child_memory(budget)
                raw = take_raw_census(self.top, advice=True)
                header = {
                    "traced_bytes": traced,
                    "summary": _encode(retainer_summary(raw)),
                    "child_private_bytes": _private_dirty_bytes(),
                }
                # The header first: the parent reads every census's header, and the census
                # itself from the last file only.
                with open(path + ".tmp", "wb") as f:
                    pickle.dump(header, f, protocol=pickle.HIGHEST_PROTOCOL)
                    pickle.dump(_encode(_pack_sites(raw)), f, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(path + ".tmp", path)
                status = 0
            except BaseException as e:  # told to the parent, which reports it in one line
                resource.setrlimit(resource.RLIMIT_DATA, unlimited)  # room to say why
                if isinstance(e, MemoryError) and budget is not None:
                    why = (
                        f"a census was given up: it needed more than {budget >> 20} MiB,"
                        " half of the memory available when it began"
                    )
                else:
                    why = f"a census failed: {type(e).__name__}: {e}".replace("\n", " ")
                with open(path + ".error", "w") as f:
                    f.write(why)
            finally:
                os._exit(status)
        self.fork_seconds += time.perf_counter() - began
        self.forks += 1
        self.running.append(_Child(pid, path, traced, time.time()))

    def behind(self, peak_bytes: int, current_bytes: int) -> bool:
        """Whether a census now would see 95% of the peak's bytes and none taken so far does."""
        near = NEAR_PEAK * peak_bytes
        return (
            current_bytes >= near
            and all(child.traced_bytes < near for child in self.running)
            and all(traced < near for traced, _ in self.done)
        )

    def _reap(self, child: _Child, *, block: bool) -> bool:
        """Whether ``child`` has ended (waiting for it if ``block``)."""
        try:
            pid, _status = os.waitpid(child.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # reaped by someone else (a SIGCHLD handler of the program)
            pid = child.pid
        if pid == 0:
            return False
        lived = (child.killed_at or time.time()) - child.started
        with contextlib.suppress(OSError):  # it ended when it wrote its census
            lived = os.stat(child.path).st_mtime - child.started
        self.child_seconds += max(0.0, lived)
        if os.path.exists(child.path):
            self.done.append((child.traced_bytes, child.path))
        elif os.path.exists(child.path + ".error"):
            with open(child.path + ".error") as f:
                self.errors.append(f.read())
        return True

    def finish(self, peak_bytes: int, timeout: float = 120.0) -> None:
        """Wait for the children still walking (the newest census is the nearest to the peak),
        unless a finished census already saw 95% of the peak's bytes; one that does not finish
        within ``timeout`` seconds is killed."""
        deadline = time.monotonic() + timeout
        # Only the newest child can bring a census nearer the peak than those already finished:
        # the older ones are killed rather than waited for (their censuses would only add a
        # point to the growth history, and they share the CPU with the newest).
        newest = max(self.running, key=lambda child: child.traced_bytes, default=None)
        for child in list(self.running):
            if child is not newest and not self._reap(child, block=False):
                self._kill(child)
        self.running = [newest] if newest is not None else []
        while self.running:
            self.running = [child for child in self.running if not self._reap(child, block=False)]
            close_enough = any(traced >= NEAR_PEAK * peak_bytes for traced, _ in self.done)
            if self.running and (close_enough or time.monotonic() > deadline):
                for child in self.running:
                    self._kill(child)
                self.running = []
            elif self.running:
                time.sleep(0.005)

    def results(self) -> tuple[tuple[int, dict[str, Any]] | None, list[tuple[int, Any]], dict]:
        """The last census (traced bytes, raw census), every census's retainer summary (oldest
        first), and what the censuses cost."""
        last: tuple[int, dict[str, Any]] | None = None
        history: list[tuple[int, Any]] = []
        costs = {
            "forks": self.forks,
            "fork_seconds": self.fork_seconds,
            "child_seconds": self.child_seconds,  # all children, replaced ones included
            "child_private_bytes_max": 0,
        }
        live = _live_types()
        gone: dict[int, type] = {}
        done = sorted(self.done)
        for number, (_traced, path) in enumerate(done):
            with open(path, "rb") as f:
                header = pickle.load(f)
                history.append((header["traced_bytes"], header["summary"]))
                costs["child_private_bytes_max"] = max(
                    costs["child_private_bytes_max"], header["child_private_bytes"]
                )
                if number == len(done) - 1:
                    raw = _unpack_sites(_decode(pickle.load(f), live, gone))
                    last = (header["traced_bytes"], raw)
        return last, history, costs

    def _kill(self, child: _Child) -> None:
        os.kill(child.pid, signal.SIGKILL)
        child.killed_at = time.time()
        self.killed.append(child)  # reaped later (take, close)

    def close(self) -> None:
        for child in self.running:
            self._kill(child)
        self.running = []
        for child in self.killed:
            self._reap(child, block=True)
        self.killed = []
        shutil.rmtree(self.directory, ignore_errors=True)
