#!/usr/bin/env python3
"""CPU tests of the benchmark's pure-Python parts: shapes.py (shape list, TOP/s) and report.py.

    python3 -m unittest runtime/bench/test_bench.py -v      (from the repository root)
    python3 runtime/bench/test_bench.py

Stdlib only; needs neither torch nor a GPU.
"""
import copy
import itertools
import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import libraries  # noqa: E402
import report  # noqa: E402
import shapes  # noqa: E402

SVG_NS = "{http://www.w3.org/2000/svg}"
DASH = "\u2014"

# ------------------------------------------------------------------------------------------------
# shapes.py


class ShapesTest(unittest.TestCase):
    def test_full_list_is_exactly_the_48_shapes(self):
        full = shapes.shapes()
        self.assertEqual(len(full), 48)
        keys = [(s["batch"], s["heads"], s["seq"], s["head_dim"], s["causal"], s["dtype"]) for s in full]
        self.assertEqual(len(set(keys)), len(keys), "duplicate shapes")
        expected = set(itertools.product(
            [4], [32], [1024, 2048, 4096, 8192, 16384, 32768], [64, 128], [False, True], ["fp16", "bf16"]))
        self.assertEqual(set(keys), expected)
        for s in full:
            self.assertEqual(set(s), {"batch", "heads", "seq", "head_dim", "causal", "dtype"})

    def test_seq_lens_are_powers_of_two_from_1k_to_32k(self):
        self.assertEqual(list(shapes.SEQ_LENS), [2 ** k for k in range(10, 16)])

    def test_order_is_stable(self):
        self.assertEqual(shapes.shapes(), shapes.shapes())

    def test_quick_is_a_nonempty_strict_subset(self):
        full = [tuple(sorted(s.items())) for s in shapes.shapes()]
        quick = [tuple(sorted(s.items())) for s in shapes.shapes(quick=True)]
        self.assertTrue(quick)
        self.assertEqual(len(set(quick)), len(quick))
        self.assertTrue(set(quick) < set(full))

    def test_filters(self):
        only = shapes.shapes(head_dims=(128,), dtypes=("bf16",))
        self.assertEqual(len(only), 12)
        self.assertTrue(all(s["head_dim"] == 128 and s["dtype"] == "bf16" for s in only))


class TopsTest(unittest.TestCase):
    # B=4, H=32, N=4096, D=128, non-causal, 1 ms:
    #   ops = 4·B·H·N²·D = 4·4·32·4096²·128 = 2^2·2^2·2^5·2^24·2^7 = 2^40 = 1 099 511 627 776
    #   TOP/s = 2^40 / 1e-3 s / 1e12 = 1099.511627776
    EXPECTED = 1099.511627776

    def test_hand_computed_example(self):
        self.assertEqual(shapes.attention_ops(4, 32, 4096, 128, False), 2 ** 40)
        self.assertAlmostEqual(shapes.tops(4, 32, 4096, 128, False, 1e-3), self.EXPECTED, places=6)

    def test_causal_halves_it(self):
        self.assertAlmostEqual(shapes.tops(4, 32, 4096, 128, True, 1e-3), self.EXPECTED / 2, places=6)

    def test_scales_inversely_with_time(self):
        self.assertAlmostEqual(shapes.tops(4, 32, 4096, 128, False, 2e-3), self.EXPECTED / 2, places=6)

    def test_no_time_gives_none(self):
        for s in (0, 0.0, -1e-3, None):
            self.assertIsNone(shapes.tops(4, 32, 4096, 128, False, s))


# ------------------------------------------------------------------------------------------------
# report.py on a synthetic raw file

