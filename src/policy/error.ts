import { SendwellError } from '../errors.js';
import type { LintReport } from './types.js';

/** EPOLICY error listing the error-level findings. */
export function policyError(report: LintReport): SendwellError {
  const errors = report.findings.filter((f) => f.severity === 'error');
  const first = errors[0]!;
  return new SendwellError(
    'EPOLICY',
    `refused by policy: ${errors.map((f) => `${f.rule}: ${f.message}`).join('; ')}`,
    { hint: errors.map((f) => `${f.rule}: ${f.fix}`).join('\n'), rule: first.guideRule, details: report },
  );
}
