"""``memslim attach PID``: a census of a running CPython process, without restarting it.

How: gdb stops the target (ptrace), loads memslim's extension module into it (``dlopen``) and
calls ``memslim_attach_request(path)`` (cpython/attach.cpp), which only queues a pending call;
gdb detaches at once. At its next safe point, the target's main thread runs the request:
``memslim._attach_agent`` takes the census (and, with ``--track``, tracks allocations for that
long first) and writes the answer to a file this side waits for. The target is stopped only
while gdb is attached (a fraction of a second), and never left stopped: after gdb, a target that
is stopped and was not before gets SIGCONT.

What it needs: gdb; ptrace permission (the same user and a Yama ``ptrace_scope`` that allows it,
or root / CAP_SYS_PTRACE); the target runs the same CPython minor version as this memslim (the
module loaded into it is built for it), 3.11–3.13, and runs Python code now and then (a process
blocked in one C call, or asleep, answers when it next runs bytecode; the wait has a timeout).
On 3.14+, ``sys.remote_exec(pid, script)`` is CPython's own way in: the request would be the
script, with no gdb and no dlopen; the agent is the same.

Where gdb cannot call a function in a process, it must not be let near the target: gdb 13 on a
CPU with AMX state (Debian 12, kernel 6.18) fails to write the registers back after a call
("Couldn't write extended state status: Bad address"), and the process it called into is left
broken (a Python asleep in ``time.sleep`` got ``OSError: [Errno 514]``). So gdb first calls
``getpid()`` in a throwaway process of memslim's own, once per memslim process; when that
fails, attach says so in one line and never touches the target.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

SUPPORTED = ((3, 11), (3, 12), (3, 13))


class AttachError(Exception):
    """Attaching failed; the message is one line."""


def python_version_of(pid: int) -> tuple[int, int] | None:
    """The CPython minor version the process runs, from its libpython mapping or its
    executable's name; None when neither tells."""
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8") as f:
            for line in f:
                found = re.search(r"libpython(\d)\.(\d+)", line)
                if found:
                    return int(found[1]), int(found[2])
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None
    found = re.search(r"python(\d)\.(\d+)", os.path.basename(exe))
    return (int(found[1]), int(found[2])) if found else None


