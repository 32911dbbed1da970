/** Finding, reading and validating sendwell.toml (resolve.ts without zod, the schema here). */
import { stringify as stringifyToml } from 'smol-toml';
import type { z } from 'zod';
import { SendwellError } from '../errors.js';
import { fastValidate } from './fast.js';
import { findConfigFile, finishConfig, readConfigFile, withDefaults, type ResolvedConfig } from './resolve.js';
import { configSchema, SECRET_KEYS, type ConfigFile } from './schema.js';

export * from './resolve.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeIssue(file: string, issue: z.core.$ZodIssue, raw: Record<string, unknown>): string {
  const key = issue.path.join('.');
  let value: unknown = raw;
  for (const p of issue.path) value = isObject(value) || Array.isArray(value) ? (value as Record<string, unknown>)[p as string] : undefined;
  if (issue.code === 'unrecognized_keys') {
    const where = key ? `[${key}]` : 'the top level';
    return `${file}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} in ${where}`;
  }
  if (issue.code === 'invalid_key') {
    const inner = issue.issues[0]?.message ?? issue.message;
    return `${file}: ${key}: the key ${inner}`;
  }
  if (value === undefined) {
    // A required key left out: say so instead of showing "= undefined".
    const why = issue.message.startsWith('is missing') ? issue.message.slice('is missing'.length) : issue.code === 'invalid_type' ? '' : `: ${issue.message}`;
    return `${file}: ${key} is missing${why}`;
  }
  const shown = SECRET_KEYS.has(key) ? '(redacted)' : JSON.stringify(value);
  return `${file}: ${key} = ${shown} ${issue.message.startsWith('is ') ? issue.message : `is invalid: ${issue.message}`}`;
}

/** Validate a parsed config object; throws ECONFIG naming key, value and fix. */
export function validateConfig(raw: Record<string, unknown>, source: string): ConfigFile {
  const merged = withDefaults(raw);
  // The fast check passes what is certainly valid; zod decides the rest and names the problem.
  const fast = fastValidate(merged);
  if (fast) return fast;
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((i) => describeIssue(source, i, merged));
    throw new SendwellError('ECONFIG', lines.join('\n'), {
      hint: 'fix the key named above; `sendwell config --defaults` lists every key with its default, the README explains each',
      details: result.error.issues,
    });
  }
  return result.data;
}

/** Load the effective configuration (file + defaults). */
export function loadConfig(options: { path?: string; env?: NodeJS.ProcessEnv } = {}): ResolvedConfig {
  const source = findConfigFile(options.path, options.env);
  const raw = source ? readConfigFile(source) : {};
  return finishConfig(raw, validateConfig(raw, source ?? 'defaults'), source);
}

/** TOML of a config object with secrets redacted (for `sendwell config`). */
export function configToToml(file: ConfigFile): string {
  const copy = structuredClone(file) as unknown as Record<string, Record<string, unknown>>;
  for (const key of SECRET_KEYS) {
    const [section, name] = key.split('.') as [string, string];
    if (copy[section]?.[name] !== undefined) copy[section][name] = '(redacted)';
  }
  return stringifyToml(copy);
}

