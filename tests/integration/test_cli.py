"""The memslim command, run as a user would: in a subprocess, on fixture programs."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import memslim

REPO = Path(__file__).resolve().parents[2]


def memslim_cli(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "memslim", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def python(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_version() -> None:
    # The installed distribution's metadata (what pip shows) is the truth.
    installed = importlib.metadata.version("memslim")
    assert memslim.__version__ == installed
    result = memslim_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip().startswith(f"memslim {installed} ")


def test_help_lists_only_working_commands() -> None:
    result = memslim_cli("--help")
    assert result.returncode == 0
    commands = result.stdout.split("positional arguments")[1].split("options")[0]
    listed = {
        line.split()[0]
        for line in commands.splitlines()
        if line.startswith("    ") and not line.startswith("     ")  # not wrapped help text
    }
    assert listed == {"run", "report", "diff", "attach", "sizeof", "heap"}


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("memslim")
    if not exe.exists():
        pytest.skip("console script not next to this interpreter")
    result = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0


def test_sizeof_on_bundled_example_reports_largest_global() -> None:
    result = memslim_cli("sizeof", "examples/inventory.py", "20000", cwd=REPO)
    assert result.returncode == 0, result.stderr
    # The target's stdout is its own, untouched; the report goes to stderr.
    assert result.stdout == python("examples/inventory.py", "20000", cwd=REPO).stdout
    assert "by_sku" in result.stderr
    assert "What by_sku is made of" in result.stderr
    assert "__main__.Item" in result.stderr


def test_target_gets_its_own_argv_and_path(tmp_path: Path) -> None:
    script = write(
        tmp_path / "show.py",
        "import sys\nprint(sys.argv)\nprint(sys.path[0])\nprint(__name__)\ndata = [1.5] * 10\n",
    )
    result = memslim_cli("sizeof", str(script), "a", "--b", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == repr([str(script), "a", "--b"])
    assert lines[1] == str(tmp_path)
    assert lines[2] == "__main__"
    assert "data" in result.stderr


def test_exit_status_passes_through(tmp_path: Path) -> None:
    script = write(
        tmp_path / "exit3.py", "import sys\nkept = list(range(1000, 2000))\nsys.exit(3)\n"
    )
    result = memslim_cli("sizeof", str(script))
    assert result.returncode == 3
    assert "kept" in result.stderr, "the report is produced even when the target exits"


def test_uncaught_exception_prints_traceback_and_exits_1(tmp_path: Path) -> None:
    script = write(tmp_path / "boom.py", "held = {'a': [1.5]}\nraise ValueError('boom')\n")
    ours, theirs = memslim_cli("sizeof", str(script)), python(str(script))
    assert ours.returncode == theirs.returncode == 1
    assert "ValueError: boom" in ours.stderr
    assert f'File "{script}", line 2, in <module>' in ours.stderr
    assert "memslim" not in ours.stderr.split("Traceback")[1].split("ValueError")[0]
    assert "held" in ours.stderr


def test_missing_script_is_one_line_error_with_pythons_status(tmp_path: Path) -> None:
    missing = tmp_path / "nope.py"
    ours, theirs = memslim_cli("sizeof", str(missing)), python(str(missing))
    assert ours.returncode == theirs.returncode == 2
    assert ours.stderr.count("\n") == 1
    assert "can't open file" in ours.stderr and "nope.py" in ours.stderr


def test_directory_without_main_is_one_line_error(tmp_path: Path) -> None:
    ours, theirs = memslim_cli("sizeof", str(tmp_path)), python(str(tmp_path))
    assert ours.returncode == theirs.returncode == 1
    assert ours.stderr.count("\n") == 1
    assert "__main__" in ours.stderr


def test_syntax_error_reported_like_python(tmp_path: Path) -> None:
    script = write(tmp_path / "bad.py", "x = (1,\n")
    ours, theirs = memslim_cli("sizeof", str(script)), python(str(script))
    assert ours.returncode == theirs.returncode == 1
    assert "SyntaxError" in ours.stderr
    assert "Traceback" not in ours.stderr


def test_module_target(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    write(package / "__init__.py", "")
    write(
        package / "job.py", "import sys\nbig = [str(i) for i in range(5000)]\nprint(sys.argv[1:])\n"
    )
    result = memslim_cli("sizeof", "-m", "pkg.job", "x", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['x']"
    assert "big" in result.stderr


def test_missing_module(tmp_path: Path) -> None:
    ours = memslim_cli("sizeof", "-m", "no_such_module_xyz", cwd=tmp_path)
    theirs = python("-m", "no_such_module_xyz", cwd=tmp_path)
    assert ours.returncode == theirs.returncode == 1
    assert "No module named no_such_module_xyz" in ours.stderr


def test_the_programs_fork_hooks_run_in_its_children_only(tmp_path: Path) -> None:
    # A census child is memslim's: the program's after_in_child hook printed once per census,
    # and on 3.13 its before and after_in_parent hooks ran around each census fork. The
    # program's own fork still runs each, once.
    write(
        tmp_path / "hooks.py",
        "import os\n"
        "runs = {'before': 0, 'after_in_parent': 0}\n"
        "def count(name):\n"
        "    runs[name] += 1\n"
        "os.register_at_fork(\n"
        "    before=lambda: count('before'),\n"
        "    after_in_child=lambda: os.write(1, b'in a child\\n'),\n"
        "    after_in_parent=lambda: count('after_in_parent'),\n"
        ")\n"
        "keep = [('w%d' % i) * 3 for i in range(500_000)]  # censuses\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "print('done', len(keep), runs)\n",
    )
    theirs = python("hooks.py", cwd=tmp_path)
    expected = "in a child\ndone 500000 {'before': 1, 'after_in_parent': 1}\n"
    assert theirs.stdout == expected, theirs.stderr
    ours = memslim_cli("run", "--json", str(tmp_path / "hooks.json"), "hooks.py", cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert json.loads((tmp_path / "hooks.json").read_text())["census"]["forked"]["forks"] > 0


@pytest.mark.parametrize("module", ["pkg", ".relative", "pkg.nothing"])
def test_a_module_that_cannot_run_is_refused_as_python_refuses_it(
    tmp_path: Path, module: str
) -> None:
    (tmp_path / "pkg").mkdir()
    write(tmp_path / "pkg" / "__init__.py", "")  # a package without __main__
    ours = memslim_cli("run", "-m", module, cwd=tmp_path)
    theirs = python("-m", module, cwd=tmp_path)
    assert ours.returncode == theirs.returncode == 1
    # python's line is "<its path>: <message>", memslim's "memslim: <message>".
    assert ours.stderr.strip().split(": ", 1)[1] == theirs.stderr.strip().split(": ", 1)[1]


def test_usage_errors_exit_2() -> None:
    assert memslim_cli().returncode == 2
    assert memslim_cli("sizeof").returncode == 2
    assert memslim_cli("sizeof", "--top", "0", "x.py").returncode == 2
    assert memslim_cli("frobnicate").returncode == 2


def test_stdin_passes_through(tmp_path: Path) -> None:
    script = write(tmp_path / "echo.py", "import sys\nprint(sys.stdin.read().upper())\n")
    result = subprocess.run(
        [sys.executable, "-m", "memslim", "sizeof", str(script)],
        input="hello",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ},
    )
    assert result.returncode == 0
    assert result.stdout.strip() == "HELLO"


ARGV_PROGRAM = "import sys\nprint(sys.argv[1:])\nkept = [1.5] * 100\n"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        # Everything after the script is the script's, options that look like memslim's too.
        (["run", "--no-census", "prog.py", "--json", "x", "-h", "--", "-m", "y"],
         ["--json", "x", "-h", "--", "-m", "y"]),
        # A `--` before the target ends memslim's options and is not passed on.
        (["run", "--top", "3", "--", "prog.py", "a", "--top"], ["a", "--top"]),
        (["sizeof", "prog.py", "-x", "--top", "1"], ["-x", "--top", "1"]),
    ],
)  # fmt: skip
def test_the_target_gets_every_word_after_it(
    tmp_path: Path, command: list[str], expected: list[str]
) -> None:
    write(tmp_path / "prog.py", ARGV_PROGRAM)
    ours = memslim_cli(*command, cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.splitlines()[0] == repr(expected)


@pytest.mark.parametrize("form", [["-m", "json.tool"], ["-mjson.tool"]])
def test_a_module_gets_every_word_after_it(tmp_path: Path, form: list[str]) -> None:
    data = write(tmp_path / "data.json", '{"b": 1, "a": 2}')
    report = tmp_path / "report.json"
    ours = memslim_cli("run", "--json", str(report), *form, "--sort-keys", str(data), cwd=tmp_path)
    theirs = python("-m", "json.tool", "--sort-keys", str(data), cwd=tmp_path)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout  # keys sorted: --sort-keys reached json.tool
    assert report.exists()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["run", "-m"], "memslim: error: run: -m needs a module name"),
        (["run", "--top", "2"], "memslim: error: run: give a script to run (or -m MODULE)"),
        (["run", "--bogus", "prog.py"], "memslim: error: unrecognized arguments: --bogus"),
    ],
)
def test_bad_command_lines_are_one_line_errors(
    tmp_path: Path, command: list[str], message: str
) -> None:
    write(tmp_path / "prog.py", ARGV_PROGRAM)
    ours = memslim_cli(*command, cwd=tmp_path)
    assert ours.returncode == 2
    assert ours.stderr.strip().splitlines()[-1] == message
    assert ours.stdout == ""  # the program never ran


def _program_stderr(stderr: str) -> str:
    """What the program wrote to stderr: memslim's report starts at its title line."""
    return stderr.split("\nmemslim ", 1)[0] + "\n" if "\nmemslim " in stderr else ""