def _state(pid: int) -> str:
    """The process's state letter (R, S, T, ...) from /proc; "" if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return ""


def check_target(pid: int) -> None:
    if pid <= 0 or not os.path.exists(f"/proc/{pid}"):
        raise AttachError(f"no process {pid}")
    if pid == os.getpid():
        raise AttachError("memslim cannot attach to itself")
    version = python_version_of(pid)
    if version is None:
        raise AttachError(f"process {pid} is not a CPython interpreter memslim can recognise")
    if version not in SUPPORTED:
        hint = (
            " (on 3.14+, CPython's own sys.remote_exec is the way in; not supported yet)"
            if version >= (3, 14)
            else ""
        )
        raise AttachError(
            f"process {pid} runs Python {version[0]}.{version[1]}; memslim attach supports"
            f" CPython 3.11-3.13{hint}"
        )
    if version != sys.version_info[:2]:
        raise AttachError(
            f"process {pid} runs Python {version[0]}.{version[1]}, this memslim runs on"
            f" {sys.version_info[0]}.{sys.version_info[1]}: run python{version[0]}.{version[1]}"
            " -m memslim attach (memslim installed for that interpreter)"
        )


def _gdb_commands(core: str, request: str) -> list[str]:
    return [
        "set confirm off",
        "set pagination off",
        f'set $memslim_handle = (void*) dlopen("{core}", 2)',
        'printf "memslim-handle %p\\n", $memslim_handle',
        'set $memslim_entry = (void*) dlsym($memslim_handle, "memslim_attach_request")',
        'printf "memslim-entry %p\\n", $memslim_entry',
        f'printf "memslim-queued %d\\n", ((int (*)(const char*)) $memslim_entry)("{request}")',
    ]


def _gdb_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}  # gdb's own, plain


@functools.cache
def gdb_call_problem(gdb: str) -> str | None:
    """None if ``gdb`` can call a function in a process on this machine, else what it said.
    Asked of a throwaway process (a Python waiting on its stdin), never of the target."""
    probe = subprocess.Popen(
        [sys.executable, "-S", "-c", "import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        command = [gdb, "-p", str(probe.pid), "-batch", "-nx", "-q"]
        command += ["-ex", 'printf "memslim-probe %d\\n", (int) getpid()']
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=60,
                env=_gdb_env(),
            )
            output = done.stdout + done.stderr
        except subprocess.TimeoutExpired:
            output = "gdb timed out"
    finally:
        probe.kill()
        probe.wait()
        assert probe.stdin is not None
        probe.stdin.close()
    if f"memslim-probe {probe.pid}" in output:
        return None
    said = [line for line in output.splitlines() if "error" in line.lower() or "n't" in line]
    return (said or [line for line in output.splitlines() if line.strip()][-1:] or ["no output"])[
        -1
    ].strip()


def _inject(pid: int, core: str, request: str, timeout: float) -> None:
    gdb = shutil.which("gdb")
    if gdb is None:
        raise AttachError("memslim attach needs gdb (Debian/Ubuntu: apt-get install gdb)")
    problem = gdb_call_problem(gdb)
    if problem is not None:
        raise AttachError(
            f"gdb cannot call a function in a process on this machine ({problem}), which would"
            f" leave process {pid} broken: not attached"
        )
    was_stopped = _state(pid) == "T"
    command = [gdb, "-p", str(pid), "-batch", "-nx", "-q"]
    for line in _gdb_commands(core, request):
        command += ["-ex", line]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            env=_gdb_env(),
        )
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        output = "gdb timed out"
    finally:
        # gdb detaches when it ends (killed by the timeout too: the kernel detaches a dead
        # tracer's tracees); a target it left stopped is let go.
        if not was_stopped and _state(pid) == "T":
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    if "memslim-queued 0" in output:
        return
    if "ptrace: Operation not permitted" in output or "Could not attach" in output:
        raise AttachError(
            f"cannot attach to process {pid}: ptrace not permitted (attach as the same user,"
            " with /proc/sys/kernel/yama/ptrace_scope 0, or as root / with CAP_SYS_PTRACE)"
        )
    if "No such process" in output:
        raise AttachError(f"process {pid} ended")
    if re.search(r"memslim-handle \(nil\)|memslim-handle 0x0\b", output):
        raise AttachError(f"process {pid} could not load memslim's module {core}")
    if "memslim-queued -1" in output:
        raise AttachError(f"process {pid} would not take the request (one is pending already?)")
    last = [line for line in output.splitlines() if line.strip()][-1:] or ["no output"]
    raise AttachError(f"gdb could not inject the request into process {pid}: {last[0]}")


def attach(
    pid: int,
    *,
    top: int = 10,
    track_seconds: float = 0.0,
    timeout: float = 30.0,
    all_findings: bool = False,
) -> dict[str, Any]:
    """The target's answer (JSON ``memslim-attach/1``, see _attach_agent)."""
    from memslim import _core

    check_target(pid)
    import memslim
    from memslim._files import run_directory

    directory = run_directory("attach")
    try:
        output = os.path.join(directory, "answer.json")
        request = os.path.join(directory, "request.json")
        with open(request, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "memslim_dir": os.path.dirname(os.path.dirname(memslim.__file__)),
                    "output": output,
                    "top": top,
                    "track_seconds": track_seconds,
                    "all_findings": all_findings,
                },
                f,
            )
        os.chmod(directory, 0o755)  # a target running as another user reads the request
        os.chmod(request, 0o644)
        _inject(pid, os.path.abspath(_core.__file__), request, timeout=max(timeout, 10.0))
        deadline = time.monotonic() + timeout + track_seconds
        while not os.path.exists(output):
            if os.path.exists(output + ".error"):
                with open(output + ".error", encoding="utf-8") as f:
                    raise AttachError(f"the census in process {pid} failed: {f.read().strip()}")
            if not os.path.exists(f"/proc/{pid}"):
                raise AttachError(f"process {pid} ended before it answered")
            if time.monotonic() > deadline:
                raise AttachError(
                    f"process {pid} did not run Python code within {timeout:g} s (blocked in a C"
                    " call or asleep?): no census; the request stays queued and is dropped"
                )
            time.sleep(0.05)
        with open(output, encoding="utf-8") as f:
            return json.load(f)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def print_answer(answer: dict[str, Any], *, top: int, console: Any) -> None:
    """The terminal report of an attach: the census, what grew (--track), the findings."""
    from rich.table import Table
    from rich.text import Text

    from memslim._units import format_bytes
    from memslim.advice import Finding
    from memslim.heap import census_from_report
    from memslim.report.terminal import _where, print_census, print_findings

    census = answer["census"]
    console.print(
        Text.assemble(
            ("memslim attach ", "bold"),
            f"{answer['pid']} ({' '.join(answer.get('argv', []))[:60]}) — Python"
            f" {answer['python']} — census of {census['objects']:,} objects, ",
            (format_bytes(census["bytes"]), "bold"),
            f", taken in {answer['census_seconds']:.2f} s",
        )
    )
    traced, heap = census_from_report(census)
    print_census(traced, heap, census["bytes"], top=top, console=console, near_peak=False)
    tracked = answer.get("tracked")
    if tracked is not None:
        table = Table(
            title=f"What grew in {tracked['seconds']:.1f} s (allocated then, still live)",
            title_justify="left",
        )
        for header in ("line", "live", "allocated", "allocations", "function"):
            table.add_column(header, justify="left" if header in ("line", "function") else "right")
        for row in tracked["lines"][:top]:
            table.add_row(
                _where(row["file"], row["line"], width=50),
                format_bytes(row["live_bytes"]),
                format_bytes(row["allocated_bytes"]),
                f"{row['allocations']:,}",
                Text(row["function"]),
            )
        console.print(table)
    findings = [Finding.from_json(f) for f in answer.get("findings", [])]
    if findings:  # shares of the heap the census saw (no tracked peak here)
        print_findings(findings, census["bytes"], console=console)
