/**
 * The tuned-configuration file that `sagegen autotune --select` writes and `sagegen build --config`
 * reads: per arch and GPU, per (head dim, causal, dtype, sequence-length bucket), the winning spec
 * with its measured speed and accuracy, and the runner-up. zod is the single source of the types and
 * of the published JSON Schema.
 */
import { z } from 'zod';
import { ARCHS } from '../dsl/capabilities.js';
import { AttentionSpecSchema } from '../dsl/spec.js';

export const SourceSha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 in 64 lowercase hex digits');

export const MeasuredCandidateSchema = z
  .object({
    name: z.string(),
    spec: AttentionSpecSchema,
    sourceSha256: SourceSha256Schema.optional().describe(
      "sha256 of the generated .cu that was timed (the bundle manifest's sourceSha256); `sagegen build --config` warns when this sagegen generates another source for the spec. Absent in configurations tuned before it was recorded",
    ),
    kernelTops: z.number().positive().describe('TOP/s of the attention kernel alone at the bucket representative'),
    wholeTops: z.number().positive().describe('TOP/s of the whole call, quantization included'),
    accuracy: z.object({ cos: z.number(), rel_l1: z.number(), nonfinite: z.number().int().nonnegative() }).strict(),
  })
  .strict();

export const TunedEntrySchema = z
  .object({
    headDim: z.literal([64, 128]),
    causal: z.boolean(),
    dtype: z.enum(['fp16', 'bf16']),
    /** kv_len range [minSeq, maxSeq) this entry serves; maxSeq null: unbounded. */
    minSeq: z.number().int().nonnegative(),
    maxSeq: z.number().int().positive().nullable(),
    measuredSeq: z.number().int().positive().describe('the sequence length the candidates were timed at'),
    winner: MeasuredCandidateSchema,
    runnerUp: MeasuredCandidateSchema.nullable(),
    candidates: z.number().int().nonnegative().describe('candidates timed for this entry'),
    rejected: z.number().int().nonnegative().describe('candidates the accuracy gate rejected'),
  })
  .strict();

export const TunedTargetSchema = z
  .object({
    arch: z.enum(ARCHS),
    gpu: z.string().describe('device name the measurements come from'),
    capability: z.string(),
    entries: z.array(TunedEntrySchema),
  })
  .strict();

export const TunedConfigSchema = z
  .object({
    $schema: z.string().optional(),
    format: z.literal(1),
    sagegenVersion: z.string(),
    date: z.string(),
    toolchain: z.object({ nvcc: z.string(), build: z.string() }).strict(),
    /** Selection rule, recorded so a reader knows what "best" meant. */
    criterion: z.string(),
    targets: z.array(TunedTargetSchema).min(1),
    /** Changes made to the selection after the tuning run, each with the measurement that justified
     * it: the entries' figures stay those of the run, so a reader must know what differs from it. */
    amendments: z
      .array(
        z
          .object({
            date: z.string(),
            change: z.string().describe('what was changed in the entries after the tuning run'),
            evidence: z.string().describe('repository path of the same-run measurement that justified the change'),
          })
          .strict(),
      )
      .optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    for (const [ti, target] of config.targets.entries()) {
      for (const [ei, entry] of target.entries.entries()) {
        const spec = entry.winner.spec;
        const mismatch = (['headDim', 'causal', 'dtype'] as const).find((k) => spec[k] !== entry[k]);
        if (spec.arch !== target.arch || mismatch) {
          ctx.addIssue({
            code: 'custom',
            path: ['targets', ti, 'entries', ei, 'winner', 'spec'],
            message: `winner spec (${spec.arch}, ${mismatch ?? 'arch'}) does not match its entry (${target.arch}, D=${entry.headDim}, causal ${entry.causal}, ${entry.dtype})`,
          });
        }
        if (entry.maxSeq !== null && entry.maxSeq <= entry.minSeq) {
          ctx.addIssue({ code: 'custom', path: ['targets', ti, 'entries', ei, 'maxSeq'], message: `must exceed minSeq ${entry.minSeq}` });
        }
      }
    }
  });

export type MeasuredCandidate = z.infer<typeof MeasuredCandidateSchema>;
export type TunedEntry = z.infer<typeof TunedEntrySchema>;
export type TunedTarget = z.infer<typeof TunedTargetSchema>;
export type TunedConfig = z.infer<typeof TunedConfigSchema>;

export function tunedConfigJsonSchema(): Record<string, unknown> {
  return { ...z.toJSONSchema(TunedConfigSchema, { io: 'input' }), title: 'sagegen tuned configuration' };
}