LIB_A = "sm_90a_d64-128"
LIB_B = "sm_80_d64-128"
GROUPS = [(128, False, "fp16"), (64, True, "bf16")]
SEQS = [1024, 2048, 4096]
# Base medians (ms) at N=1024 per series; scaled by (N/1024)^2 (halved when causal) so that every
# series has distinct TOP/s everywhere. The hand-made row (D=128 non-causal fp16, N=4096) is set below.
BASE_MS = {
    ("sagegen", LIB_A, "kernel"): 0.10,
    ("sagegen", LIB_A, "whole"): 0.13,
    ("sagegen", LIB_A, "api"): 0.14,  # bench.py's third mode: sagegen.sageattn() as a program calls it
    ("sagegen", LIB_B, "kernel"): 0.17,
    ("sagegen", LIB_B, "whole"): 0.19,
    ("torch-flash", None, "whole"): 0.23,
    ("torch-cudnn", None, "whole"): 0.29,
}
HAND_ROW_MS = {  # D=128, non-causal, fp16, N=4096
    ("sagegen", LIB_A, "kernel"): 2.0,
    ("torch-flash", None, "whole"): 3.0,
    ("torch-cudnn", None, "whole"): 2.5,
}
ERROR_CELL = (("torch-cudnn", None, "whole"), (64, True, "bf16"), 2048)
ERROR_MSG = "cuDNN backend unavailable for bf16 <SDPBackend|cudnn> & \"quoted\""
SERIES = ["sagegen %s kernel" % LIB_A, "sagegen %s whole" % LIB_A, "sagegen %s api" % LIB_A,
          "sagegen %s kernel" % LIB_B, "sagegen %s whole" % LIB_B, "torch flash", "torch cudnn"]
SAGEGEN_SERIES = SERIES[:5]  # kernel, whole, api per library, in library order


def entry(kernel, library, mode, seq, head_dim, causal, dtype, median_ms, error=None):
    ok = error is None
    return {
        "kernel": kernel, "library": library, "mode": mode, "batch": 4, "heads": 32, "seq": seq,
        "head_dim": head_dim, "causal": causal, "dtype": dtype,
        "median_ms": median_ms if ok else None,
        "min_ms": median_ms * 0.98 if ok else None,
        "reps": 50 if ok else 0,
        "tops": shapes.tops(4, 32, seq, head_dim, causal, median_ms / 1e3) if ok else None,
        "error": error,
    }


def synthetic_raw():
    results = []
    for (d, c, dt), (key, base) in itertools.product(GROUPS, BASE_MS.items()):
        for n in SEQS:
            ms = base * (n / 1024) ** 2 * (0.5 if c else 1.0)
            if (d, c, dt) == (128, False, "fp16") and n == 4096 and key in HAND_ROW_MS:
                ms = HAND_ROW_MS[key]
            if (key, (d, c, dt), n) == ERROR_CELL:
                results.append(entry(*key, n, d, c, dt, None, error=ERROR_MSG))
            else:
                results.append(entry(*key, n, d, c, dt, ms))
    variant = {"name": "d128_fp16", "spec": {"head_dim": 128}}
    return {
        "device": "NVIDIA H100 80GB HBM3", "capability": "9.0", "driver": "580.159.04",
        "torch": "2.11.0+cu130", "cuda": "13.0", "date": "2026-11-22T21:00:00+00:00",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "command": ["python3", "runtime/bench/bench.py", "--lib", "a b.so"],
        # floats, as bench.py's nvidia-smi parsing gives them
        "clocks_before": {"sm_mhz": 1980.0, "mem_mhz": 2619.0, "temp_c": 40.0, "power_w": 70.1},
        "clocks_after": {"sm_mhz": 1755.0, "mem_mhz": 2619.0, "temp_c": 61.0, "power_w": 312.5},
        "timing": {"method": "cuda events around a loop", "warmup_ms": 25.0, "rep_ms": 100.0, "min_reps": 5},
        "libraries": {
            LIB_A: {"path": "generated/sm_90a_d64-128/lib/libsagegen.so", "variants": [variant]},
            LIB_B: {"path": "generated/sm_80_d64-128/lib/libsagegen.so", "variants": [variant]},
        },
        "results": results,
    }


def expected_tops(r):
    """TOP/s from first principles (independent of shapes.tops)."""
    ops = 4 * r["batch"] * r["heads"] * r["seq"] ** 2 * r["head_dim"] / (2 if r["causal"] else 1)
    return ops / (r["median_ms"] / 1e3) / 1e12


