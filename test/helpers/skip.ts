/**
 * Tests that need an external tool (nvcc, python3, cc): skipped with a visible reason when the tool
 * is missing, except under CI (CI=true), where a missing tool is a failure, not a skip.
 */
import { describe, it } from 'vitest';

export const isCI = process.env.CI === 'true';

type SuiteFn = () => void;

/**
 * `describe(name, fn)` when `available`; otherwise a skipped suite whose name says why, or, under CI,
 * a suite with one failing test saying which tool is missing.
 */
export function describeIfTool(tool: string, available: boolean, reason: string, name: string, fn: SuiteFn): void {
  if (available) {
    describe(name, fn);
    return;
  }
  if (isCI) {
    describe(name, () => {
      it(`requires ${tool} (CI=true: a missing ${tool} is a failure, not a skip)`, () => {
        throw new Error(`${tool} is required when CI=true but is not usable: ${reason}`);
      });
    });
    return;
  }
  // eslint-disable-next-line no-console
  console.warn(`[sagegen tests] skipping "${name}": ${tool} not available (${reason})`);
  describe.skip(`${name} [skipped: ${tool} not available: ${reason}]`, fn);
}
