/**
 * A small JSON Schema (2020-12) validator for the tests: enough to check
 * real API responses against the OpenAPI document's schemas. It refuses
 * keywords it does not know, so nothing in the document goes unchecked.
 */

export interface SchemaError {
  /** JSON pointer into the instance. */
  path: string;
  message: string;
}

type Schema = boolean | Record<string, unknown>;

/** Keywords that only annotate. */
const ANNOTATIONS = new Set(['description', 'title', 'contentEncoding', 'contentMediaType', 'default', 'examples', '$schema', '$id', 'deprecated', 'readOnly', 'writeOnly', '$comment']);
const KNOWN = new Set([
  ...ANNOTATIONS,
  '$ref',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'minItems',
  'maxItems',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
]);

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function resolveRef(root: unknown, ref: string): Schema {
  if (!ref.startsWith('#')) throw new Error(`only local $ref supported, got ${ref}`);
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const seg = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(seg in node)) throw new Error(`unresolvable $ref ${ref}`);
    node = (node as Record<string, unknown>)[seg];
  }
  return node as Schema;
}

/** Validate `value` against `schema`; `root` resolves `$ref`s (e.g. the OpenAPI document). */
export function validate(schema: Schema, value: unknown, root: unknown = schema, path = ''): SchemaError[] {
  if (schema === true) return [];
  if (schema === false) return [{ path, message: 'no value is allowed here' }];
  const errors: SchemaError[] = [];
  const err = (message: string, at = path) => errors.push({ path: at || '/', message });
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`json-schema: unsupported keyword ${k} at ${path || '/'}`);

  if (typeof schema.$ref === 'string') errors.push(...validate(resolveRef(root, schema.$ref), value, root, path));

  const t = typeOf(value);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const ok = types.some((x) => x === t || (x === 'number' && t === 'integer'));
    if (!ok) {
      err(`expected ${types.join(' or ')}, got ${t}`);
      return errors;
    }
  }
  if (schema.enum !== undefined && !(schema.enum as unknown[]).some((e) => deepEqual(e, value))) err(`${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if ('const' in schema && !deepEqual(schema.const, value)) err(`expected ${JSON.stringify(schema.const)}`);

  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength) err(`shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === 'number' && [...value].length > schema.maxLength) err(`longer than ${schema.maxLength}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) err(`does not match ${schema.pattern}`);
    if (schema.format === 'date-time' && !DATE_TIME.test(value)) err('not an RFC 3339 date-time');
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) err(`less than ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) err(`more than ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) err(`not more than ${schema.exclusiveMinimum}`);
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) err(`not less than ${schema.exclusiveMaximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) err(`fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) err(`more than ${schema.maxItems} items`);
    if (schema.items !== undefined) value.forEach((v, i) => errors.push(...validate(schema.items as Schema, v, root, `${path}/${i}`)));
  }
  if (t === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[]) if (!(r in obj)) err(`missing required member ${r}`);
    for (const [k, v] of Object.entries(obj)) {
      const at = `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (schema.propertyNames !== undefined) errors.push(...validate(schema.propertyNames as Schema, k, root, at));
      if (k in props) errors.push(...validate(props[k]!, v, root, at));
      else if (schema.additionalProperties !== undefined) {
        if (schema.additionalProperties === false) err(`undocumented member ${k}`, at);
        else errors.push(...validate(schema.additionalProperties as Schema, v, root, at));
      }
    }
  }
  if (schema.allOf) for (const s of schema.allOf as Schema[]) errors.push(...validate(s, value, root, path));
  if (schema.anyOf && !(schema.anyOf as Schema[]).some((s) => validate(s, value, root, path).length === 0)) err('matches none of anyOf');
  if (schema.oneOf && (schema.oneOf as Schema[]).filter((s) => validate(s, value, root, path).length === 0).length !== 1) err('does not match exactly one of oneOf');
  if (schema.not !== undefined && validate(schema.not as Schema, value, root, path).length === 0) err('matches "not"');
  return errors;
}