def md_tables(md):
    """{section title: (header cells, [row cells])} of the Markdown's "## " sections."""
    tables, title = {}, None
    for line in md.splitlines():
        if line.startswith("## "):
            title = line[3:]
            tables[title] = (None, [])
        elif title and line.startswith("|") and not line.startswith("|-") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            if tables[title][0] is None:
                tables[title] = (cells, [])
            else:
                tables[title][1].append(cells)
    return tables


class SeriesNameTest(unittest.TestCase):
    def test_names(self):
        self.assertEqual(report.series_name({"kernel": "sagegen", "library": LIB_A, "mode": "kernel"}),
                         "sagegen sm_90a_d64-128 kernel")
        self.assertEqual(report.series_name({"kernel": "sagegen", "library": LIB_A, "mode": "whole"}),
                         "sagegen sm_90a_d64-128 whole")
        self.assertEqual(report.series_name({"kernel": "torch-flash", "library": None, "mode": "whole"}),
                         "torch flash")
        self.assertEqual(report.series_name({"kernel": "torch-cudnn", "library": None, "mode": "whole"}),
                         "torch cudnn")


class MarkdownTest(unittest.TestCase):
    def setUp(self):
        self.raw = synthetic_raw()
        self.md = report.markdown(self.raw)
        self.tables = md_tables(self.md)

    def test_header_fields(self):
        for text in ("NVIDIA H100 80GB HBM3", "9.0", "580.159.04", "2.11.0+cu130", "13.0",
                     "2026-11-22T21:00:00+00:00", "0123456789abcdef0123456789abcdef01234567",
                     "python3 runtime/bench/bench.py --lib 'a b.so'", "1980", "1755", "2619", "70.1", "312.5",
                     "cuda events around a loop", LIB_A, LIB_B, "generated/sm_80_d64-128/lib/libsagegen.so"):
            self.assertIn(text, self.md)
        self.assertIn("Clocks before", self.md)
        self.assertIn("Clocks after", self.md)
        self.assertIn("1980 MHz SM", self.md)
        self.assertNotIn("1980.0", self.md)

    def test_unreadable_clocks(self):
        raw = synthetic_raw()
        raw["clocks_after"] = {"error": "nvidia-smi: not found"}
        md = report.markdown(raw)
        self.assertIn("| Clocks after | unavailable (nvidia-smi: not found) |", md)

    def test_one_table_per_group(self):
        self.assertEqual(list(self.tables), ["D=64 causal bf16 (B=4, H=32)", "D=128 non-causal fp16 (B=4, H=32)"])
        for header, rows in self.tables.values():
            self.assertEqual(header[0], "N")
            self.assertEqual([r[0] for r in rows], [str(n) for n in SEQS])
            self.assertEqual(header[1:1 + len(SERIES)], ["%s TOP/s" % s for s in SERIES])
            speedups = ["%s × %s" % (s, t) for s in SAGEGEN_SERIES for t in ("flash", "cuDNN")]
            self.assertEqual(header[1 + len(SERIES):], speedups)
            for r in rows:
                self.assertEqual(len(r), len(header))

    def test_hand_made_row(self):
        header, rows = self.tables["D=128 non-causal fp16 (B=4, H=32)"]
        row = dict(zip(header, next(r for r in rows if r[0] == "4096")))
        sage = "sagegen %s kernel" % LIB_A
        # 2^40 ops at 2.0 / 3.0 / 2.5 ms
        self.assertEqual(row["%s TOP/s" % sage], "549.8")
        self.assertEqual(row["torch flash TOP/s"], "366.5")
        self.assertEqual(row["torch cudnn TOP/s"], "439.8")
        self.assertEqual(row["%s × flash" % sage], "1.50")  # 3.0 ms / 2.0 ms
        self.assertEqual(row["%s × cuDNN" % sage], "1.25")  # 2.5 ms / 2.0 ms

    def test_every_number_matches_the_timings(self):
        by_cell = {(report.series_name(r), r["head_dim"], r["causal"], r["dtype"], r["seq"]): r
                   for r in self.raw["results"]}
        for (d, c, dt), title in ((128, False, "fp16"), "D=128 non-causal fp16 (B=4, H=32)"), \
                                 ((64, True, "bf16"), "D=64 causal bf16 (B=4, H=32)"):
            header, rows = self.tables[title]
            for row in rows:
                cells = dict(zip(header, row))
                n = int(row[0])
                for s in SERIES:
                    r = by_cell[(s, d, c, dt, n)]
                    want = DASH if r["error"] else "%.1f" % expected_tops(r)
                    self.assertEqual(cells["%s TOP/s" % s], want, (title, n, s))
                for s in SAGEGEN_SERIES:
                    for t, label in (("torch flash", "flash"), ("torch cudnn", "cuDNN")):
                        a, b = by_cell[(s, d, c, dt, n)], by_cell[(t, d, c, dt, n)]
                        want = DASH if b["error"] else "%.2f" % (b["median_ms"] / a["median_ms"])
                        self.assertEqual(cells["%s × %s" % (s, label)], want, (title, n, s, t))

    def test_error_entry_is_a_dash_and_listed(self):
        header, rows = self.tables["D=64 causal bf16 (B=4, H=32)"]
        row = dict(zip(header, next(r for r in rows if r[0] == "2048")))
        self.assertEqual(row["torch cudnn TOP/s"], DASH)
        self.assertEqual(row["sagegen %s kernel × cuDNN" % LIB_A], DASH)
        self.assertNotEqual(row["sagegen %s kernel × flash" % LIB_A], DASH)
        section = self.md.split("## D=64 causal bf16")[1].split("## ")[0]
        self.assertIn("Errors:", section)
        self.assertIn("torch cudnn, N=2048", section)
        self.assertIn("cuDNN backend unavailable for bf16", section)
        # the other table has no errors
        self.assertNotIn("Errors:", self.md.split("## D=128 non-causal fp16")[1])