def test_a_modules_package_is_imported_as_the_programs_first_step(tmp_path: Path) -> None:
    """`python -m pkg.job` imports pkg before it runs pkg.job, with sys.argv[0] "-m": memslim ran
    pkg/__init__.py before tracking (its memory missing from the report) and with memslim's
    own command line. Truth: python's output, and 8 MiB kept by the package."""
    package = tmp_path / "pkg"
    package.mkdir()
    write(package / "__init__.py", "import sys\nprint(sys.argv)\nKEPT = bytes(8 << 20)\n")
    write(package / "job.py", "import sys\nprint(sys.argv[1:])\n")
    write(package / "__main__.py", "print('main')\n")
    report = tmp_path / "report.json"
    for module in ("pkg.job", "pkg"):
        ours = memslim_cli("run", "--no-census", "--json", str(report), "-m", module, "a", "b",
                           cwd=tmp_path)  # fmt: skip
        theirs = python("-m", module, "a", "b", cwd=tmp_path)
        assert ours.returncode == theirs.returncode == 0, ours.stderr
        assert ours.stdout == theirs.stdout
        assert ours.stdout.splitlines()[0] == "['-m', 'a', 'b']"
        top = json.loads(report.read_text())["program_lines"][0]
        assert top["file"].endswith(os.path.join("pkg", "__init__.py")) and top["line"] == 3
        assert top["bytes_at_peak"] >= 8 << 20


