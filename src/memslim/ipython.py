"""IPython and Jupyter: ``%load_ext memslim``, then

- ``%%memslim`` runs the cell tracked and shows its report: the HTML page (report/html_report.py)
  inline in a notebook, in a sandboxed frame so that its styles stay its own; the terminal
  report as text in a terminal IPython (one display object carries both, the front end picks);
- ``%memslim_sizeof EXPR``: the deep size of the value (memslim.sizeof) with its breakdown by
  type.

The cell's own output, its exceptions and its variables are the cell's, as without memslim.
"""

from __future__ import annotations

import html
from typing import Any


class CellReport:
    """What ``%%memslim`` displays: ``text/html`` for notebooks, ``text/plain`` elsewhere."""

    def __init__(self, report: dict[str, Any], text: str, stacks: list[dict[str, Any]]) -> None:
        self.report = report
        self.text = text
        self.stacks = stacks

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        from memslim.report.html_report import build_html

        page = build_html(self.report, stacks=self.stacks)
        return (
            '<iframe title="memslim report" style="width: 100%; height: 720px; border: 0"'
            f' sandbox="allow-scripts" srcdoc="{html.escape(page, quote=True)}"></iframe>'
        )


def load_ipython_extension(ipython: Any) -> None:
    from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

    @magics_class
    class MemslimMagics(Magics):  # type: ignore[misc]
        @cell_magic
        def memslim(self, line: str, cell: str) -> None:
            """Run the cell with every allocation tracked, then show the report."""
            from IPython.display import display

            report, error = run_cell_tracked(self.shell, cell)
            if report is not None:
                display(report)
            if error is not None:  # the cell's exception, as if it had run untracked
                raise error

        @line_magic
        def memslim_sizeof(self, line: str) -> None:
            """%memslim_sizeof EXPR: the deep size of EXPR's value, by type."""
            from memslim import sizeof

            value = self.shell.ev(line)
            print(sizeof(value, detail=True))

    ipython.register_magics(MemslimMagics)


def _run(shell: Any, cell: str) -> None:
    """The cell's code in the session's namespace, as IPython runs it (its transformations,
    a file name that tracebacks and linecache know), its exceptions raised."""
    source = shell.transform_cell(cell)
    filename = shell.compile.cache(source, shell.execution_count, raw_code=cell)
    exec(shell.compile(source, filename, "exec"), shell.user_ns)  # the user's cell


def run_cell_tracked(shell: Any, cell: str) -> tuple[CellReport | None, BaseException | None]:
    """Runs ``cell`` in ``shell`` tracked: the report (None when tracking could not start,
    said in one line) and the exception the cell raised, if it did."""
    import io

    from memslim import _core
    from memslim._tracking import Tracker
    from memslim.advice import Run, advise
    from memslim.profile_data import OWN_PREFIX, Profile
    from memslim.report.json_report import build_report
    from memslim.report.terminal import print_run_report, report_console

    error: BaseException | None = None
    if _core.is_tracking():
        print("memslim: already tracking allocations in this process: the cell runs untracked")
        _run(shell, cell)
        return None, None
    tracker = Tracker("exact")
    tracker.start()
    try:
        _run(shell, cell)
    except BaseException as e:  # given back to IPython after the report
        error = e
    finally:
        tracker.stop()
    profile = Profile.from_core(_core.tracking_result(OWN_PREFIX, top_stacks=1000))
    findings = advise(Run(profile, None, 0, [], shell.user_ns))
    status = 0 if error is None else 1
    report = build_report(profile, command=["%%memslim"], exit_code=status, findings=findings)
    text = io.StringIO()
    console = report_console(text)
    print_run_report(profile, title="%%memslim cell", console=console, findings=findings)
    stacks = [
        {"frames": [f.as_json() for f in frames], "bytes_at_peak": total}
        for frames, total in profile.stacks(1000)
    ]
    return CellReport(report, text.getvalue(), stacks), error