class SvgTest(unittest.TestCase):
    def setUp(self):
        self.raw = synthetic_raw()
        self.text = report.svg(self.raw)
        self.root = ET.fromstring(self.text)

    def panels(self):
        return [g for g in self.root.iter(SVG_NS + "g") if g.get("class") == "panel"]

    def test_is_svg_with_one_panel_per_group(self):
        self.assertEqual(self.root.tag, SVG_NS + "svg")
        titles = [p.get("data-title") for p in self.panels()]
        self.assertEqual(titles, ["D=64 causal bf16", "D=128 non-causal fp16"])
        texts = ["".join(t.itertext()) for t in self.root.iter(SVG_NS + "text")]
        for t in titles + ["1K", "2K", "4K", "TOP/s"]:
            self.assertIn(t, texts)
        self.assertTrue(any(t.startswith("N (") for t in texts))

    def test_one_polyline_per_series_per_panel(self):
        for p in self.panels():
            groups = [g for g in p.iter(SVG_NS + "g") if g.get("class") == "series"]
            self.assertEqual([g.get("data-series") for g in groups], SERIES)
            for g in groups:
                self.assertEqual(len(g.findall(SVG_NS + "polyline")), 1)
            self.assertEqual(len(list(p.iter(SVG_NS + "polyline"))), len(SERIES))

    def test_series_without_data_in_a_panel_has_no_polyline(self):
        raw = synthetic_raw()
        raw["results"] = [r for r in raw["results"]
                          if not (r["kernel"] == "torch-cudnn" and r["dtype"] == "bf16" and not r["error"])]
        root = ET.fromstring(report.svg(raw))
        by_title = {p.get("data-title"): p for p in root.iter(SVG_NS + "g") if p.get("class") == "panel"}
        bf16 = [g.get("data-series") for g in by_title["D=64 causal bf16"].iter(SVG_NS + "g")
                if g.get("class") == "series"]
        self.assertNotIn("torch cudnn", bf16)
        self.assertEqual(len(list(by_title["D=64 causal bf16"].iter(SVG_NS + "polyline"))), len(SERIES) - 1)
        self.assertEqual(len(list(by_title["D=128 non-causal fp16"].iter(SVG_NS + "polyline"))), len(SERIES))

    def test_legend_lists_each_series_once_with_one_colour(self):
        legend = [g for g in self.root.iter(SVG_NS + "g") if g.get("class") == "legend"]
        self.assertEqual(len(legend), 1)
        entries = [g for g in legend[0] if g.get("class") == "legend-entry"]
        self.assertEqual([e.get("data-series") for e in entries], SERIES)
        self.assertEqual(["".join(e.find(SVG_NS + "text").itertext()) for e in entries], SERIES)
        colour = {e.get("data-series"): e.find(SVG_NS + "line").get("stroke") for e in entries}
        self.assertEqual(len(set(colour.values())), len(SERIES))
        for p in self.panels():
            for g in p.iter(SVG_NS + "g"):
                if g.get("class") == "series":
                    self.assertEqual(g.find(SVG_NS + "polyline").get("stroke"), colour[g.get("data-series")])

    def test_points_follow_the_numbers(self):
        want = {(report.series_name(r), r["head_dim"], r["causal"], r["dtype"], r["seq"]): expected_tops(r)
                for r in self.raw["results"] if not r["error"]}
        keys = {"D=128 non-causal fp16": (128, False, "fp16"), "D=64 causal bf16": (64, True, "bf16")}
        for p in self.panels():
            d, c, dt = keys[p.get("data-title")]
            pts = []
            for g in p.iter(SVG_NS + "g"):
                if g.get("class") != "series":
                    continue
                circles = g.findall(SVG_NS + "circle")
                poly = [tuple(map(float, xy.split(","))) for xy in g.find(SVG_NS + "polyline").get("points").split()]
                self.assertEqual(poly, [(float(ci.get("cx")), float(ci.get("cy"))) for ci in circles])
                for ci in circles:
                    n = int(ci.get("data-n"))
                    pts.append((want[(g.get("data-series"), d, c, dt, n)], n, float(ci.get("cx")), float(ci.get("cy"))))
            # the error entry is not drawn
            self.assertEqual(len(pts), len(SERIES) * len(SEQS) - (1 if dt == "bf16" else 0))
            for (ta, na, xa, ya), (tb, nb, xb, yb) in itertools.combinations(pts, 2):
                if ta > tb * (1 + 1e-3):
                    self.assertLess(ya, yb)  # SVG y grows downwards
                elif tb > ta * (1 + 1e-3):
                    self.assertLess(yb, ya)
                if na < nb:
                    self.assertLess(xa, xb)
                elif nb < na:
                    self.assertLess(xb, xa)
            # y axis starts at 0: the lowest point is above the bottom of the plot area
            plot = next(r for r in p.iter(SVG_NS + "rect"))
            bottom = float(plot.get("y")) + float(plot.get("height"))
            lowest = min(pts)
            self.assertLess(lowest[3], bottom)
            # proportionality: y distance from the axis is proportional to TOP/s
            ratio = {(bottom - y) / t for t, _, _, y in pts}
            self.assertLess(max(ratio) / min(ratio), 1 + 1e-2)

    def test_text_is_escaped(self):
        raw = synthetic_raw()
        raw["device"] = "GPU <&> \"x\" 'y'"
        raw["libraries"]["a<b>&c"] = raw["libraries"].pop(LIB_A)
        for r in raw["results"]:
            if r["library"] == LIB_A:
                r["library"] = "a<b>&c"
        text = report.svg(raw)
        root = ET.fromstring(text)
        texts = ["".join(t.itertext()) for t in root.iter(SVG_NS + "text")]
        self.assertTrue(any("GPU <&> \"x\" 'y'" in t for t in texts))
        self.assertIn("sagegen a<b>&c kernel", texts)
        md = report.markdown(raw)
        self.assertIn("sagegen a<b>&c kernel", md)


