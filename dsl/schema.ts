/** JSON Schema of spec files, generated from the zod schema (the one source of truth). */
import { z } from 'zod';
import { AttentionSpecSchema } from './spec.js';

export function attentionSpecJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(AttentionSpecSchema, { io: 'input' }),
    title: 'sagegen attention-forward kernel spec',
  };
}
