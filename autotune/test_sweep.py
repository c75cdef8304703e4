"""CPU tests of the sweep loop with a fake runner: gate before timing, streaming, resume."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sweep import previous_records, run_sweep  # noqa: E402

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


if __name__ == "__main__":
    unittest.main()
