import type { PolicyOptions } from './types.js';

/** 1 MiB. */
export const MIB = 1024 * 1024;

/** Policy defaults (config `[policy]` overrides them). */
export const DEFAULT_POLICY: PolicyOptions = Object.freeze({
  allowSenders: Object.freeze([]) as unknown as string[],
  maxDateSkewMs: 15 * 60_000,
  attachmentWarnBytes: 1 * MIB,
  attachmentMaxBytes: 10 * MIB,
  maxVisibleRecipients: 10,
  severity: Object.freeze({}) as Record<string, never>,
});

/** Fill in defaults for missing policy settings (tolerates a partial object). */
export function resolvePolicy(policy: Partial<PolicyOptions> | undefined): PolicyOptions {
  return {
    allowSenders: [...(policy?.allowSenders ?? DEFAULT_POLICY.allowSenders)],
    maxDateSkewMs: policy?.maxDateSkewMs ?? DEFAULT_POLICY.maxDateSkewMs,
    attachmentWarnBytes: policy?.attachmentWarnBytes ?? DEFAULT_POLICY.attachmentWarnBytes,
    attachmentMaxBytes: policy?.attachmentMaxBytes ?? DEFAULT_POLICY.attachmentMaxBytes,
    maxVisibleRecipients: policy?.maxVisibleRecipients ?? DEFAULT_POLICY.maxVisibleRecipients,
    severity: { ...(policy?.severity ?? {}) },
  };
}
