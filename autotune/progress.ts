/**
 * What `sagegen autotune --measure` shows while the runners measure: candidates done of all, the
 * best kernel TOP/s so far with its candidate, and the time left. On a terminal a progress bar
 * (cli-progress) with log lines above it; otherwise one plain line per finished candidate.
 *
 * The time left is extrapolated from candidates measured in this run only: candidates found in the
 * results file of an interrupted run finish instantly and would make it look far too short.
 */
import { MultiBar, type SingleBar } from 'cli-progress';
import type { MeasureRecord } from './select.js';

export interface ProgressState {
  done: number;
  total: number;
  best: { name: string; kernelTops: number } | null;
  /** Seconds left, or null before the first candidate measured in this run. */
  etaSeconds: number | null;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export const formatBest = (best: ProgressState['best']) => (best ? `${best.kernelTops.toFixed(1)} TOP/s (${best.name})` : '-');

/** The counts behind the display, apart from how it is drawn (tested on its own). */
export class ProgressCounter {
  private totals = new Map<string, number>();
  private done = 0;
  private measured = 0;
  private best: ProgressState['best'] = null;
  private readonly started: number;

  constructor(private readonly now: () => number = Date.now) {
    this.started = now();
  }

  /** A worker announced how many candidates it will go through. */
  setWorkerTotal(worker: string, candidates: number): void {
    this.totals.set(worker, candidates);
  }

  record(r: MeasureRecord): void {
    if (r.kind === 'timing' && (!this.best || r.kernel_tops > this.best.kernelTops)) this.best = { name: r.name, kernelTops: r.kernel_tops };
  }

  /** A candidate is finished; `resumed`: everything of it was in the results file already. */
  candidateDone(resumed: boolean): void {
    this.done += 1;
    if (!resumed) this.measured += 1;
  }

  state(): ProgressState {
    const total = [...this.totals.values()].reduce((a, b) => a + b, 0);
    const perCandidate = this.measured ? (this.now() - this.started) / 1000 / this.measured : null;
    return { done: this.done, total, best: this.best, etaSeconds: perCandidate === null ? null : perCandidate * Math.max(0, total - this.done) };
  }
}

export interface MeasureProgress {
  readonly counter: ProgressCounter;
  /** Redraws after the counter changed; `finished` names the candidate just finished, if any. */
  update(finished?: { name: string; resumed: boolean }): void;
  /** A line that must not be lost under the bar (a worker's error output, a rejection). */
  log(line: string): void;
  stop(): void;
}

type Stream = NodeJS.WritableStream & { isTTY?: boolean };

/** A bar on a terminal, plain lines elsewhere (a file, a pipe, CI logs). */
export function createProgress(stream: Stream = process.stdout, now: () => number = Date.now): MeasureProgress {
  return stream.isTTY ? new BarProgress(stream, now) : new LineProgress(stream, now);
}

class LineProgress implements MeasureProgress {
  readonly counter: ProgressCounter;
  constructor(
    private readonly stream: Stream,
    now: () => number,
  ) {
    this.counter = new ProgressCounter(now);
  }
  update(finished?: { name: string; resumed: boolean }): void {
    if (!finished) return;
    const s = this.counter.state();
    this.stream.write(
      `[${s.done}/${s.total}] ${finished.name}${finished.resumed ? ' (measured before)' : ''}  best so far ${formatBest(s.best)}  ~${formatDuration(s.etaSeconds)} left\n`,
    );
  }
  log(line: string): void {
    this.stream.write(`${line}\n`);
  }
  stop(): void {}
}

class BarProgress implements MeasureProgress {
  readonly counter: ProgressCounter;
  private readonly bars: MultiBar;
  private readonly bar: SingleBar;
  constructor(stream: Stream, now: () => number) {
    this.counter = new ProgressCounter(now);
    this.bars = new MultiBar({
      stream,
      format: 'measuring |{bar}| {value}/{total} candidates | best {best} | {left} left',
      hideCursor: true,
      clearOnComplete: false,
      // Our own ETA (see the file comment), not cli-progress's rate over every update.
      etaBuffer: 1,
    });
    this.bar = this.bars.create(0, 0, this.payload());
  }
  private payload() {
    const s = this.counter.state();
    return { best: formatBest(s.best), left: formatDuration(s.etaSeconds) };
  }
  update(): void {
    const s = this.counter.state();
    if (this.bar.getTotal() !== s.total) this.bar.setTotal(s.total);
    this.bar.update(s.done, this.payload());
  }
  log(line: string): void {
    this.bars.log(`${line}\n`);
  }
  stop(): void {
    this.update();
    this.bars.update(); // draws now, writing out the log lines still buffered (stop() alone drops them)
    this.bars.stop();
  }
}
