/**
 * Find the relay's own queue ID in the final reply to DATA, so a message can be
 * matched with the relay's mail log (guide rule T2). Classification as data:
 * one pattern per MTA, first match wins; every row has a golden test.
 */

export interface QueueIdPattern {
  mta: string;
  example: string;
  re: RegExp;
}

export const QUEUE_ID_PATTERNS: readonly QueueIdPattern[] = [
  // Postfix: "250 2.0.0 Ok: queued as 4AbC1x2YzQz5". Also generic "queued as X",
  // "Message queued as <id>", with optional angle brackets.
  { mta: 'postfix/generic', example: '250 2.0.0 Ok: queued as 4Z1bQx0Sk9z9sBn', re: /\bqueued as:?\s+<?([A-Za-z0-9][A-Za-z0-9._@:+/=-]*?)>?(?=[\s,;)]|$)/i },
  // Exim: "250 OK id=1rXyZa-000Abc-5D"
  { mta: 'exim', example: '250 OK id=1rXyZa-000Abc-5D', re: /\bid=([A-Za-z0-9][A-Za-z0-9-]+)/ },
  // Sendmail: "250 2.0.0 44T9x3Ab012345 Message accepted for delivery"
  { mta: 'sendmail', example: '250 2.0.0 44T9x3Ab012345 Message accepted for delivery', re: /^\d{3}(?:\s+\d\.\d{1,3}\.\d{1,3})?\s+([A-Za-z0-9]+)\s+Message accepted for delivery/i },
  // Exchange: "250 2.6.0 <id@host> [InternalId=1234567, Hostname=EX01] Queued mail for delivery"
  { mta: 'exchange', example: '250 2.6.0 <a@b.test> [InternalId=25769803802, Hostname=EX01.example.test] Queued mail for delivery', re: /\[InternalId=(\d+)/ },
  // Gmail: "250 2.0.0 OK  1700000000 a1-20020a170906abcd.123 - gsmtp"
  { mta: 'gmail', example: '250 2.0.0 OK  1700000000 a1-20020a170906abcd.123 - gsmtp', re: /\bOK\s+\d+\s+(\S+)\s+-\s+gsmtp\b/ },
  // qmail: "250 ok 1700000000 qp 12345"
  { mta: 'qmail', example: '250 ok 1700000000 qp 12345', re: /\bqp (\d+)\b/ },
  // Amazon SES: "250 Ok 010001812345abcd-12345678-1234-1234-1234-123456789abc-000000"
  { mta: 'ses', example: '250 Ok 0100018b2a3c4d5e-6f708192-a3b4-c5d6-e7f8-091a2b3c4d5e-000000', re: /^250\s+Ok\s+([0-9a-f]{16}-[0-9a-f-]{20,})$/i },
];

/** The relay's queue ID in a reply (the full reply text, code included), if recognised. */
export function parseQueueId(reply: string): string | undefined {
  for (const p of QUEUE_ID_PATTERNS) {
    const m = p.re.exec(reply);
    if (m?.[1]) return m[1];
  }
  return undefined;
}