def test_the_main_namespace_is_pythons(tmp_path: Path) -> None:
    # python's __main__ has __builtins__ as the module (exec puts the module's dict in a
    # namespace without it: `__builtins__.print` failed) and __annotations__; a module's
    # __cached__ is its spec's.
    write(
        tmp_path / "names.py",
        "print(sorted(globals()), __cached__ is None)\n"
        "print(type(__builtins__).__name__, __builtins__.len('abc'), __annotations__)\n",
    )
    for target in (["names.py"], ["-m", "names"]):
        ours = memslim_cli("run", "--no-census", *target, cwd=tmp_path)
        theirs = python(*target, cwd=tmp_path)
        assert ours.returncode == theirs.returncode == 0, ours.stderr
        assert ours.stdout == theirs.stdout


def test_the_programs_recursion_limit_is_pythons(tmp_path: Path) -> None:
    # memslim's frames under the program's (and a census's above them) are not the program's to
    # pay for: a program recursing to within 12 levels of its limit raised RecursionError under
    # memslim alone. The depth reached before RecursionError is python's, to the level.
    write(
        tmp_path / "deep.py",
        "import sys\n"
        "def depth(n=1):\n"
        "    try:\n"
        "        return depth(n + 1)\n"
        "    except RecursionError:\n"
        "        return n\n"
        "def deep(n):\n"
        "    if n == 0:\n"
        "        return len([str(i) * 2 for i in range(300_000)])  # a census is due in here\n"
        "    return deep(n - 1)\n"
        "print(depth(), deep(sys.getrecursionlimit() - 12))\n",
    )
    for target in (["deep.py"], ["-m", "deep"]):
        theirs = python(*target, cwd=tmp_path)
        assert theirs.returncode == 0, theirs.stderr
        for options in (["--no-census"], ["--json", str(tmp_path / "deep.json")]):
            ours = memslim_cli("run", *options, *target, cwd=tmp_path)
            assert ours.returncode == 0, ours.stderr
            assert ours.stdout == theirs.stdout
            assert "Exception ignored" not in ours.stderr
    census = json.loads((tmp_path / "deep.json").read_text())["census"]
    strings = sum(row["count"] for row in census["sites"] if row["type"] == "str")
    assert strings >= 0.95 * 300_000


