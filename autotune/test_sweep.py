"""CPU tests of the sweep loop with a fake runner: gate before timing, streaming, resume."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sweep import previous_records, refine_plan, refine_sweep, run_sweep  # noqa: E402

CANDIDATES = [("a", {"headDim": 128}), ("bad", {"headDim": 128}), ("c", {"headDim": 128})]
SEQS = [1024, 4096]


class Killed(Exception):
    pass


class FakeRunner:
    """Gate fails for 'bad'; timing reports a fixed speed; kill_after raises after that many calls."""

    def __init__(self, kill_after=None):
        self.calls = []
        self.kill_after = kill_after

    def _tick(self):
        if self.kill_after is not None and len(self.calls) >= self.kill_after:
            raise Killed()

    def gate(self, name, spec):
        self._tick()
        self.calls.append(("gate", name))
        return name != "bad", {"cos": 0.9993 if name != "bad" else 0.99}

    def timing(self, name, spec, seq):
        self._tick()
        self.calls.append(("timing", name, seq))
        return {"kernel_tops": {"a": 300.0, "c": 400.0}[name] + seq / 1024}


def lines(path):
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


class SweepTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.dir.name, "results.jsonl")

    def tearDown(self):
        self.dir.cleanup()

    def run_fake(self, runner):
        return run_sweep(CANDIDATES, SEQS, self.out, runner.gate, runner.timing, header={"device": "fake"}, log=lambda _: None)

    def test_gate_first_and_rejected_never_timed(self):
        runner = FakeRunner()
        self.run_fake(runner)
        self.assertEqual(runner.calls[0], ("gate", "a"))
        self.assertNotIn("bad", [c[1] for c in runner.calls if c[0] == "timing"])
        records = lines(self.out)
        # 3 gates + 2 passing candidates × 2 buckets
        self.assertEqual(len(records), 3 + 2 * len(SEQS))
        self.assertTrue(all(r["device"] == "fake" for r in records))

    def test_killed_run_resumes_without_repeating_or_losing_work(self):
        first = FakeRunner(kill_after=4)
        with self.assertRaises(Killed):
            self.run_fake(first)
        written = lines(self.out)
        self.assertEqual(len(written), 4)  # every finished measurement was on disk before the kill
        # a kill in the middle of a write leaves a cut line: it must be ignored and measured again
        with open(self.out, "a") as f:
            f.write('{"name": "c", "seq": 40')
        second = FakeRunner()
        done = self.run_fake(second)
        repeated = set(first.calls) & set(second.calls)
        self.assertEqual(repeated, set(), "nothing measured before the kill is measured again")
        self.assertEqual(len(done), 3 + 2 * len(SEQS))
        self.assertEqual(len(previous_records(self.out)), 3 + 2 * len(SEQS))

    def test_a_finished_run_measures_nothing_more(self):
        self.run_fake(FakeRunner())
        again = FakeRunner()
        self.run_fake(again)
        self.assertEqual(again.calls, [])


SPEC = {"headDim": 128, "dtype": "fp16", "causal": False}


class RefineTest(unittest.TestCase):
    """refine_sweep: the close candidates of each bucket re-timed in interleaved rounds, once."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.dir.name, "results.jsonl")
        # whole TOP/s of the sweep: at 1024 b is 2% behind a and c 20%; at 4096 c is 1% behind a
        sweep = {("a", 1024): 100.0, ("b", 1024): 98.0, ("c", 1024): 80.0, ("a", 4096): 200.0, ("b", 4096): 100.0, ("c", 4096): 198.0}
        with open(self.out, "w") as f:
            for name in "abc":
                f.write(json.dumps({"name": name, "seq": None, "kind": "gate", "passed": True}) + "\n")
            for (name, seq), whole in sweep.items():
                f.write(json.dumps({"name": name, "seq": seq, "kind": "timing", "kernel_ms": 1.0, "whole_ms": 2.0, "kernel_tops": 2 * whole, "whole_tops": whole}) + "\n")
        self.candidates = [(n, SPEC) for n in "abc"]
        self.calls = []

    def tearDown(self):
        self.dir.cleanup()

    def timing(self, name, spec, seq):
        # the rounds say b is faster than a at 1024 (whole 1.9 ms against 2.0); round r drifts by r%
        self.calls.append((name, seq))
        r = sum(1 for c in self.calls if c == (name, seq)) - 1
        whole = (1.9 if name == "b" else 2.0) * (1 + 0.01 * r)
        ops_per_ms = 200.0 * 2.0  # whole_tops × whole_ms of the sweep's a at 1024
        return {"kernel_ms": whole / 2, "whole_ms": whole, "kernel_tops": ops_per_ms / (whole / 2), "whole_tops": ops_per_ms / whole}

    def test_plan_takes_the_close_ones_fastest_first(self):
        plan = refine_plan(self.candidates, [1024, 4096], self.out)
        self.assertEqual([(g, s, [n for n, _ in c], d) for g, s, c, d in plan],
                         [("D=128 fp16 full", 1024, ["a", "b"], False), ("D=128 fp16 full", 4096, ["a", "c"], False)])
        self.assertEqual([[n for n, _ in c] for _, _, c, _ in refine_plan(self.candidates, [1024, 4096], self.out, margin=0.25)], [["a", "b", "c"], ["a", "c"]])
        self.assertEqual([[n for n, _ in c] for _, _, c, _ in refine_plan(self.candidates, [1024, 4096], self.out, margin=0.25, max_candidates=2)], [["a", "b"], ["a", "c"]])
        self.assertEqual([s for _, s, _, _ in refine_plan(self.candidates, [1024, 4096], self.out, margin=0.01)], [4096])

    def test_interleaved_rounds_medians_and_resume(self):
        refine_sweep(self.candidates, [1024, 4096], self.out, self.timing, rounds=3, header={"device": "fake"}, log=lambda _: None)
        # round r starts one further on: a b, b a, a b at 1024
        self.assertEqual([n for n, s in self.calls if s == 1024], ["a", "b", "b", "a", "a", "b"])
        refined = [r for r in lines(self.out) if r.get("refined")]
        self.assertEqual(sorted((r["name"], r["seq"]) for r in refined), [("a", 1024), ("a", 4096), ("b", 1024), ("c", 4096)])
        b = next(r for r in refined if (r["name"], r["seq"]) == ("b", 1024))
        self.assertAlmostEqual(b["whole_ms"], 1.9 * 1.01)  # the median of 1.9, 1.919, 1.938
        self.assertAlmostEqual(b["whole_tops"], 400.0 / (1.9 * 1.01))
        self.assertEqual(b["device"], "fake")
        self.assertEqual(b["refined"]["rounds"], 3)
        self.assertEqual(b["refined"]["candidates"], 2)
        self.assertEqual(len(b["refined"]["whole_tops_rounds"]), 3)
        # the sweep's records are untouched, and a rerun re-times nothing
        self.assertEqual(len(previous_records(self.out)), 9)
        before, n = open(self.out).read(), len(self.calls)
        plan = refine_sweep(self.candidates, [1024, 4096], self.out, self.timing, rounds=3, log=lambda _: None)
        self.assertTrue(all(done for _, _, _, done in plan))
        self.assertEqual((open(self.out).read(), len(self.calls)), (before, n))


if __name__ == "__main__":
    unittest.main()
