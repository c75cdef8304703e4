#!/usr/bin/env python3
"""compute-sanitizer memcheck, initcheck, synccheck and racecheck over the libsagegen driver.

    python3 runtime/test/run_sanitizer.py --lib generated/sm_90a_d64-128/lib/libsagegen.so --out sanitizer.json

Runs runtime/test/sanitizer_driver.py (10 small and odd shapes reaching every default variant) once
under each tool and reads the tool's own summary line (ERROR SUMMARY / RACECHECK SUMMARY). A tool is
clean when its summary says 0 errors (racecheck: 0 errors and 0 warnings), it exited 0 within its
time limit, and the driver reported every call OK with finite outputs. A run without a summary line
is not clean. Writes JSON (device, date, commit, command, per tool: clean, counts, exit code,
seconds, the log's tail); exit 1 unless every tool is clean.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.append(os.path.join(REPO, "runtime", "bench"))  # libraries.py: the manifest fingerprint a record carries
from libraries import manifest_fingerprint  # noqa: E402
DRIVER = os.path.join(HERE, "sanitizer_driver.py")
TOOLS = {
    "memcheck": ["--leak-check", "full"],
    "initcheck": [],
    "synccheck": [],
    "racecheck": [],
}
ERROR_EXIT = 86  # --error-exitcode: the tool's exit status when it found something


def first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        lines = [l for l in r.stdout.splitlines() if l.strip()]
        return lines if r.returncode == 0 and lines else ["unknown"]
    except Exception:
        return ["unknown"]


def commit():
    if os.environ.get("SAGEGEN_COMMIT"):
        return os.environ["SAGEGEN_COMMIT"]
    lines = first_line(["git", "-C", REPO, "rev-parse", "HEAD"])
    return lines[0]


def parse(log):
    """Counts from a compute-sanitizer log: {'errors': n, 'warnings': n or None} or None without a summary."""
    race = re.findall(r"RACECHECK SUMMARY: (\d+) hazards? displayed \((\d+) errors?, (\d+) warnings?\)", log)
    if race:
        _, errors, warnings = race[-1]
        return {"errors": int(errors), "warnings": int(warnings)}
    summary = re.findall(r"ERROR SUMMARY: (\d+) errors?", log)
    if summary:
        return {"errors": int(summary[-1]), "warnings": None}
    return None


def run_tool(sanitizer, tool, python, lib, timeout):
    cmd = [sanitizer, "--tool", tool, *TOOLS[tool], "--print-limit", "50", "--error-exitcode", str(ERROR_EXIT),
           python, DRIVER, "--lib", lib]
    t0 = time.time()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
        log, rc, timed_out = r.stdout + r.stderr, r.returncode, False
    except subprocess.TimeoutExpired as e:
        log = (e.stdout or b"").decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        rc, timed_out = None, True
    seconds = round(time.time() - t0, 1)
    counts = parse(log)
    driver = re.findall(r"driver: (\d+) ok, (\d+) failed(?:, (\d+) skipped)?", log)
    driver_ok, driver_failed = (int(driver[-1][0]), int(driver[-1][1])) if driver else (0, None)
    driver_skipped = int(driver[-1][2] or 0) if driver else 0
    reasons = []
    if timed_out:
        reasons.append(f"timed out after {timeout} s")
    if counts is None:
        reasons.append("no summary line in the tool's output")
    else:
        if counts["errors"]:
            reasons.append(f"{counts['errors']} errors")
        if counts["warnings"]:
            reasons.append(f"{counts['warnings']} warnings")
    if driver_failed is None:
        reasons.append("the driver did not finish")
    elif driver_failed:
        reasons.append(f"{driver_failed} driver calls failed or left NaN/Inf")
    elif driver_ok == 0:
        reasons.append("the driver ran no call (no shape has a built variant)")
    if rc not in (0, None):
        reasons.append(f"exit status {rc}")
    return {
        "clean": not reasons, "reasons": reasons, "errors": counts["errors"] if counts else None,
        "warnings": counts["warnings"] if counts else None, "exit_code": rc, "timed_out": timed_out, "seconds": seconds,
        "driver": {"ok": driver_ok, "failed": driver_failed, "skipped": driver_skipped}, "command": cmd,
        "log_tail": log.splitlines()[-60:],
    }


def main(argv):
    ap = argparse.ArgumentParser(description="compute-sanitizer over the libsagegen driver")
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    ap.add_argument("--timeout", type=int, default=90, help="seconds per tool (default 90: four tools stay within 6 minutes)")
    ap.add_argument("--python", default=sys.executable, help="python for the driver (needs no torch)")
    opts = ap.parse_args(argv)
    sanitizer = os.environ.get("COMPUTE_SANITIZER") or shutil.which("compute-sanitizer") or "/usr/local/cuda/bin/compute-sanitizer"
    if not os.path.exists(sanitizer):
        print(f"error: compute-sanitizer not found ({sanitizer}); set COMPUTE_SANITIZER", file=sys.stderr)
        return 1
    lib = os.path.abspath(opts.lib)
    tools = [t for t in opts.tools.split(",") if t]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        print(f"error: --tools {','.join(unknown)}: must be among {','.join(TOOLS)}", file=sys.stderr)
        return 1
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "commit": commit(),
        "command": [sys.executable] + sys.argv,
        "device": first_line(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"])[0],
        "driver_version": first_line(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])[0],
        "sanitizer": first_line([sanitizer, "--version"])[-1], "library": lib, "fingerprint": manifest_fingerprint(lib), "tools": {},
    }
    for tool in tools:
        res = run_tool(sanitizer, tool, opts.python, lib, opts.timeout)
        report["tools"][tool] = res
        counts = f"errors={res['errors']}" + (f" warnings={res['warnings']}" if res["warnings"] is not None else "")
        print(f"{tool:<10} {'CLEAN' if res['clean'] else 'NOT CLEAN':<9} {counts} driver={res['driver']['ok']} ok "
              f"({res['seconds']} s)" + ("" if res["clean"] else f": {'; '.join(res['reasons'])}"), flush=True)
    clean = all(r["clean"] for r in report["tools"].values())
    report["summary"] = {"all_clean": clean, "clean": [t for t, r in report["tools"].items() if r["clean"]],
                         "not_clean": [t for t, r in report["tools"].items() if not r["clean"]]}
    os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
    with open(opts.out, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print(f"sanitizer: {'all clean' if clean else 'NOT clean: ' + ', '.join(report['summary']['not_clean'])} -> {opts.out}")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
