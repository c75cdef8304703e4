#!/usr/bin/env python3
"""Report writer for the attention benchmark: raw JSON (from bench.py) -> Markdown table + SVG chart.

    python3 runtime/bench/report.py RAW.json --out DIR [--stem NAME]

Pure Python (stdlib only, no torch): unit-tested on CPU by test_bench.py.

Every TOP/s figure and every speed-up printed here is recomputed from the entry's `median_ms`
through shapes.tops(); a stored `tops` that disagrees with the recomputation by more than 0.1%
raises ValueError, so a report can never show numbers inconsistent with its timings.
"""
import argparse
import json
import math
import os
import shlex
import sys
from xml.sax.saxutils import escape as _xml_escape

try:  # imported as part of a package (runtime.bench.report)
    from . import shapes
except ImportError:  # run as a script or imported with runtime/bench on sys.path
    import shapes

TOPS_RTOL = 1e-3
MISSING = "\u2014"  # em dash: no number (not run, or failed)

# Torch series: kernel field -> (series name, column label of the speed-up against it).
TORCH_SERIES = {
    "torch-flash": ("torch flash", "flash"),
    "torch-cudnn": ("torch cudnn", "cuDNN"),
}

# Okabe-Ito palette (colour-blind safe), then a few extra distinct colours.
PALETTE = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
    "#7F3C8D", "#11A579", "#3969AC", "#F2B701", "#E73F74", "#80BA5A",
)


# ------------------------------------------------------------------------------------------------
# Data model


def series_name(result):
    """The series a result belongs to: "sagegen <library> <mode>", "torch flash", "torch cudnn"."""
    kernel = result.get("kernel")
    if kernel == "sagegen":
        return "sagegen %s %s" % (result.get("library"), result.get("mode"))
    if kernel in TORCH_SERIES:
        return TORCH_SERIES[kernel][0]
    name = str(kernel).replace("-", " ")
    return name if result.get("mode") in (None, "whole") else "%s %s" % (name, result.get("mode"))


def _describe(result):
    return "%s B=%s H=%s N=%s D=%s %s %s" % (
        series_name(result), result.get("batch"), result.get("heads"), result.get("seq"),
        result.get("head_dim"), "causal" if result.get("causal") else "non-causal", result.get("dtype"))


def _checked_tops(result):
    """TOP/s of a result recomputed from median_ms, or None when it has no timing (error entry).

    An entry may carry both a timing and an error (bench.py times a kernel, then finds NaN in its
    output): the timing is still checked, but analyse() shows such an entry as failed, not as a number.
    Raises ValueError for anything inconsistent: a stored `tops` off by more than 0.1%, tops without
    a timing, neither a timing nor an error, a non-finite or non-positive time, min > median.
    """
    what = _describe(result)
    median = result.get("median_ms")
    error = result.get("error")
    stored = result.get("tops")
    if median is None:
        if stored is not None:
            raise ValueError("%s: tops=%r without a median_ms" % (what, stored))
        if not error:
            raise ValueError("%s: neither median_ms nor error" % what)
        return None
    if isinstance(median, bool) or not isinstance(median, (int, float)) or not math.isfinite(median) or median <= 0:
        raise ValueError("%s: median_ms=%r is not a positive finite number" % (what, median))
    min_ms = result.get("min_ms")
    if min_ms is not None and min_ms > median * (1 + 1e-9):
        raise ValueError("%s: min_ms=%r exceeds median_ms=%r" % (what, min_ms, median))
    tops = shapes.tops(result["batch"], result["heads"], result["seq"], result["head_dim"],
                       bool(result["causal"]), median / 1e3)
    if stored is None:
        raise ValueError("%s: median_ms=%r but tops is null (recomputed %.4f)" % (what, median, tops))
    if not isinstance(stored, (int, float)) or not math.isfinite(stored) \
            or abs(stored - tops) > TOPS_RTOL * tops:
        raise ValueError("%s: stored tops=%r disagrees with %.4f recomputed from median_ms=%r"
                         % (what, stored, tops, median))
    return tops


def _dtype_rank(dtype):
    return shapes.DTYPES.index(dtype) if dtype in shapes.DTYPES else len(shapes.DTYPES)


