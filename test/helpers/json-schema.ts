/**
 * A minimal JSON Schema (2020-12) checker for the keywords zod's toJSONSchema emits for the spec
 * schema. No JSON-schema validator is installed in this project, so the tests use this subset; any
 * keyword it does not implement is reported as an error rather than ignored, so a schema change that
 * needs more is noticed instead of silently passing.
 */
type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$schema', 'title', 'description', 'default', 'type', 'properties', 'required', 'additionalProperties',
  'enum', 'const', 'anyOf', 'oneOf', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'pattern',
]);

function typeOk(type: string, value: unknown): boolean {
  switch (type) {
    case 'object': return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array': return Array.isArray(value);
    case 'string': return typeof value === 'string';
    case 'boolean': return typeof value === 'boolean';
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'integer': return typeof value === 'number' && Number.isInteger(value);
    case 'null': return value === null;
    default: throw new Error(`json-schema helper: unknown type "${type}"`);
  }
}

/** Errors of `value` against `schema`, as "path: problem" strings; empty when valid. */
export function validateJsonSchema(schema: Schema, value: unknown, at = '$'): string[] {
  const errors: string[] = [];
  for (const key of Object.keys(schema)) if (!KNOWN.has(key)) errors.push(`${at}: schema keyword "${key}" not supported by the test helper`);
  if (typeof schema.type === 'string' && !typeOk(schema.type, value)) return [...errors, `${at}: expected ${schema.type}, got ${JSON.stringify(value)}`];
  if ('const' in schema && value !== schema.const) errors.push(`${at}: expected const ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} not in enum ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at}: ${value} < minimum ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${at}: ${value} > maximum ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) errors.push(`${at}: ${value} <= exclusiveMinimum ${schema.exclusiveMinimum}`);
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) errors.push(`${at}: ${value} >= exclusiveMaximum ${schema.exclusiveMaximum}`);
  }
  if (typeof value === 'string' && typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
    errors.push(`${at}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
  }
  if (Array.isArray(schema.anyOf)) {
    const ok = (schema.anyOf as Schema[]).some((s) => validateJsonSchema(s, value, at).length === 0);
    if (!ok) errors.push(`${at}: matches none of anyOf`);
  }
  if (Array.isArray(schema.oneOf)) {
    const n = (schema.oneOf as Schema[]).filter((s) => validateJsonSchema(s, value, at).length === 0).length;
    if (n !== 1) errors.push(`${at}: matches ${n} of oneOf (needs exactly 1)`);
  }
  if (typeOk('object', value)) {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[]) if (!(r in obj)) errors.push(`${at}: missing required "${r}"`);
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errors.push(...validateJsonSchema(props[k], v, `${at}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${at}: additional property "${k}"`);
    }
  }
  return errors;
}
