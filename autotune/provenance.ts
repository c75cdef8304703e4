/**
 * Whether a tuned configuration's winners are still the kernels that were timed.
 *
 * A tuning run ranks generated sources, not specs: when a later sagegen generates another .cu for the
 * same spec (a template change keeps the name), the winner still builds and runs correctly, but its
 * timings, and so the ranking, belong to the old source. The runners copy each candidate's
 * `sourceSha256` from the bundle's manifest into its gate record, the selection keeps the winner's,
 * and `sagegen build --config` compares it with what this sagegen renders for the spec.
 */
import { variantSourceSha256 } from '../build/fingerprint.js';
import { planKernel } from '../plan/plan.js';
import type { TunedTarget } from './config.js';

export interface TunedSourceCheck {
  /** Winners (each once) whose recorded source differs from the one rendered now. */
  changed: string[];
  /** Distinct winners that record their source (configurations tuned before it was recorded carry none). */
  checked: number;
}

export function checkTunedSources(targets: TunedTarget[]): TunedSourceCheck {
  const recorded = new Map<string, string | undefined>();
  const specs = new Map<string, TunedTarget['entries'][number]['winner']['spec']>();
  for (const t of targets)
    for (const e of t.entries) {
      recorded.set(e.winner.name, e.winner.sourceSha256);
      specs.set(e.winner.name, e.winner.spec);
    }
  const changed: string[] = [];
  let checked = 0;
  for (const [name, sha] of recorded) {
    if (sha === undefined) continue;
    checked += 1;
    if (variantSourceSha256(planKernel(specs.get(name)!)) !== sha) changed.push(name);
  }
  return { changed: changed.sort(), checked };
}

/**
 * The warning for changed winners (null when none changed): `subject` names the file as the command
 * has it (build: `--config = "tuned.json"`; autotune --select: the file it wrote), then the count and
 * the first few.
 */
export function tunedSourceWarning(subject: string, check: TunedSourceCheck, tuned: { date: string; sagegenVersion: string }): string | null {
  if (!check.changed.length) return null;
  const shown = check.changed.slice(0, 3).join(', ') + (check.changed.length > 3 ? `, and ${check.changed.length - 3} more` : '');
  return (
    `warning: ${subject}: ${check.changed.length} of the ${check.checked} winners that record their source were timed on generated sources that differ from ` +
    `what this sagegen generates for their specs (tuned ${tuned.date.slice(0, 10)} with sagegen ${tuned.sagegenVersion}): ${shown}. ` +
    `They build and run correctly, but their ranking may no longer hold: tune again with sagegen autotune.`
  );
}