def _series_order(raw, results):
    """All series names: sagegen ones first (library order of raw["libraries"]; kernel, whole, api),
    then other kernels, then torch flash, torch cudnn."""
    libs = list((raw.get("libraries") or {}).keys())
    modes = {"kernel": 0, "whole": 1, "api": 2}

    def key(r):
        k = r.get("kernel")
        if k == "sagegen":
            lib = r.get("library")
            li = libs.index(lib) if lib in libs else len(libs)
            return (0, li, str(lib), modes.get(r.get("mode"), 2), str(r.get("mode")))
        if k in TORCH_SERIES:
            return (2, list(TORCH_SERIES).index(k), "", 0, "")
        return (1, 0, str(k), modes.get(r.get("mode"), 2), str(r.get("mode")))

    seen = {}
    for r in sorted(results, key=key):
        seen.setdefault(series_name(r), None)
    return list(seen)


class _Group:
    """One (head_dim, causal, dtype[, batch, heads]) table / panel."""

    def __init__(self, key):
        self.batch, self.heads, self.head_dim, self.causal, self.dtype = key
        self.cells = {}  # (series, seq) -> result
        self.tops = {}  # (series, seq) -> recomputed TOP/s or None

    @property
    def seqs(self):
        return sorted({n for _, n in self.cells})

    def title(self, with_bh=False):
        t = "D=%s %s %s" % (self.head_dim, "causal" if self.causal else "non-causal", self.dtype)
        return t + (" (B=%s, H=%s)" % (self.batch, self.heads) if with_bh else "")

    def series(self, order):
        present = {s for s, _ in self.cells}
        return [s for s in order if s in present]

    def errors(self, order):
        out = []
        for s in order:
            for n in self.seqs:
                r = self.cells.get((s, n))
                if r is not None and self.tops[(s, n)] is None:
                    msg = str(r.get("error"))
                    if r.get("median_ms") is not None:
                        msg += " (timed at %.4g ms median; not reported)" % r["median_ms"]
                    out.append((s, n, msg))
        return out


def analyse(raw):
    """Validate every result and group them. Returns (series order, groups in display order)."""
    results = raw.get("results")
    if not isinstance(results, list):
        raise ValueError("raw data has no results list")
    groups = {}
    for r in results:
        tops = _checked_tops(r)
        if r.get("error"):
            tops = None  # a failed entry never shows a number, even when it was timed
        key = (r["batch"], r["heads"], r["head_dim"], bool(r["causal"]), r["dtype"])
        g = groups.setdefault(key, _Group(key))
        cell = (series_name(r), r["seq"])
        if cell in g.cells:
            raise ValueError("duplicate result: %s" % _describe(r))
        g.cells[cell] = r
        g.tops[cell] = tops
    order = _series_order(raw, results)
    ordered = sorted(groups.values(), key=lambda g: (g.batch, g.heads, g.head_dim, g.causal,
                                                     _dtype_rank(g.dtype), str(g.dtype)))
    return order, ordered


def _speedup_columns(order):
    """[(sagegen series, torch series, label)] for each sagegen series x each torch series present."""
    torch_present = [(name, label) for name, label in TORCH_SERIES.values() if name in order]
    return [(s, t, label) for s in order if s.startswith("sagegen ") for t, label in torch_present]