class ValidationTest(unittest.TestCase):
    def find(self, raw, kernel, seq, dtype="fp16"):
        return next(r for r in raw["results"] if r["kernel"] == kernel and r["seq"] == seq and r["dtype"] == dtype)

    def test_inconsistent_tops_raises_naming_the_entry(self):
        for fn in (report.markdown, report.svg):
            raw = synthetic_raw()
            self.find(raw, "torch-flash", 4096)["tops"] *= 1.002
            with self.assertRaises(ValueError) as cm:
                fn(raw)
            msg = str(cm.exception)
            for part in ("torch flash", "N=4096", "D=128", "non-causal", "fp16", "tops"):
                self.assertIn(part, msg)

    def test_small_rounding_is_accepted(self):
        raw = synthetic_raw()
        r = self.find(raw, "torch-flash", 4096)
        r["tops"] = round(r["tops"] * 1.0009, 1)
        report.markdown(raw)
        report.svg(raw)

    def test_other_inconsistencies_raise(self):
        cases = {
            "tops without a time": lambda r: r.update(median_ms=None, error="x"),
            "time without tops": lambda r: r.update(tops=None),
            "neither": lambda r: r.update(median_ms=None, tops=None),
            "zero time": lambda r: r.update(median_ms=0.0),
            "nan time": lambda r: r.update(median_ms=float("nan")),
            "min above median": lambda r: r.update(min_ms=r["median_ms"] * 1.5),
        }
        for what, change in cases.items():
            raw = synthetic_raw()
            change(self.find(raw, "sagegen", 2048))
            with self.assertRaises(ValueError, msg=what):
                report.markdown(raw)

    def test_timed_entry_with_an_error_shows_no_number(self):
        # bench.py keeps the timing of a kernel whose output had NaN/Inf, with an error beside it
        raw = synthetic_raw()
        r = next(r for r in raw["results"] if r["kernel"] == "sagegen" and r["library"] == LIB_B
                 and r["mode"] == "whole" and r["seq"] == 1024 and r["dtype"] == "fp16")
        r["error"] = "output has NaN/Inf"
        header, rows = md_tables(report.markdown(raw))["D=128 non-causal fp16 (B=4, H=32)"]
        row = dict(zip(header, rows[0]))
        s = "sagegen %s whole" % LIB_B
        self.assertEqual(row["%s TOP/s" % s], DASH)
        self.assertEqual(row["%s × flash" % s], DASH)
        self.assertIn("- %s, N=1024: `output has NaN/Inf (timed at 0.19 ms median; not reported)`" % s,
                      report.markdown(raw))
        root = ET.fromstring(report.svg(raw))
        drawn = [int(c.get("data-n")) for g in root.iter(SVG_NS + "g")
                 if g.get("class") == "series" and g.get("data-series") == s
                 for c in g.findall(SVG_NS + "circle")]
        self.assertEqual(sorted(drawn), sorted(SEQS + SEQS[1:]))  # N=1024 missing in the fp16 panel only
        # its timing is still checked
        r["tops"] *= 2
        with self.assertRaises(ValueError):
            report.markdown(raw)

    def test_duplicate_entry_raises(self):
        raw = synthetic_raw()
        raw["results"].append(copy.deepcopy(self.find(raw, "torch-cudnn", 1024)))
        with self.assertRaises(ValueError):
            report.svg(raw)


