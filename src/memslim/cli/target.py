"""Run a user's script or module as ``__main__``, the way ``python`` would.

The target gets its own ``sys.argv``, ``sys.path[0]`` and a real ``__main__`` module; its stdout,
stdin, exceptions and exit status pass through untouched. Errors that stop it from starting are
reported in one line with the exit status ``python`` itself would give.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class TargetError(Exception):
    """The target could not be started. ``exit_code`` is what ``python`` would exit with."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Target:
    """What to run: a script path or a module name, and its arguments."""

    script: str | None = None
    module: str | None = None
    args: list[str] = field(default_factory=list)

    @property
    def argv(self) -> list[str]:
        return [self.script or self.module or "", *self.args]


@dataclass
class Prepared:
    code: types.CodeType
    argv0: str
    path0: str
    main_globals: dict[str, Any]


@dataclass
class Outcome:
    """How the target ended: its exit status and its ``__main__`` globals."""

    exit_code: int
    main_globals: dict[str, Any]
    interrupted: bool = False


def _compile_file(path: str) -> types.CodeType:
    with open(path, "rb") as f:
        source = f.read()
    return compile(source, path, "exec", dont_inherit=True)


def prepare(target: Target) -> Prepared:
    """Compile the target. Raises TargetError (or SyntaxError, which python prints as is)."""
    if target.module is not None:
        return _prepare_module(target)
    assert target.script is not None
    path = os.path.abspath(target.script)
    if os.path.isdir(path):
        main_py = os.path.join(path, "__main__.py")
        if not os.path.isfile(main_py):
            raise TargetError(f"can't find '__main__' module in {target.script!r}", 1)
        code = _compile_file(main_py)
        return Prepared(code, target.script, path, _main_globals(main_py, None))
    try:
        code = _compile_file(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        raise TargetError(f"can't open file {path!r}: [Errno {e.errno}] {e.strerror}", 2) from None
    return Prepared(code, target.script, os.path.dirname(path), _main_globals(path, None))


def _prepare_module(target: Target) -> Prepared:
    name = target.module or ""
    sys.path.insert(0, os.getcwd())
    try:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations is not None:
            spec = importlib.util.find_spec(f"{name}.__main__")
    except (ImportError, ValueError) as e:
        raise TargetError(
            f"Error while finding module specification for {name!r} ({e})", 1
        ) from None
    finally:
        sys.path.pop(0)
    if spec is None or spec.loader is None or not hasattr(spec.loader, "get_code"):
        raise TargetError(f"No module named {name}", 1)
    code = spec.loader.get_code(spec.name)
    if code is None:
        raise TargetError(f"No code object available for {name}", 1)
    origin = spec.origin or name
    return Prepared(code, origin, os.getcwd(), _main_globals(origin, spec))


def _main_globals(path: str, spec: Any) -> dict[str, Any]:
    # A script's loader is a SourceFileLoader named __main__, as python gives it (code that
    # reads __loader__, get_resource_reader or pkgutil, found None under memslim).
    loader = spec.loader if spec else importlib.machinery.SourceFileLoader("__main__", path)
    return {
        "__file__": path,
        "__cached__": None,
        "__loader__": loader,
        "__package__": spec.parent if spec else None,
        "__spec__": spec,
    }


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF  # what the operating system keeps of it, as for python itself
    # python prints a non-int exit code to stderr and exits 1.
    print(code, file=sys.stderr)
    return 1


def _always_tracked(tracked: bool) -> bool:
    return True


def run(
    prepared: Prepared,
    target: Target,
    set_tracked: Callable[[bool], bool] = _always_tracked,
) -> Outcome:
    """Execute the prepared target as ``__main__`` and return how it ended.

    ``set_tracked`` is ``_core.set_thread_tracked`` under tracking: what the runner allocates
    before and after the program (its ``__main__`` module, the outcome, an uncaught exception's
    traceback printed) is memslim's, not the program's. A plain call, not a ``with`` block,
    whose bound ``__enter__`` and ``__exit__`` would be allocations of their own."""
    tracked = set_tracked(False)
    main = types.ModuleType("__main__")
    main.__dict__.update(prepared.main_globals)
    saved_argv, saved_path0 = sys.argv, sys.path[0] if sys.path else None
    saved_main = sys.modules.get("__main__")
    sys.argv = [prepared.argv0, *target.args]
    if sys.path:
        sys.path[0] = prepared.path0
    else:
        sys.path.append(prepared.path0)
    sys.modules["__main__"] = main
    try:
        set_tracked(tracked)
        try:
            exec(prepared.code, main.__dict__)
        except BaseException as e:
            set_tracked(False)
            return _ended(e, main)
        set_tracked(False)
        return Outcome(0, main.__dict__)
    finally:
        set_tracked(False)  # a KeyboardInterrupt between the lines above
        sys.argv = saved_argv
        if saved_path0 is not None:
            sys.path[0] = saved_path0
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        set_tracked(tracked)


def _ended(exc: BaseException, main: types.ModuleType) -> Outcome:
    """The outcome of a program that raised ``exc``; python's message for it printed."""
    if isinstance(exc, SystemExit):
        return Outcome(_exit_code(exc), main.__dict__)
    _print_uncaught(exc)
    if isinstance(exc, KeyboardInterrupt):
        return Outcome(130, main.__dict__, interrupted=True)
    return Outcome(1, main.__dict__)


def _print_uncaught(exc: BaseException) -> None:
    # Drop this module's own frame so the traceback starts in the target, as python's does.
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code is run.__code__:
        tb = tb.tb_next
    sys.excepthook(type(exc), exc.with_traceback(tb), tb)


def print_syntax_error(exc: SyntaxError) -> None:
    """Print a target's SyntaxError exactly as python would (without memslim's frames)."""
    sys.excepthook(type(exc), exc.with_traceback(None), None)
