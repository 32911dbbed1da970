/**
 * Operator alerts: a refusal or bounce that blames our own setup (block list,
 * SPF/DKIM) is the operator's to fix, not the recipient's. One text for the
 * log and the mail, at most one alert per cause per hour (a blocklisting
 * produces many bounces), whether the relay refused at RCPT or a bounce came back.
 */
import type { QueueStore } from '../queue/store.js';

/** Whether an alert for this cause may go out now (takes the hour's token). */
export function alertDue(store: QueueStore, rule: string, now: number): boolean {
  const [{ waitMs }] = store.takeTokens([[{ key: `alert:${rule}`, capacity: 1, refillPerMs: 1 / 3_600_000 }]], now);
  return waitMs === 0;
}

export function alertText(address: string, rule: string, reason: string): string {
  return `mail to <${address}> was refused because of our own setup (${rule}): ${reason}. Check the relay, SPF/DKIM/DMARC and block lists; the recipient is not suppressed.`;
}

/** Subject and body of the alert mail (`[bounces] operator`). */
export function alertMail(rule: string, text: string, details: string[]): { subject: string; text: string } {
  return {
    subject: `sendwell: mail refused because of our own setup (${rule})`,
    text: `${text}\n\n${details.join('\n')}\n\nThis alert is sent at most once an hour per cause; \`sendwell log\` has every refusal and bounce.\n`,
  };
}