class LibraryLabelsTest(unittest.TestCase):
    """Two libraries of one A/B must never share a label: ab.py and bench.py key their samples by it."""

    def test_same_last_component_is_told_apart_by_its_parent(self):
        labels = [label for label, _ in libraries.library_infos([".carry/s/tuned", ".carry/ep/tuned/lib/libsagegen.so"])]
        self.assertEqual(labels, ["s/tuned", "ep/tuned"])

    def test_distinct_names_keep_their_short_label(self):
        got = libraries.library_infos(["generated/sm_90a", ".carry/kv/both"])
        self.assertEqual([label for label, _ in got], ["sm_90a", "both"])
        self.assertEqual(got[1][1]["path"], os.path.join(".carry/kv/both", "lib", "libsagegen.so"))

    def test_the_same_library_twice_is_refused(self):
        with self.assertRaises(SystemExit) as ctx:
            libraries.library_infos(["generated/sm_90a", "generated/sm_90a/lib/libsagegen.so"])
        self.assertIn("given twice", str(ctx.exception))

    def test_manifest_variants_are_read(self):
        with tempfile.TemporaryDirectory() as root:
            with open(os.path.join(root, "manifest.json"), "w") as f:
                json.dump({"variants": [{"name": "v1", "spec": {"headDim": 128}, "other": 1}]}, f)
            label, info = libraries.library_info(root)
            self.assertEqual(label, os.path.basename(root))
            self.assertEqual(info["variants"], [{"name": "v1", "spec": {"headDim": 128}}])
            self.assertIsNone(info["fingerprint"])  # a manifest written before fingerprints

    def test_manifest_fingerprint_is_carried(self):
        fingerprint = {"kernels": {"v1": "ab" * 32}, "flags": "12" * 32, "headers": "cd" * 32, "host": "ef" * 32}
        with tempfile.TemporaryDirectory() as root:
            with open(os.path.join(root, "manifest.json"), "w") as f:
                json.dump({"variants": [{"name": "v1", "spec": {}}], "fingerprint": fingerprint}, f)
            self.assertEqual(libraries.library_info(root)[1]["fingerprint"], fingerprint)
            # The checks name the .so; the manifest is two directories up, beside lib/.
            self.assertEqual(libraries.manifest_fingerprint(os.path.join(root, "lib", "libsagegen.so")), fingerprint)
        with tempfile.TemporaryDirectory() as root:
            self.assertIsNone(libraries.manifest_fingerprint(os.path.join(root, "lib", "libsagegen.so")))
            # An install prefix (sagegen build --install) keeps the manifest in share/sagegen/.
            os.makedirs(os.path.join(root, "share", "sagegen"))
            with open(os.path.join(root, "share", "sagegen", "manifest.json"), "w") as f:
                json.dump({"variants": [], "fingerprint": fingerprint}, f)
            self.assertEqual(libraries.manifest_fingerprint(os.path.join(root, "lib", "libsagegen.so")), fingerprint)


