"""The HTML report: one self-contained file (no network, no external file) made from a
memslim/1 report (``memslim run --html FILE``, ``memslim report CAPTURE --html FILE``).

- an icicle (flame graph) of the stacks live at the peak: the root on top, each frame as wide
  as the bytes its callees hold at the peak; click to zoom, a search box to highlight, each
  frame's bytes and share on hover; frames narrower than a pixel are not drawn. Colours tell
  the program's own code from libraries, the standard library and native memory;
- the timeline of traced bytes (by domain: Python objects, NumPy buffers, native memory, when
  the run had the latter) and RSS, with the peak and each census marked (SVG drawn here, not
  by script);
- the program's top lines with the library lines under them, the census (by type, by type and
  site, the retainers as a tree nested by their paths), the findings with their fixes, child
  processes, and the run's facts.

Tables, the timeline and the findings are plain HTML (readable without JavaScript); only the
icicle is drawn by the page's script, from the stacks embedded as JSON. Its size is bounded by
the stacks it gets (the top 1,000 at most) and the report's top rows.
"""

from __future__ import annotations

import html
import json
import keyword
import os
import re
from typing import Any

from memslim._paths import library_label
from memslim._units import allocations_header, format_bytes


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _share(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole > 0 else "-"


def _kind_of(file: str) -> str:
    """user, library, stdlib or native: the icicle's colours."""
    if file.startswith("<native") or file == "":
        return "native"
    if file.startswith("<frozen"):
        return "stdlib"
    label = None if file.startswith("<") else library_label(os.path.abspath(file))
    return {"<stdlib>": "stdlib", "site-packages": "library"}.get(label or "", "user")


def _highlight(code: str) -> str:
    """Python source as HTML with keywords, strings and comments marked (no library)."""
    out = []
    for token in re.finditer(
        r"(#[^\n]*)|(\"[^\"\n]*\"|'[^'\n]*')|([A-Za-z_][A-Za-z0-9_]*)|(\s+|.)", code
    ):
        comment, string, word, other = token.groups()
        if comment:
            out.append(f'<span class="c">{_e(comment)}</span>')
        elif string:
            out.append(f'<span class="s">{_e(string)}</span>')
        elif word and (keyword.iskeyword(word) or word in ("self", "cls")):
            out.append(f'<span class="k">{_e(word)}</span>')
        else:
            out.append(_e(word or other))
    return "".join(out)


def _retainer_tree(retainers: list[dict[str, Any]]) -> str:
    """The top retainers as an expandable tree: a retainer whose path from a root goes through
    another's object is nested under it (what it keeps alive is part of what the outer one
    keeps alive); each shows its path."""
    paths = [r["path"] for r in retainers]

    def parent(i: int) -> int | None:
        best = None
        for j, other in enumerate(paths):
            # The same words can name two objects ("a dict held from outside the heap"): one
            # that retains more than the other is not under it.
            nested = (
                j != i
                and paths[i].startswith(other + " → ")
                and retainers[i]["retained_bytes"] <= retainers[j]["retained_bytes"]
            )
            if nested and (best is None or len(other) > len(paths[best])):
                best = j
        return best

    children: dict[int | None, list[int]] = {}
    for i in range(len(retainers)):
        children.setdefault(parent(i), []).append(i)

    def render(i: int) -> str:
        r = retainers[i]
        inner = "".join(render(j) for j in children.get(i, []))
        return (
            f"<details{' open' if inner else ''}><summary>"
            f"{_e(format_bytes(r['retained_bytes']))} — {_e(r['type'])}</summary>"
            f"<p class='path'>{_e(r['path'])}</p>{inner}</details>"
        )

    return "".join(render(i) for i in children.get(None, []))


def _timeline_svg(report: dict[str, Any], width: int = 900, height: int = 220) -> str:
    points = report.get("timeline") or []
    if not points:
        return "<p>No timeline was recorded.</p>"
    peak = report["peak"]
    end_t = max(max(p["t"] for p in points), float(peak["at_s"]), 1e-9)
    top = max(
        max(p["traced_bytes"] for p in points),
        max(p.get("rss_bytes") or 0 for p in points),
        peak["traced_bytes"],
        1,
    )
    pad = 40

    def xy(t: float, b: int) -> str:
        x = pad + (width - 2 * pad) * t / end_t
        y = height - pad - (height - 2 * pad) * b / top
        return f"{x:.1f},{y:.1f}"

    traced = " ".join(xy(p["t"], p["traced_bytes"]) for p in points)
    # The traced bytes by domain, when the run had NumPy buffers or native memory.
    split = "numpy_bytes" in points[0]
    domains = ""
    if split:
        parts = {
            "python": [p["traced_bytes"] - p["numpy_bytes"] - p["native_bytes"] for p in points],
            "numpy": [p["numpy_bytes"] for p in points],
            "native": [p["native_bytes"] for p in points],
        }
        lines = {
            name: " ".join(xy(p["t"], b) for p, b in zip(points, values, strict=True))
            for name, values in parts.items()
            if any(values)
        }
        domains = "".join(
            f'<polyline points="{line}" class="domain {name}"/>' for name, line in lines.items()
        )
    # Each census the report read, where it was taken; the one it shows is the last.
    census = report.get("census") or {}
    moments = (census.get("forked") or {}).get("moments") or []
    marks = ""
    for m in moments:
        x, y = xy(m["t"], m["traced_bytes"]).split(",")
        marks += (
            f'<circle cx="{x}" cy="{y}" r="4" class="census"><title>census at {m["t"]:.2f} s,'
            f" {_e(format_bytes(m['traced_bytes']))} traced</title></circle>"
        )
    rss = " ".join(xy(p["t"], p["rss_bytes"]) for p in points if p.get("rss_bytes"))
    px = pad + (width - 2 * pad) * float(peak["at_s"]) / end_t
    return (
        f'<svg id="timeline" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        ' role="img" aria-label="traced bytes and RSS over time">'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}"'
        ' class="axis"/>'
        f'<polyline points="{rss}" class="rss"/>'
        f'<polyline points="{traced}" class="traced"/>{domains}{marks}'
        f'<line x1="{px:.1f}" y1="{pad / 2}" x2="{px:.1f}" y2="{height - pad}" class="peak"/>'
        f'<text x="{px + (-4 if px > width * 0.6 else 4):.1f}" y="{pad / 2 + 10}" class="label"'
        f' text-anchor="{"end" if px > width * 0.6 else "start"}">peak'
        f" {_e(format_bytes(peak['traced_bytes']))} at {float(peak['at_s']):.2f} s</text>"
        f'<text x="{pad}" y="{height - pad / 3}" class="label">0 s</text>'
        f'<text x="{width - pad}" y="{height - pad / 3}" class="label" text-anchor="end">'
        f"{end_t:.2f} s</text>"
        f'<text x="{pad}" y="{pad / 2}" class="label">{_e(format_bytes(top))}</text>'
        "</svg>"
        '<p class="legend"><span class="key traced"></span> traced bytes'
        ' <span class="key rss"></span> RSS'
        + (
            ' (of the traced: <span class="key dpython"></span> Python objects'
            ' <span class="key dnumpy"></span> NumPy buffers'
            ' <span class="key dnative"></span> native memory)'
            if split
            else ""
        )
        + (' <span class="key census"></span> a census' if moments else "")
        + "</p>"
    )


def _table(headers: list[str], rows: list[list[str]], *, cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _where(row: dict[str, Any]) -> str:
    from memslim.report.terminal import _where as where

    return where(row["file"], row["line"])


def build_html(report: dict[str, Any], *, stacks: list[dict[str, Any]] | None = None) -> str:
    """The page for ``report``; ``stacks`` (frames innermost first, bytes_at_peak) for the
    icicle, else the report's own top stacks."""
    peak = report["peak"]["traced_bytes"]
    title = " ".join(report.get("command", [])) or "memslim run"
    icicle = [
        {
            "bytes": s["bytes_at_peak"],
            "frames": [
                [f["function"], f["file"], f["line"], _kind_of(f["file"])] for f in s["frames"]
            ],
        }
        for s in (stacks if stacks is not None else report.get("stacks", []))
        if s["bytes_at_peak"] > 0
    ]
    data = json.dumps({"peak": peak, "stacks": icicle}, separators=(",", ":"))
    data = data.replace("</", "<\\/")  # never ends the script element early

    facts = [
        ["command", _e(title)],
        ["Python", _e(report.get("python", ""))],
        ["mode", _e(report.get("mode", ""))],
        ["ran", f"{float(report.get('duration_s', 0)):.2f} s"],
        ["exit status", _e(report.get("exit_code"))],
        ["peak traced", f"{_e(format_bytes(peak))} at {float(report['peak']['at_s']):.2f} s"],
        ["peak RSS", _e(format_bytes(report["peak"].get("rss_bytes") or 0))],
        [
            "memslim's own memory",
            _e(format_bytes(report.get("memslim", {}).get("bookkeeping_bytes", 0))),
        ],
    ]
    capture = report.get("capture")
    if capture is not None and not capture.get("complete", True):
        facts.append(["cut short", f"last checkpoint, {capture['written_s']:.2f} s in"])
    for problem in report.get("memslim", {}).get("untraced", []):
        facts.append(["not traced", _e(problem)])

    # The program's own lines, each with the library lines it called that held the most (as in
    # the terminal); a report without them (an older memslim) lists the innermost lines.
    lines = []
    for r in (report.get("program_lines") or report.get("lines", []))[:50]:
        if r["bytes_at_peak"] <= 0:
            continue
        lines.append(
            [
                f'<span class="where">{_e(_where(r))}</span>',
                _e(r["function"]),
                _e(format_bytes(r["bytes_at_peak"])),
                _e(_share(r["bytes_at_peak"], peak)),
                f"{r['allocations']:,}",
            ]
        )
        for via in r.get("via", []):
            lines.append(
                [
                    f'<span class="where via">↳ {_e(_where(via))}</span>',
                    f'<span class="via">{_e(via["function"])}</span>',
                    f'<span class="via">{_e(format_bytes(via["bytes_at_peak"]))}</span>',
                    f'<span class="via">{_e(_share(via["bytes_at_peak"], peak))}</span>',
                    "",
                ]
            )

    sections = [
        '<section id="facts"><h2>The run</h2>'
        + _table(["", ""], facts, cls="facts")
        + "</section>",
        '<section id="flame"><h2>Stacks live at the peak</h2>'
        '<p class="help">Each frame is as wide as the bytes live at the peak below it; click'
        ' to zoom (the top bar zooms out), hover for bytes and share. <input id="search"'
        ' type="search" placeholder="highlight frames (function or file)"> <span'
        ' id="matched"></span></p><div id="icicle"></div><p class="legend"><span class="key'
        ' user"></span> the program <span class="key library"></span> libraries <span'
        ' class="key stdlib"></span> standard library <span class="key native"></span>'
        " native</p></section>",
        '<section id="time"><h2>Over time</h2>' + _timeline_svg(report) + "</section>",
        '<section id="lines"><h2>Top lines of the program by bytes live at the peak'
        " (library lines under each)</h2>"
        + _table(
            ["line", "function", "at peak", "share", allocations_header(report.get("mode", ""))],
            lines,
            cls="lines",
        )
        + "</section>",
    ]
    census = report.get("census")
    if census:
        types = [
            [_e(t["type"]), f"{t['count']:,}", _e(format_bytes(t["bytes"]))]
            for t in census.get("types", [])[:30]
        ]
        sites = [
            [
                _e(s["type"]),
                _e(_where(s["frames"][0]) if s["frames"] else "<no Python stack>"),
                f"{s['count']:,}",
                _e(format_bytes(s["bytes"])),
            ]
            for s in census.get("sites", [])[:30]
        ]
        retainers = _retainer_tree(census.get("retainers", []))
        sections.append(
            '<section id="census"><h2>Heap census</h2>'
            f"<p>{census['objects']:,} objects, {_e(format_bytes(census['bytes']))}, taken at"
            f" {_e(format_bytes(census['traced_bytes']))} traced"
            f" ({_e(_share(census['traced_bytes'], peak))} of the peak).</p>"
            "<h3>By type</h3>"
            + _table(["type", "count", "bytes"], types, cls="types")
            + ("<h3>By type and allocation site</h3>" if sites else "")
            + (_table(["type", "allocated at", "count", "bytes"], sites) if sites else "")
            + "<h3>What keeps the most alive</h3>"
            + (retainers or "<p>No retainer.</p>")
            + "</section>"
        )
    findings = report.get("findings")
    if findings is not None:
        items = "".join(
            f'<div class="finding"><h3>[{_e(f["kind"])}] {_e(_where(f))} — '
            + (
                "speed (no memory saving claimed)"
                if f.get("time_only")
                else "no line to change, no saving claimed"
                if f["line"] == 0
                else f"saves {_e(format_bytes(f['saving_bytes']))}"
                f" ({_e(_share(f['saving_bytes'], peak))} of the peak)"
            )
            + f"</h3><p>{_e(f['message'])}</p><pre><code>{_highlight(f['fix'])}</code></pre>"
            "</div>"
            for f in findings
        )
        sections.append(
            '<section id="findings"><h2>How to save memory</h2>'
            + (items or "<p>No finding saves at least 1 MiB or 1% of the peak.</p>")
            + "</section>"
        )
    if report.get("limit"):
        from memslim.limit import Fit

        verdict, lines = Fit.from_json(report["limit"]).describe()
        listed = "".join(f"<li>{_e(line)}</li>" for line in lines)
        sections.append(
            '<section id="limit"><h2>Memory limit</h2>'
            + f"<p>{_e(verdict)}</p>"
            + (f"<ul>{listed}</ul>" if lines else "")
            + "</section>"
        )
    processes = report.get("processes")
    if processes:
        rows = [
            [
                _e(p["pid"]),
                _e(p["ppid"]),
                _e(p["name"]),
                _e(format_bytes(p["peak_traced_bytes"])),
                f"{p['peak_at_s']:.2f} s",
                "" if p["complete"] else "killed: last checkpoint",
            ]
            for p in processes
        ]
        tree = report["tree_peak"]
        sections.append(
            '<section id="processes"><h2>Child processes</h2>'
            + _table(["pid", "parent", "what", "peak traced", "at", ""], rows)
            + f"<p>Whole process tree: peak traced {_e(format_bytes(tree['traced_bytes']))}"
            f" at {tree['at_s']:.2f} s.</p></section>"
        )
    body = "\n".join(sections)
    return _PAGE.format(title=_e(title), data=data, body=body, css=_CSS, script=_SCRIPT)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>memslim — {title}</title>
<style>{css}</style></head>
<body><header><h1>memslim — {title}</h1></header>
<main>
{body}
</main>
<script id="memslim-data" type="application/json">{data}</script>
<script>{script}</script>
</body></html>
"""

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #fff; }
header { background: #17324d; color: #fff; padding: 12px 20px; }
h1 { font-size: 18px; margin: 0; }
main { padding: 0 20px 40px; max-width: 1200px; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
h3 { font-size: 14px; margin: 16px 0 6px; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
table.facts td:first-child { color: #555; }
.where, .path, code { font-family: ui-monospace, monospace; font-size: 12px; }
.via { color: #777; } .where.via { padding-left: 1.2em; }
pre { background: #f5f5f7; padding: 8px 12px; overflow-x: auto; }
.k { color: #8a2be2; } .s { color: #2e7d32; } .c { color: #888; }
#icicle { position: relative; width: 100%; overflow: hidden; border: 1px solid #ddd; }
.fr { position: absolute; height: 17px; box-sizing: border-box; border: 1px solid #fff;
      font: 11px/15px ui-monospace, monospace; padding: 0 3px; overflow: hidden;
      white-space: nowrap; cursor: pointer; }
.fr.user, .key.user { background: #f4a259; } .fr.library, .key.library { background: #7fb3d5; }
.fr.stdlib, .key.stdlib { background: #b8d8a0; } .fr.native, .key.native { background: #bbb; }
.fr.root { background: #17324d; color: #fff; }
.fr.hit { background: #e63946; color: #fff; }
.key { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; }
.key.traced { background: #e07a1f; } .key.rss { background: #5b8def; }
svg .traced { fill: none; stroke: #e07a1f; stroke-width: 2; }
svg .rss { fill: none; stroke: #5b8def; stroke-width: 1.5; stroke-dasharray: 4 3; }
svg .census { fill: #fff; stroke: #7a3fb0; stroke-width: 2; }
svg .domain { fill: none; stroke-width: 1.2; }
svg .domain.python, .key.dpython { stroke: #e0b01f; background: #e0b01f; }
svg .domain.numpy, .key.dnumpy { stroke: #2a9d8f; background: #2a9d8f; }
svg .domain.native, .key.dnative { stroke: #888; background: #888; }
details details { margin-left: 1.4em; }
.key.census { background: #7a3fb0; border-radius: 50%; }
svg .peak { stroke: #e63946; stroke-width: 1; } svg .axis { stroke: #999; }
svg .label { font-size: 11px; fill: #333; }
.finding { border-left: 4px solid #f4a259; padding-left: 10px; margin: 12px 0; }
.help { color: #555; } #search { width: 260px; }
"""

_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("memslim-data").textContent);
  var box = document.getElementById("icicle");
  var search = document.getElementById("search");
  var matched = document.getElementById("matched");
  var ROW = 18;
  function node(name, file, line, kind, parent) {
    return {name: name, file: file, line: line, kind: kind, value: 0, children: {},
            parent: parent};
  }
  var root = node("all stacks live at the peak", "", 0, "root", null);
  data.stacks.forEach(function (s) {
    var at = root;
    root.value += s.bytes;
    for (var i = s.frames.length - 1; i >= 0; i--) {  // outermost first
      var f = s.frames[i], key = f[0] + "\\u0000" + f[1] + "\\u0000" + f[2];
      if (!at.children[key]) at.children[key] = node(f[0], f[1], f[2], f[3], at);
      at = at.children[key];
      at.value += s.bytes;
    }
  });
  function human(b) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
    return (i ? b.toFixed(1) : b) + " " + units[i];
  }
  function share(b) { return data.peak ? (100 * b / data.peak).toFixed(1) + "%" : "-"; }
  function label(n) { return n.kind === "root" ? n.name : n.name + "  " + n.file + ":" + n.line; }
  function shortFile(file) {  // the file's last two parts: the full path is in the title
    var parts = file.split("/");
    return parts.length > 2 ? parts.slice(-2).join("/") : file;
  }
  function children(n) {
    return Object.keys(n.children).map(function (k) { return n.children[k]; })
      .sort(function (a, b) { return b.value - a.value; });
  }
  var focus = root;
  function draw() {
    box.textContent = "";
    var width = box.clientWidth || 1000, query = search.value.toLowerCase();
    var hits = 0, depth = 0, chain = [];
    for (var up = focus.parent; up; up = up.parent) chain.unshift(up);
    function bar(n, x, w, level) {
      var el = document.createElement("div");
      el.className = "fr " + n.kind;
      if (query && label(n).toLowerCase().indexOf(query) >= 0) {
        el.className += " hit";
        hits++;
      }
      el.style.left = x + "px";
      el.style.width = w + "px";
      el.style.top = level * ROW + "px";
      el.textContent = n.kind === "root" ? n.name
                                         : n.name + "  " + shortFile(n.file) + ":" + n.line;
      el.title = label(n) + " \\u2014 " + human(n.value) + " (" + share(n.value) + " of the peak)";
      el.onclick = function () { focus = n; draw(); };
      box.appendChild(el);
      depth = Math.max(depth, level + 1);
    }
    chain.forEach(function (n, level) { bar(n, 0, width, level); });  // click: zoom out
    function place(n, x, w, level) {
      if (w < 1) return;  // narrower than a pixel: not drawn
      bar(n, x, w, level);
      var offset = x;
      children(n).forEach(function (c) {
        var cw = w * c.value / n.value;
        place(c, offset, cw, level + 1);
        offset += cw;
      });
    }
    place(focus, 0, width, chain.length);
    box.style.height = (depth * ROW + 2) + "px";
    matched.textContent = query ? hits + " frames match" : "";
  }
  search.oninput = draw;
  window.onresize = draw;
  if (data.stacks.length) draw(); else box.textContent = "No stack held bytes at the peak.";
})();
"""