@pytest.mark.parametrize(
    "program",
    [
        "import sys\nsys.excepthook = None\nraise RuntimeError('boom')\n",
        "import sys\ndef hook(*a):\n    raise ValueError('hook broke')\n"
        "sys.excepthook = hook\nraise RuntimeError('boom')\n",
        "import sys\nprint('hi')\nsys.stdout = None\n",
        "import sys\ndel sys.excepthook\nraise RuntimeError('boom')\n",
    ],
)
def test_a_program_that_replaces_sys_hooks_ends_as_under_python(
    tmp_path: Path, program: str
) -> None:
    """An excepthook that is None, raises or is gone, or a stdout set to None: memslim failed
    with a traceback of its own."""
    write(tmp_path / "prog.py", program)
    ours = memslim_cli("run", "--no-census", "prog.py", cwd=tmp_path)
    theirs = python("prog.py", cwd=tmp_path)
    assert ours.returncode == theirs.returncode, ours.stderr
    assert ours.stdout == theirs.stdout
    assert _program_stderr(ours.stderr) == theirs.stderr
    assert "memslim/" not in _program_stderr(ours.stderr)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--top", "0"), ("--top", str(1 << 64)), ("--sample-interval", str(1 << 1024))],
)
def test_a_count_out_of_range_is_a_usage_error(tmp_path: Path, option: str, value: str) -> None:
    write(tmp_path / "prog.py", "print('ran')\n")
    ours = memslim_cli("run", option, value, "prog.py", cwd=tmp_path)
    assert (ours.returncode, ours.stdout) == (2, "")  # the program did not run
    assert f"{option}: must be from 1 to 2**63 - 1" in ours.stderr
    assert "Traceback" not in ours.stderr


@pytest.mark.parametrize("seed", ["-1", str(1 << 64)])
def test_a_seed_out_of_range_is_a_usage_error(tmp_path: Path, seed: str) -> None:
    write(tmp_path / "prog.py", "print('ran')\n")
    ours = memslim_cli("run", "--mode", "sample", "--seed", seed, "prog.py", cwd=tmp_path)
    assert ours.returncode == 2
    assert ours.stdout == ""
    assert "--seed: must be from 0 to 2**64 - 1" in ours.stderr
    assert "Traceback" not in ours.stderr