class WriteReportsTest(unittest.TestCase):
    def test_writes_three_files(self):
        raw = synthetic_raw()
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "sub", "dir")
            paths = report.write_reports(raw, out, "h100")
            self.assertEqual(list(paths), [os.path.join(out, "h100." + ext) for ext in ("json", "md", "svg")])
            for p in paths:
                self.assertTrue(os.path.isfile(p))
            j, md, chart = paths
            with open(j, encoding="utf-8") as f:
                self.assertEqual(json.load(f), raw)
            with open(md, encoding="utf-8") as f:
                self.assertEqual(f.read(), report.markdown(raw))
            with open(chart, encoding="utf-8") as f:
                self.assertEqual(f.read(), report.svg(raw))
                ET.parse(chart)
            with open(j, encoding="utf-8") as f:
                self.assertTrue(f.read().startswith('{\n "device"'))  # indent 1

    def test_invalid_data_writes_nothing(self):
        raw = synthetic_raw()
        raw["results"][0]["tops"] *= 2
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(ValueError):
                report.write_reports(raw, tmp, "bad")
            self.assertEqual(os.listdir(tmp), [])

    def test_cli(self):
        raw = synthetic_raw()
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "h100-run.json")
            with open(src, "w", encoding="utf-8") as f:
                json.dump(raw, f)
            out = os.path.join(tmp, "out")
            script = os.path.join(HERE, "report.py")
            p = subprocess.run([sys.executable, script, src, "--out", out], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(sorted(os.listdir(out)), ["h100-run.json", "h100-run.md", "h100-run.svg"])
            p = subprocess.run([sys.executable, script, src, "--out", out, "--stem", "x"], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(os.path.isfile(os.path.join(out, "x.svg")))
            raw["results"][0]["tops"] *= 2
            with open(src, "w", encoding="utf-8") as f:
                json.dump(raw, f)
            p = subprocess.run([sys.executable, script, src, "--out", out, "--stem", "bad"], capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("disagrees", p.stderr)
            self.assertFalse(os.path.exists(os.path.join(out, "bad.md")))


if __name__ == "__main__":
    unittest.main()