def n_label(n):
    return "%dK" % (n // 1024) if n % 1024 == 0 else str(n)


# ------------------------------------------------------------------------------------------------
# Markdown


def _md_cell(text):
    """Text safe inside a GFM table cell (also inside a code span there): no pipes, one line."""
    return str(text).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _md_code(text):
    text = str(text).replace("\n", " ")
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return "%s%s%s%s%s" % (fence, pad, text, pad, fence)


def _fmt(v):
    """A measured number as read: 1980.0 -> 1980, 70.1 -> 70.1."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _clocks(c):
    if not c:
        return MISSING
    if c.get("error") is not None and not any(k in c for k in ("sm_mhz", "mem_mhz", "temp_c", "power_w")):
        return "unavailable (%s)" % _md_cell(c["error"])
    parts = []
    for key, unit in (("sm_mhz", "MHz SM"), ("mem_mhz", "MHz mem"), ("temp_c", "°C"), ("power_w", "W")):
        v = c.get(key)
        parts.append("%s %s" % (MISSING if v is None else _md_cell(_fmt(v)), unit))
    return ", ".join(parts)


def markdown(raw):
    """The Markdown report: run metadata, then one TOP/s table per (head_dim, causal, dtype)."""
    order, groups = analyse(raw)
    speedups = _speedup_columns(order)

    def field(k):
        v = raw.get(k)
        return MISSING if v in (None, "") else _md_cell(v)

    command = raw.get("command")
    if isinstance(command, (list, tuple)):
        command = shlex.join(str(c) for c in command)
    timing = raw.get("timing") or {}
    timing_txt = _md_cell(timing.get("method", MISSING))
    extras = ["%s %s" % (k, _fmt(timing[k])) for k in ("warmup_ms", "rep_ms", "min_reps") if k in timing]
    if extras:
        timing_txt += " (" + ", ".join(extras) + ")"

    out = ["# Attention benchmark: %s" % field("device"), ""]
    out += [
        "| | |", "|---|---|",
        "| Device | %s |" % field("device"),
        "| Capability | %s |" % field("capability"),
        "| Driver | %s |" % field("driver"),
        "| Torch | %s |" % field("torch"),
        "| CUDA | %s |" % field("cuda"),
        "| Date | %s |" % field("date"),
        "| Commit | %s |" % (_md_code(raw["commit"]) if raw.get("commit") else MISSING),
        "| Command | %s |" % (_md_cell(_md_code(command)) if command else MISSING),
        "| Clocks before | %s |" % _clocks(raw.get("clocks_before")),
        "| Clocks after | %s |" % _clocks(raw.get("clocks_after")),
        "| Timing | %s |" % timing_txt,
        "",
    ]
    libs = raw.get("libraries") or {}
    if libs:
        out.append("Libraries:")
        out.append("")
        for label, lib in libs.items():
            variants = [v.get("name", "?") for v in (lib or {}).get("variants", [])]
            out.append("- %s: %s (%d variant%s%s)" % (
                _md_code(label), _md_code((lib or {}).get("path", "?")), len(variants),
                "" if len(variants) == 1 else "s", (": " + ", ".join(map(str, variants))) if variants else ""))
        out.append("")
    out += [
        "TOP/s = 4·B·H·N²·D / median time (half of it when causal), recomputed from each entry's "
        "`median_ms`. Speed-up × X = X's median time / the sagegen series' median time on the same row "
        "(> 1: sagegen is faster). %s: not run or failed (errors listed under each table)." % MISSING,
        "",
    ]

    for g in groups:
        series = g.series(order)
        sp = [(s, t, label) for s, t, label in speedups if s in series]
        out.append("## %s" % g.title(with_bh=True))
        out.append("")
        header = ["N"] + ["%s TOP/s" % _md_cell(s) for s in series] + \
                 ["%s × %s" % (_md_cell(s), label) for s, _, label in sp]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join(["---:"] * len(header)) + "|")
        for n in g.seqs:
            row = [str(n)]
            for s in series:
                v = g.tops.get((s, n))
                row.append(MISSING if v is None else "%.1f" % v)
            for s, t, _ in sp:
                a, b = g.tops.get((s, n)), g.tops.get((t, n))
                row.append(MISSING if a is None or b is None else "%.2f" % (a / b))
            out.append("| " + " | ".join(row) + " |")
        out.append("")
        errs = g.errors(order)
        if errs:
            out.append("Errors:")
            out.append("")
            for s, n, msg in errs:
                out.append("- %s, N=%s: %s" % (_md_cell(s), n, _md_code(msg)))
            out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------
# SVG

PANEL_W, PANEL_H = 360, 260
PLOT_L, PLOT_R, PLOT_T, PLOT_B = 56, 14, 30, 48  # margins inside a panel
FONT = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""


def _esc(text):
    return _xml_escape(str(text))


def _attr(text):
    return _xml_escape(str(text), {'"': "&quot;", "'": "&apos;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _num(x):
    return ("%.2f" % x).rstrip("0").rstrip(".")


def _nice_ceiling(v):
    """(top, step): a round axis maximum a little above v, and a tick step giving at most 6 intervals."""
    if v <= 0:
        return 1.0, 0.2
    mag = 10 ** math.floor(math.log10(v))
    target = v * 1.03  # a little headroom above the highest point
    for m in (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10):
        step = m * mag
        k = math.ceil(target / step - 1e-9)
        if k <= 6:
            return k * step, step
    return math.ceil(target / (10 * mag)) * 10 * mag, 10 * mag


def _text_width(s, size=12):
    return 0.6 * size * len(s)


def svg(raw):
    """An SVG chart: one panel per (head_dim, causal, dtype), TOP/s against N, one line per series."""
    order, groups = analyse(raw)
    with_bh = len({(g.batch, g.heads) for g in groups}) > 1
    colours = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(order)}
    dashed = {s for s in order if s.startswith("torch ")}

    ncols = max(1, min(4, len(groups)))
    nrows = max(1, math.ceil(len(groups) / ncols))
    width = ncols * PANEL_W

    # Legend: entries laid out left to right, wrapped to the chart width.
    title = "Attention forward throughput: %s" % (raw.get("device") or "unknown device")
    sub = "TOP/s from median times; %s; %s" % (raw.get("date") or "", (raw.get("commit") or "")[:12])
    legend_top = 62
    x, y, legend = 16, legend_top, []
    for s in order:
        w = 34 + _text_width(s) + 18
        if x + w > width - 8 and x > 16:
            x, y = 16, y + 20
        legend.append((s, x, y))
        x += w
    top = y + 22
    height = top + nrows * PANEL_H + 6

    o = ['<?xml version="1.0" encoding="UTF-8"?>',
         '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" %s font-size="12">'
         % (width, height, width, height, FONT),
         '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>' % (width, height),
         '<text x="16" y="22" font-size="16" font-weight="bold">%s</text>' % _esc(title),
         '<text x="16" y="40" font-size="11" fill="#555555">%s</text>' % _esc(sub),
         '<g class="legend">']
    for s, lx, ly in legend:
        c = colours[s]
        dash = ' stroke-dasharray="6 3"' if s in dashed else ""
        o.append('<g class="legend-entry" data-series="%s">' % _attr(s))
        o.append('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"%s/>'
                 % (lx, ly - 4, lx + 26, ly - 4, c, dash))
        o.append('<circle cx="%s" cy="%s" r="3" fill="%s"/>' % (lx + 13, ly - 4, c))
        o.append('<text x="%s" y="%s">%s</text>' % (lx + 32, ly, _esc(s)))
        o.append('</g>')
    o.append('</g>')

    pw, ph = PANEL_W - PLOT_L - PLOT_R, PANEL_H - PLOT_T - PLOT_B
    # One y scale for every panel (small multiples compare at a glance); causal TOP/s count only the
    # unmasked half of the work, so they are on the same footing.
    every = [v for g in groups for v in g.tops.values() if v is not None]
    ymax, ystep = _nice_ceiling(max(every) if every else 0.0)
    for i, g in enumerate(groups):
        ox, oy = (i % ncols) * PANEL_W, top + (i // ncols) * PANEL_H
        seqs = g.seqs
        lo, hi = math.log2(seqs[0]), math.log2(seqs[-1])
        span = hi - lo

        def px(n):
            return ox + PLOT_L + (pw / 2 if span == 0 else (math.log2(n) - lo) / span * pw)

        def py(v):
            return oy + PLOT_T + ph - v / ymax * ph

        o.append('<g class="panel" data-title="%s">' % _attr(g.title(with_bh)))
        o.append('<text x="%s" y="%s" font-size="13" font-weight="bold" text-anchor="middle">%s</text>'
                 % (_num(ox + PLOT_L + pw / 2), oy + 18, _esc(g.title(with_bh))))
        o.append('<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#999999"/>'
                 % (ox + PLOT_L, oy + PLOT_T, pw, ph))
        # y grid and ticks
        k = 0
        while k * ystep <= ymax + 1e-9 * ymax:
            v = k * ystep
            yy = _num(py(v))
            o.append('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e5e5e5"/>' % (ox + PLOT_L, yy, ox + PLOT_L + pw, yy))
            o.append('<text x="%s" y="%s" font-size="10" text-anchor="end" dominant-baseline="middle">%s</text>'
                     % (ox + PLOT_L - 4, yy, _esc(_num(v))))
            k += 1
        # x ticks
        for n in seqs:
            xx = _num(px(n))
            o.append('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e5e5e5"/>' % (xx, oy + PLOT_T, xx, oy + PLOT_T + ph))
            o.append('<text x="%s" y="%s" font-size="10" text-anchor="middle">%s</text>'
                     % (xx, oy + PLOT_T + ph + 14, _esc(n_label(n))))
        o.append('<text x="%s" y="%s" font-size="11" text-anchor="middle">N (sequence length, log2 scale)</text>'
                 % (_num(ox + PLOT_L + pw / 2), oy + PLOT_T + ph + 30))
        ylx, yly = ox + 14, _num(oy + PLOT_T + ph / 2)
        o.append('<text x="%s" y="%s" font-size="11" text-anchor="middle" transform="rotate(-90 %s %s)">TOP/s</text>'
                 % (ylx, yly, ylx, yly))
        # series
        failed = []
        for s in g.series(order):
            pts = [(n, g.tops[(s, n)]) for n in seqs if (s, n) in g.tops and g.tops[(s, n)] is not None]
            nerr = sum(1 for n in seqs if (s, n) in g.tops and g.tops[(s, n)] is None)
            if nerr:
                failed.append("%s (%d)" % (s, nerr))
            if not pts:
                continue
            c = colours[s]
            dash = ' stroke-dasharray="6 3"' if s in dashed else ""
            o.append('<g class="series" data-series="%s">' % _attr(s))
            o.append('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>'
                     % (c, dash, " ".join("%s,%s" % (_num(px(n)), _num(py(v))) for n, v in pts)))
            for n, v in pts:
                o.append('<circle cx="%s" cy="%s" r="3" fill="%s" data-n="%d" data-tops="%.1f"><title>%s</title></circle>'
                         % (_num(px(n)), _num(py(v)), c, n, v, _esc("%s, N=%s: %.1f TOP/s" % (s, n, v))))
            o.append('</g>')
        if failed:
            o.append('<text x="%s" y="%s" font-size="9" fill="#b00000">%s</text>'
                     % (ox + PLOT_L, oy + PANEL_H - 4, _esc("no data: " + ", ".join(failed))))
        o.append('</g>')
    o.append('</svg>')
    return "\n".join(o) + "\n"


# ------------------------------------------------------------------------------------------------
# Files and CLI


def write_reports(raw, out_dir, stem):
    """Write <stem>.json (raw data, indent 1), <stem>.md, <stem>.svg into out_dir.

    Both reports are rendered (and so validated) before anything is written.
    Returns the three paths, in that order.
    """
    md, chart = markdown(raw), svg(raw)
    os.makedirs(out_dir, exist_ok=True)
    paths = {ext: os.path.join(out_dir, "%s.%s" % (stem, ext)) for ext in ("json", "md", "svg")}
    with open(paths["json"], "w", encoding="utf-8") as f:
        json.dump(raw, f, indent=1)
        f.write("\n")
    with open(paths["md"], "w", encoding="utf-8") as f:
        f.write(md)
    with open(paths["svg"], "w", encoding="utf-8") as f:
        f.write(chart)
    return [paths["json"], paths["md"], paths["svg"]]


def main(argv=None):
    ap = argparse.ArgumentParser(description="Markdown + SVG report of a raw benchmark JSON file.")
    ap.add_argument("raw", help="raw JSON written by bench.py")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--stem", help="output file name stem (default: the raw file's stem)")
    args = ap.parse_args(argv)
    with open(args.raw, encoding="utf-8") as f:
        raw = json.load(f)
    stem = args.stem or os.path.splitext(os.path.basename(args.raw))[0]
    try:
        paths = write_reports(raw, args.out, stem)
    except ValueError as e:
        print("report.py: %s" % e, file=sys.stderr)
        return 1
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