@pytest.mark.parametrize(
    "program",
    [
        # python: 255 (the status does not fit a C long; 3.13 also says so on stderr)
        "import sys\nsys.exit(2**70)\n",
        "import sys\nsys.exit(2**40 + 3)\n",
        "import sys\nsys.stderr = None\nsys.exit('gone')\n",  # python: to the real stderr
    ],
)
def test_a_programs_exit_status_and_message_are_pythons(tmp_path: Path, program: str) -> None:
    write(tmp_path / "prog.py", program)
    ours = memslim_cli("run", "--no-census", "prog.py", cwd=tmp_path)
    theirs = python("prog.py", cwd=tmp_path)
    assert ours.returncode == theirs.returncode, ours.stderr
    assert ours.stdout == theirs.stdout
    if "2**70" not in program:
        assert _program_stderr(ours.stderr) == theirs.stderr


def test_a_zip_application_runs_as_under_python(tmp_path: Path) -> None:
    """`python app.pyz`: the archive's __main__, the archive first on sys.path (its other
    modules importable). memslim compiled the archive's bytes as a script."""
    import zipapp

    source = tmp_path / "app"
    source.mkdir()
    write(source / "__main__.py", "import sys, helper\nprint(sys.argv[1:], helper.KEPT[-1])\n")
    write(source / "helper.py", "KEPT = [str(i) for i in range(100_000)]\n")
    zipapp.create_archive(source, tmp_path / "app.pyz")
    report = tmp_path / "report.json"
    ours = memslim_cli("run", "--json", str(report), "app.pyz", "a", cwd=tmp_path)
    theirs = python("app.pyz", "a", cwd=tmp_path)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout == "['a'] 99999\n"
    # The list of 100,000 strings, at the helper's line in the archive.
    top = json.loads(report.read_text())["program_lines"][0]
    assert top["file"].endswith(os.path.join("app.pyz", "helper.py")), top
    assert top["bytes_at_peak"] >= 100_000 * sys.getsizeof("99999")


MAIN_GLOBALS = (
    "import sys\n"
    "print(repr(__package__), repr(__cached__), type(__loader__).__name__, __file__)\n"
    "print(__spec__.name, __spec__.origin, type(__spec__.loader).__name__, sys.argv[0])\n"
)


@pytest.mark.parametrize("packed", [False, True], ids=["directory", "zip"])
def test_a_directory_or_zip_applications_main_module_is_pythons(
    tmp_path: Path, packed: bool
) -> None:
    """`python app` and `python app.pyz` run `__main__` with its spec as runpy finds it:
    `__spec__`, `__package__` ('') and `__cached__` were None under memslim."""
    import zipapp

    source = tmp_path / "app"
    source.mkdir()
    write(source / "__main__.py", MAIN_GLOBALS)
    if packed:
        zipapp.create_archive(source, tmp_path / "app.pyz")
    name = "app.pyz" if packed else "app"
    ours = memslim_cli("run", "--no-census", name, cwd=tmp_path)
    theirs = python(name, cwd=tmp_path)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert theirs.stdout.startswith("'' '"), theirs.stdout


def test_diff_refuses_a_threshold_that_is_not_a_number(tmp_path: Path) -> None:
    """--fail-over nan was taken, and no growth is over nan: the CI gate never failed."""
    ours = memslim_cli("diff", "old.json", "new.json", "--fail-over", "nan", cwd=tmp_path)
    assert ours.returncode == 2
    assert "--fail-over: must be a number, not nan" in ours.stderr


def test_a_program_read_from_stdin_runs_as_under_python(tmp_path: Path) -> None:
    """`python - a b`: the program comes from stdin. memslim looked for a file named '-'."""
    program = (
        "import sys\n"
        "print(sys.argv, repr(sys.path[0]), __file__, __name__)\n"
        "kept = [str(i) * 4 for i in range(50_000)]\n"
    )
    report = tmp_path / "report.json"
    ours = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "--json", str(report), "-", "a", "b"],
        input=program, capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    theirs = subprocess.run([sys.executable, "-", "a", "b"], input=program,
                            capture_output=True, text=True, cwd=tmp_path, timeout=60,
                            check=False)  # fmt: skip
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout == "['-', 'a', 'b'] '' <stdin> __main__\n"
    top = json.loads(report.read_text())["program_lines"][0]
    assert (top["file"], top["line"]) == ("<stdin>", 3)
    assert top["bytes_at_peak"] >= 50_000 * sys.getsizeof("9999" * 4)


