"""Run a user's script or module as ``__main__``, the way ``python`` would.

The target gets its own ``sys.argv``, ``sys.path[0]`` and a real ``__main__`` module; its stdout,
stdin, exceptions and exit status pass through untouched. Errors that stop it from starting are
reported in one line with the exit status ``python`` itself would give.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib.machinery
import importlib.util
import os
import sys
import traceback
import types
import zipfile
import zipimport
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memslim import _core
from memslim.cli import PROCESS_MODULES


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


def _programs_orig_argv(
    target: Target, argv: list[str], orig_argv: list[str] | None
) -> list[str] | None:
    """``sys.orig_argv`` as python gives it to the program: the interpreter and its options as
    they were typed before memslim (``python3 -X dev``), then the program as ``python`` takes
    it (``prog.py`` or ``-m module``) and its arguments. ``orig_argv`` is memslim's own
    (``python3 -X dev -m memslim run prog.py``, or the ``memslim`` script's), whose tail is
    memslim's ``argv`` after its first word; ``orig_argv`` itself when that does not hold."""
    if orig_argv is None:
        return None
    head = len(orig_argv) - len(argv)
    if head < 1 or orig_argv[head + 1 :] != argv[1:]:
        return orig_argv
    words = list(orig_argv[:head])
    if len(words) > 1 and words[-1] == "-m":  # `python -m memslim`: "memslim" is argv[0]'s word
        words.pop()
    program = ["-m", target.module] if target.module else [target.script or ""]
    return [*words, *program, *target.args]


# What exec() adds to the recursion depth under the code it runs (3.11 counts its C call too),
# and what python has under a module's first frame: runpy's two frames and its exec().
_EXEC_DEPTH = 1 if sys.version_info < (3, 12) else 0
_RUNPY_DEPTH = 2 + _EXEC_DEPTH


@dataclass
class Prepared:
    code: types.CodeType
    argv0: str
    path0: str
    main_globals: dict[str, Any]
    # `-m pkg.mod` (or `-m pkg`, run as pkg.__main__): the package python imports before it
    # runs the module, here imported while tracking, as the program's first step.
    package: str | None = None
    # The recursion depth python has under the program's first frame: runpy's for a module, a
    # directory or a zip application, none for a script.
    depth_under: int = 0


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
    if target.script == "-":
        # `python - args`: the program is read from stdin, as "<stdin>", the current
        # directory first on sys.path.
        code = compile(sys.stdin.buffer.read(), "<stdin>", "exec", dont_inherit=True)
        main_globals = _main_globals("<stdin>", None)
        main_globals["__loader__"] = importlib.machinery.BuiltinImporter
        return Prepared(code, "-", "", main_globals)
    # Made absolute as python makes it (_Py_abspath: joined to the working directory, not
    # normalised): `./x.py` is `/d/./x.py` in __file__ and tracebacks, as under python.
    path = os.path.join(os.getcwd(), target.script)
    if os.path.isdir(path):
        main_py = os.path.join(path, "__main__.py")
        if not os.path.isfile(main_py):
            raise TargetError(f"can't find '__main__' module in {target.script!r}", 1)
        code = _compile_file(main_py)
        # Its spec as python's runpy finds it (with the directory first on sys.path): the
        # program's __spec__, __package__ ('') and __cached__ were None.
        spec = importlib.machinery.PathFinder.find_spec("__main__", [path])
        return Prepared(
            code, target.script, path, _main_globals(main_py, spec), depth_under=_RUNPY_DEPTH
        )
    if os.path.isfile(path) and zipfile.is_zipfile(path):
        return _prepare_zip(target, path)
    try:
        code = _compile_file(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        raise TargetError(f"can't open file {path!r}: [Errno {e.errno}] {e.strerror}", 2) from None
    # sys.path[0] is the script's directory with every link resolved, as python sets it: a
    # script run through a link found no module beside the file it links to.
    path0 = os.path.dirname(os.path.realpath(path))
    return Prepared(code, target.script, path0, _main_globals(path, None))


def _prepare_zip(target: Target, path: str) -> Prepared:
    """A zip application (``python app.pyz``, zipapp, shiv, pex): its ``__main__`` module,
    with the archive first on ``sys.path``, as python runs it."""
    try:
        importer = zipimport.zipimporter(path)
        code = importer.get_code("__main__")
    except zipimport.ZipImportError:
        raise TargetError(f"can't find '__main__' module in {target.script!r}", 1) from None
    spec = importer.find_spec("__main__")  # as for a directory
    main_globals = _main_globals(os.path.join(path, "__main__.py"), spec)
    main_globals["__loader__"] = importer
    return Prepared(code, target.script, path, main_globals, depth_under=_RUNPY_DEPTH)


def _prepare_module(target: Target) -> Prepared:
    name = target.module or ""
    if name.startswith("."):
        raise TargetError("Relative module names not supported", 1)
    package_main = None  # `-m pkg`: python runs pkg.__main__
    sys.path.insert(0, os.getcwd())
    saved_argv, sys.argv = sys.argv, ["-m", *target.args]  # a package imported here sees it
    try:
        spec = _find_spec(name)
        if spec is not None and spec.submodule_search_locations is not None:
            package_main = f"{name}.__main__"
            spec = _find_spec(package_main)
    except (ImportError, ValueError) as e:
        raise TargetError(
            f"Error while finding module specification for {name!r} ({e})", 1
        ) from None
    finally:
        sys.path.pop(0)
        sys.argv = saved_argv
    if spec is None and package_main is not None:
        raise TargetError(
            f"No module named {package_main}; {name!r} is a package and cannot be directly "
            "executed",
            1,
        )
    if spec is None or spec.loader is None or not hasattr(spec.loader, "get_code"):
        raise TargetError(f"No module named {name}", 1)
    code = spec.loader.get_code(spec.name)
    if code is None:
        raise TargetError(f"No code object available for {name}", 1)
    origin = spec.origin or name
    package = spec.parent if spec.parent and spec.parent not in sys.modules else None
    return Prepared(code, origin, os.getcwd(), _main_globals(origin, spec), package, _RUNPY_DEPTH)


def _find_spec(name: str) -> Any:
    """The spec of module ``name``, found without running its packages' ``__init__``: python
    imports them before the module runs, which ``run`` does while tracking, with the program's
    ``sys.argv`` (their memory is the program's). Each package's spec gives the search path of
    the next name. Where that finds nothing (a package that sets its ``__path__`` when it
    runs), the import system finds it, importing the packages now."""
    parent = name.rpartition(".")[0]
    if not parent or parent in sys.modules:
        return importlib.util.find_spec(name)
    parent_spec = _find_spec(parent)
    locations = parent_spec.submodule_search_locations if parent_spec is not None else None
    if locations is not None:
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, list(locations), None) if find is not None else None
            if spec is not None:
                return spec
    return importlib.util.find_spec(name)


def _main_globals(path: str, spec: Any) -> dict[str, Any]:
    # A script's loader is a SourceFileLoader named __main__, as python gives it (code that
    # reads __loader__, get_resource_reader or pkgutil, found None under memslim).
    loader = spec.loader if spec else importlib.machinery.SourceFileLoader("__main__", path)
    return {
        "__annotations__": {},
        "__builtins__": builtins,
        "__file__": path,
        "__cached__": spec.cached if spec else None,
        "__loader__": loader,
        "__package__": spec.parent if spec else None,
        "__spec__": spec,
    }


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        if not -(2**63) <= code < 2**63:
            return 255  # python's -1: the status does not fit a C long
        return code & 0xFF  # what the operating system keeps of it, as for python itself
    # python prints a non-int exit code to stderr (C's, when sys.stderr is None) and exits 1.
    stream = sys.stderr if sys.stderr is not None else sys.__stderr__
    try:
        text = str(code)
    except Exception as e:  # the program's __str__: python's way, below
        _unprintable_exit_code(e)
        return 1
    try:
        if stream is None:
            os.write(2, f"{text}\n".encode(errors="backslashreplace"))
        else:
            print(text, file=stream)
    except Exception:  # a closed or replaced sys.stderr: python writes "\n"
        with contextlib.suppress(OSError):
            os.write(2, b"\n")
    return 1


def _unprintable_exit_code(exc: Exception) -> None:
    """What python writes when a non-int exit code's ``__str__`` raises: a newline, then (3.12+)
    the exception, left set by the interpreter and shown at its end (3.13: "on threading
    shutdown"). memslim's own traceback and no report, before."""
    with contextlib.suppress(OSError):
        os.write(2, b"\n")
    if sys.version_info < (3, 12) or sys.__stderr__ is None:
        return
    with contextlib.suppress(Exception):
        if sys.version_info >= (3, 13):
            print("Exception ignored on threading shutdown:", file=sys.__stderr__)
        tb = exc.__traceback__
        shown = exc.with_traceback(tb.tb_next if tb else None)  # from the program's __str__
        traceback.print_exception(shown, file=sys.__stderr__)
        sys.__stderr__.flush()


def _always_tracked(tracked: bool) -> bool:
    return True


# memslim's modules that a run imports while the program runs (a fork hook's, the advice a
# census asks for): imported before the program when it has modules of its own named like
# memslim's, so that theirs are not the ones these bind.
_IMPORTED_DURING_THE_RUN = ("memslim.report.json_report", "memslim.advice", "memslim.profile_data")


def _hide_what_the_program_has_its_own_of(path0: str) -> dict[str, types.ModuleType]:
    """Takes out of ``sys.modules``, and returns, the modules memslim imported before the
    program (with those of the standard library it needed: json, resource, token, ...) that the
    program's own directory ``path0`` has a module of the same name for: under python the
    program imports its own, and under memslim it got memslim's (a ``token.py`` beside the
    script: "cannot import name ..."). Their submodules go with them. Built-in and frozen
    modules stay: python finds them before any file."""
    shadowed = set()
    # Those python imports for any program (PROCESS_MODULES) are its under python too.
    for name, module in list(sys.modules.items()):
        if "." in name or name in PROCESS_MODULES or name in ("memslim", "__main__"):
            continue
        origin = getattr(getattr(module, "__spec__", None), "origin", None)
        if origin in (None, "built-in", "frozen"):
            continue
        try:
            theirs = importlib.machinery.PathFinder.find_spec(name, [path0])
        except (ImportError, ValueError, OSError):
            continue
        if theirs is not None and theirs.loader is not None and theirs.origin not in (None, origin):
            shadowed.add(name)
    if not shadowed:
        return {}
    for name in _IMPORTED_DURING_THE_RUN:
        importlib.import_module(name)
    hidden = {}
    for name in list(sys.modules):
        if name.partition(".")[0] in shadowed:
            hidden[name] = sys.modules.pop(name)
    return hidden


def run(
    prepared: Prepared,
    target: Target,
    set_tracked: Callable[[bool], bool] = _always_tracked,
    at_end: Callable[[Outcome], Outcome] | None = None,
) -> Outcome:
    """Execute the prepared target as ``__main__`` and return how it ended.

    ``set_tracked`` is ``_core.set_thread_tracked`` under tracking: what the runner allocates
    before and after the program (its ``__main__`` module, the outcome, an uncaught exception's
    traceback printed) is memslim's, not the program's. A plain call, not a ``with`` block,
    whose bound ``__enter__`` and ``__exit__`` would be allocations of their own.

    ``at_end(outcome)``, when given, runs after the program's last line, still in the
    program's world (its ``sys.argv``, ``sys.path[0]`` and ``__main__``), as what python does
    next does: joining its threads, its atexit handlers. They ran in memslim's world before:
    a class of the program's could not be pickled there (a multiprocessing Queue's feeder
    thread, a ProcessPoolExecutor left open: the run hung), a sibling module not imported.
    The program's ``__main__`` stays in ``sys.modules`` after it, as under python, where its
    objects live until the interpreter finalizes; ``sys.argv`` and ``sys.path[0]`` are
    memslim's again for the report (its modules imported then are memslim's)."""
    tracked = set_tracked(False)
    main = types.ModuleType("__main__")
    main.__dict__.update(prepared.main_globals)
    saved_argv, saved_path0 = sys.argv, sys.path[0] if sys.path else None
    saved_orig_argv = getattr(sys, "orig_argv", None)
    sys.argv = [prepared.argv0, *target.args]
    sys.orig_argv = _programs_orig_argv(target, saved_argv, saved_orig_argv)
    # python -P (safe_path) puts no directory of the program's first, and neither does
    # memslim then: sys.path[0] is PYTHONPATH's first entry, which the program keeps.
    safe_path = bool(getattr(sys.flags, "safe_path", False))
    if safe_path:
        saved_path0 = None
    elif sys.path:
        sys.path[0] = prepared.path0
    else:
        sys.path.append(prepared.path0)
    hidden = {} if safe_path else _hide_what_the_program_has_its_own_of(prepared.path0)
    sys.modules["__main__"] = main
    # The program's recursion budget is python's: memslim's frames under it are not counted
    # (a program recursing near its limit raised RecursionError under memslim alone).
    # A script runs from _core.exec_as_script, whose call counts no level of its own; exec's
    # does on 3.11 (_EXEC_DEPTH).
    below = 0 if prepared.depth_under == 0 else _EXEC_DEPTH - prepared.depth_under
    credit = max(0, _core.recursion_depth() + below)
    _core.credit_recursion(credit)
    try:
        set_tracked(tracked)
        try:
            if prepared.package is not None and prepared.package not in sys.modules:
                # As python does: sys.argv[0] is "-m" while it imports the package.
                # __import__: no frame of memslim's own under the package's.
                sys.argv = ["-m", *target.args]
                __import__(prepared.package)
                sys.argv = [prepared.argv0, *target.args]
            if prepared.depth_under == 0:
                # A script's frame is the thread's first, as under python: no frame of the
                # runner's below it (warnings.warn(stacklevel=2) at module level was charged to
                # memslim's runner, and inspect.stack() and faulthandler listed its frames).
                _core.exec_as_script(prepared.code, main.__dict__)
            else:  # python's runpy has frames below -m modules, directories, zip files
                exec(prepared.code, main.__dict__)
        except BaseException as e:
            set_tracked(False)
            caught: BaseException | None = e
        else:
            set_tracked(False)
            caught = None
        # A trace or profile function the program left set (a tracer, a profiler never
        # stopped) is set aside, here and not in a function of memslim's, whose call it would
        # see: what runs next is memslim's (a tracer that printed each call printed 100,000
        # lines of the report). Python runs what follows under it: with_the_programs_tracers.
        _programs_tracers[:] = (sys.gettrace(), sys.getprofile())
        if _programs_tracers[0] is not None:
            sys.settrace(None)
        if _programs_tracers[1] is not None:
            sys.setprofile(None)
        # As python does once the main module has run (pythonrun.c flush_io, C calls no
        # tracer sees): the program's buffered output is written before its threads are
        # joined and its atexit handlers run (a handler that ended by os._exit lost it all
        # under memslim; one that ran a subprocess printed before it).
        _flush_io()
        outcome = Outcome(0, main.__dict__) if caught is None else _ended(caught, main)
        # And a script's __file__ and __cached__ are gone from __main__ after it, as python
        # deletes them (an atexit handler that reads them raises NameError), unless it ended
        # by SystemExit (python exits from inside its handling, before). Back for the report.
        forgotten = {}
        if prepared.depth_under == 0 and not isinstance(caught, SystemExit):
            for name in ("__file__", "__cached__"):
                if name in main.__dict__:
                    forgotten[name] = main.__dict__.pop(name)
        try:
            return outcome if at_end is None else at_end(outcome)
        finally:
            for name, value in forgotten.items():
                main.__dict__.setdefault(name, value)
    finally:
        set_tracked(False)  # a KeyboardInterrupt between the lines above
        _core.credit_recursion(-credit)
        sys.argv = saved_argv
        if saved_orig_argv is not None:
            sys.orig_argv = saved_orig_argv
        if saved_path0 is not None:
            sys.path[0] = saved_path0
        # memslim's modules again for its report; the program's of the same names stay
        # imported (their objects may still be in use by the program's).
        sys.modules.update(hidden)
        with contextlib.suppress(Exception):  # the program's sys.stdout may be anything, or None
            sys.stdout.flush()
        set_tracked(tracked)


# The trace and profile functions the program left set when it ended (run).
_programs_tracers: list[Any] = [None, None]


def with_the_programs_tracers(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` under the trace and profile functions the program left set, as
    python runs what follows the program's last line (threading._shutdown, the atexit
    handlers): they see its calls and not memslim's."""
    trace, profile = _programs_tracers
    if trace is None and profile is None:
        return function(*args)
    try:
        if profile is not None:
            sys.setprofile(profile)
        if trace is not None:
            sys.settrace(trace)
        return function(*args)
    finally:
        sys.settrace(None)
        sys.setprofile(None)


def _flush_io() -> None:
    """sys.stderr's and sys.stdout's buffers written, as python does after the main module:
    whatever the program made of them (None, closed, a writer that raises), errors ignored."""
    for name in ("stderr", "stdout"):
        with contextlib.suppress(Exception):
            getattr(sys, name).flush()


def _ended(exc: BaseException, main: types.ModuleType) -> Outcome:
    """The outcome of a program that raised ``exc``; python's message for it printed."""
    if isinstance(exc, SystemExit):
        return Outcome(_exit_code(exc), main.__dict__)
    _print_uncaught(exc)
    # python ends by SIGINT for KeyboardInterrupt itself only (run_eval_code_obj compares the
    # type): a subclass of it exits 1, as any other exception.
    if type(exc) is KeyboardInterrupt:
        return Outcome(130, main.__dict__, interrupted=True)
    return Outcome(1, main.__dict__)


def _print_uncaught(exc: BaseException) -> None:
    # Drop this module's own frame so the traceback starts in the target, as python's does.
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code is run.__code__:
        tb = tb.tb_next
    _excepthook(exc.with_traceback(tb))


def _excepthook(exc: BaseException) -> None:
    """Show an uncaught exception as python does: through the program's sys.excepthook, and,
    when that is missing or fails itself, both exceptions by python's default display."""
    try:
        hook = sys.excepthook
    except AttributeError:
        print("sys.excepthook is missing", file=sys.stderr)
        sys.__excepthook__(type(exc), exc, exc.__traceback__)
        return
    try:
        hook(type(exc), exc, exc.__traceback__)
    except SystemExit:
        raise
    except BaseException as failed:
        print("Error in sys.excepthook:", file=sys.stderr)
        # Without its context (the program's exception, shown next) or this frame.
        tb = failed.__traceback__.tb_next if failed.__traceback__ else None
        traceback.print_exception(type(failed), failed, tb, chain=False, file=sys.stderr)
        print("\nOriginal exception was:", file=sys.stderr)
        sys.__excepthook__(type(exc), exc, exc.__traceback__)


def print_syntax_error(exc: SyntaxError) -> None:
    """Print a target's SyntaxError exactly as python would (without memslim's frames)."""
    _excepthook(exc.with_traceback(None))
