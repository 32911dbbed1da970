/** A minimal RFC 3464 delivery status notification, as relays send them, for the bounce tests. */
export function dsnFor(to: string, recipient: string, opts: { status?: string; diagnostic?: string } = {}): string {
  const status = opts.status ?? '5.1.1';
  return [
    'From: MAILER-DAEMON@relay.example.test',
    `To: ${to}`,
    'Subject: Undelivered Mail Returned to Sender',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain',
    '',
    'Sorry.',
    '--b',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; relay.example.test',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    'Action: failed',
    `Status: ${status}`,
    `Diagnostic-Code: smtp; ${opts.diagnostic ?? `550 ${status} user unknown`}`,
    '',
    '--b--',
    '',
  ].join('\r\n');
}