@pytest.mark.parametrize(
    "program",
    [
        # The program's buffered output is written before its atexit handlers run: one that
        # ends the process loses none of it, one that runs a subprocess prints after it.
        'import atexit, os\nprint("main done")\natexit.register(os._exit, 0)\n',
        'import atexit, subprocess\nprint("first")\n'
        'atexit.register(subprocess.run, ["echo", "second"])\n',
        # A script's __file__ and __cached__ are gone when its handlers run (NameError)...
        'import atexit\nprint("hi")\natexit.register(lambda: print("file:", __file__))\n',
        'import atexit\natexit.register(lambda: print("cached:", __cached__))\n1 / 0\n',
        # ...but not after SystemExit, whose handling python exits from.
        'import atexit, sys\natexit.register(lambda: print("file:", __file__ is not None))\n'
        "sys.exit(3)\n",
    ],
)
def test_what_runs_after_the_programs_last_line_sees_what_python_shows_it(
    tmp_path: Path, program: str
) -> None:
    write(tmp_path / "prog.py", program)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout to a pipe
    theirs, ours = (
        subprocess.run(
            [sys.executable, *command, "prog.py"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
            check=False,
        )
        for command in ([], ["-m", "memslim", "run", "--no-census"])
    )
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), ours.stderr
    assert ("NameError" in ours.stderr) == ("NameError" in theirs.stderr)


def test_modules_beside_the_program_named_like_memslims_stay_the_programs(tmp_path: Path) -> None:
    """memslim's own imports while the program runs (wrapping subprocess when the program
    imports it, a python child's command, a failing excepthook's display) are memslim's
    modules, not the program's of the same name: an inspect.py beside the program was
    imported by memslim and crashed it."""
    for name in ("inspect", "shutil", "site", "traceback"):
        write(tmp_path / f"{name}.py", f"print('the program imported its {name}')\n")
    write(
        tmp_path / "prog.py",
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', 'print(\"child\")'], check=True)\n"
        "sys.excepthook = lambda *exc: 1 / 0\n"
        "raise ValueError('the program ends')\n",
    )
    ours = memslim_cli("run", "--no-census", "prog.py", cwd=tmp_path)
    theirs = python("prog.py", cwd=tmp_path)
    # Their print()s go to stdout: the program's own imports (3.13 imports its traceback.py to
    # show the exception, under python too) are there alike, and memslim's would differ.
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), ours.stderr
    assert "the program imported its inspect" not in ours.stdout
    assert "ZeroDivisionError" in ours.stderr


def test_the_os_functions_memslim_replaces_pickle_and_fail_as_pythons(tmp_path: Path) -> None:
    """os._exit and the waits, which memslim run replaces (its report before an os._exit; no
    census child in a wait for any child), pickle by name (a spawned Process's target) and
    refuse bad arguments with python's message."""
    write(
        tmp_path / "prog.py",
        "import inspect, multiprocessing, os, pickle, posix\n"
        "for name in ('_exit', 'waitpid', 'wait', 'wait4', 'waitid'):\n"
        "    f = getattr(os, name)\n"
        "    print(name, pickle.loads(pickle.dumps(f)) is f, f is getattr(posix, name),\n"
        "          f.__module__, inspect.signature(f))\n"
        "try:\n"
        "    os.waitpid(-1)\n"
        "except TypeError as e:\n"
        "    print(e)\n"
        "if __name__ == '__main__':\n"
        "    child = multiprocessing.get_context('spawn').Process(target=os._exit, args=(9,))\n"
        "    child.start()\n"
        "    child.join()\n"
        "    print('exit', child.exitcode)\n",
    )
    ours = memslim_cli("run", "prog.py", cwd=tmp_path)
    theirs = python("prog.py", cwd=tmp_path)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), ours.stderr
