import { writeFileSync } from 'node:fs';

/** Rate limits off (0 disables a bucket) so a benchmark measures delivery, not the limiter. */
export const NO_LIMITS = 'per_minute = 0\nper_hour = 0\nper_day = 0\nper_recipient_per_hour = 0\nper_domain_per_minute = 0\nper_sender_per_hour = 0\n';

export function writeBenchConfig(path: string, o: { concurrency?: number; extra?: string } = {}): string {
  writeFileSync(
    path,
    `[sender]\nfrom = "Bench <bench-sender@example.test>"\n\n[queue]\nconcurrency = ${o.concurrency ?? 8}\n\n[limits]\n${NO_LIMITS}\n[limits.flood]\nmessages = 1000000000\n\n${o.extra ?? ''}`,
    { mode: 0o600 },
  );
  return path;
}
