"""The HTML report (issue 13, item 1): one self-contained file, checked as text and, where
Chromium is installed (scripts/test.sh installs Debian's), rendered in a headless browser: the
DOM after the page's script ran, and a screenshot that is not blank."""

from __future__ import annotations

import html as html_module
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

PROGRAM = """
class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

def build(n):
    return [Point(i, 2 * i) for i in range(n)]  # the peak's line

points = build(200_000)
print(len(points))
"""


def line_of(marker: str) -> int:
    return next(n for n, text in enumerate(PROGRAM.splitlines(), 1) if marker in text)


def run_html(tmp: Path, name: str, program: str) -> tuple[Path, dict, str]:
    """``memslim run --html --json`` of ``program`` (saved as ``name`` in ``tmp``): the page,
    the JSON report and the program's output."""
    script = tmp / name
    script.write_text(program)
    html, report = tmp / "report.html", tmp / "report.json"
    ran = subprocess.run(
        [sys.executable, "-m", "memslim", "run", "--html", str(html), "--json", str(report),
         str(script)],
        capture_output=True, text=True, timeout=180, check=False, cwd=tmp,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    return html, json.loads(report.read_text()), ran.stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    html, report, out = run_html(tmp_path_factory.mktemp("html"), "points.py", PROGRAM)
    assert out == "200000\n"
    return html, report


class _Links(HTMLParser):
    """Every URL the page would load: src and href attributes, and url() in styles."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value or "" for name, value in attrs if name in ("src", "href")]


def test_the_page_is_self_contained(page: tuple[Path, dict]) -> None:
    html, report = page
    text = html.read_text()
    links = _Links()
    links.feed(text)
    assert links.urls == []  # no script, style, image or font from anywhere
    assert "url(" not in text and "@import" not in text
    top = report["lines"][0]
    assert top["line"] == line_of("# the peak's line")
    assert f"points.py:{top['line']}" in text  # the top line, as a table row
    assert "[slots]" in text and "__slots__" in text  # the finding and its fix
    assert '<svg id="timeline"' in text
    assert len(text) < 400_000


def test_capture_report_writes_the_same_page(page: tuple[Path, dict], tmp_path: Path) -> None:
    script = tmp_path / "points.py"
    script.write_text(PROGRAM)
    capture, html = tmp_path / "run.mslm", tmp_path / "from-capture.html"
    subprocess.run(
        [sys.executable, "-m", "memslim", "run", "-o", str(capture), str(script)],
        capture_output=True, text=True, timeout=180, check=True, cwd=tmp_path,
    )  # fmt: skip
    shown = subprocess.run(
        [sys.executable, "-m", "memslim", "report", str(capture), "--html", str(html)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert f"points.py:{line_of('# the peak' + chr(39) + 's line')}" in html.read_text()
    bad = subprocess.run(
        [sys.executable, "-m", "memslim", "report", str(capture), "--html", "/no/such/x.html"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium here (Debian: apt-get install chromium; scripts/test.sh does)")


def headless(*args: str) -> subprocess.CompletedProcess:
    # The browser's own environment: not the sanitizers' preloads of scripts/sanitize.sh.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    profile_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"memslim-chromium-{os.getpid()}")
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={profile_dir}", *args],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip


def test_the_browser_draws_the_icicle_and_the_findings(page: tuple[Path, dict]) -> None:
    html, report = page
    dom = headless("--dump-dom", html.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = html_module.unescape(dom.stdout)
    # The page's script ran: the icicle's frames are elements now, the top stack's innermost
    # frame among them, with its bytes on hover.
    assert text.count('class="fr ') >= 3
    innermost = report["stacks"][0]["frames"][0]
    drawn = re.escape(innermost["function"]) + rf"  \S*points\.py:{innermost['line']}<"
    assert re.search(drawn, text), drawn
    assert "of the peak)" in text
    assert "[slots]" in text and f"points.py:{report['findings'][0]['line']}" in text


def _png_colours(path: Path) -> int:
    """How many distinct colours a PNG (8-bit RGB or RGBA, not interlaced) has: a blank page
    has one."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks, header = 8, [], b""
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        at += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    previous = bytearray(stride)
    colours: set[bytes] = set()
    for row in range(height):
        kind = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)])
        for i in range(stride):  # undo the row's filter
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + guess) & 0xFF
        if row % 8 == 0:  # every 8th row is plenty to tell a page from a blank
            colours.update(bytes(line[i : i + 3]) for i in range(0, stride, channels * 4))
        previous = line
    return len(colours)


def test_the_screenshot_is_not_blank(page: tuple[Path, dict], tmp_path: Path) -> None:
    html, _report = page
    shot = tmp_path / "page.png"
    done = headless("--window-size=1000,900", f"--screenshot={shot}", html.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    assert _png_colours(shot) >= 8  # header, icicle colours, text: not one flat colour


LIBRARY_PROGRAM = """
import json

text = "[" + ",".join(['{"a": [1.5, 2.5, 3.5]}'] * 50_000) + "]"  # 1.1 MB of text

def load():
    return json.loads(text)  # the program's line: 20 MB of dicts, lists and floats

data = load()
"""


def test_the_lines_are_the_programs_with_library_lines_under_them(tmp_path: Path) -> None:
    """As in the terminal: the table's rows are the program's lines; the standard library's
    lines they called are listed under them, not above them (json's decoder held the bytes)."""
    html, _, _ = run_html(tmp_path, "loader.py", LIBRARY_PROGRAM)
    table = html.read_text().split('<section id="lines">', 1)[1].split("</section>", 1)[0]
    line = next(n for n, text in enumerate(LIBRARY_PROGRAM.splitlines(), 1) if "program's" in text)
    rows = re.findall(r"<tr>(.*?)</tr>", table)[1:]  # the header left out
    assert f"loader.py:{line}" in rows[0]
    assert "↳ &lt;stdlib&gt;/json/decoder.py:" in rows[1]
    assert not any("json/decoder.py" in row and "↳" not in row for row in rows)


HOLDER_PROGRAM = """
def build():
    return {
        "strings": [f"item-{i:06d}" for i in range(200_000)],
        "floats": [i + 0.5 for i in range(200_000)],
    }

holder = build()
# The last 35% in one C call (no safe point inside): the peak is at the end, past every census
# taken while the program ran.
holder["numbers"] = list(range(300_000))
"""


def test_censuses_on_the_timeline_and_retainers_as_a_tree(tmp_path: Path) -> None:
    html, report, _ = run_html(tmp_path, "holder.py", HOLDER_PROGRAM)
    text = html.read_text()
    moments = report["census"]["forked"]["moments"]
    assert moments and text.count('class="census"') == len(moments)
    # The holder's lists are nested in the entry their path goes through (the holder, or what
    # holds it), not listed beside it.
    census = text.split('<section id="census">', 1)[1].split("</section>", 1)[0]
    # Its peak is at its end: the last census ran after the program returned, and still names
    # the program's globals as its module's (not through memslim's own objects).
    strings = census.index("module __main__ → global &#x27;holder&#x27; → [&#x27;strings&#x27;]")
    assert "memslim" not in census.split("What keeps the most alive", 1)[1].split("</details>")[0]
    before = census[:strings]
    assert before.count("<details") - before.count("</details>") >= 2
