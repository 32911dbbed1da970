/** How the CLI prints results and errors. Formats here are public surface. */
import { exitCodeFor, SendwellError, type RecipientOutcome } from '../errors.js';

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const processIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

export function describeReply(r: RecipientOutcome): string {
  if (r.response) return r.response;
  if (r.responseCode) return `${r.responseCode}${r.enhancedStatus ? ` ${r.enhancedStatus}` : ''}`;
  return '';
}

/** `  accepted  bob@example.org  250 2.1.5 Ok` */
export function formatRecipients(recipients: Array<RecipientOutcome & { state?: string }>): string {
  const width = Math.max(...recipients.map((r) => r.address.length));
  return recipients
    .map((r) => {
      // With a queue the recipient's queue state says more than accepted/rejected.
      const status = r.state ?? (r.status === 'accepted' ? 'accepted' : r.temporary ? 'deferred' : 'rejected');
      return `  ${status.padEnd(9)}  ${r.address.padEnd(width)}  ${describeReply(r)}`.trimEnd();
    })
    .join('\n');
}

/** Human error text: what happened, then the hint. */
export function formatError(err: unknown): string {
  if (!(err instanceof SendwellError)) {
    return `sendwell: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n` +
      '  this is a bug in sendwell; please report it with the command you ran\n';
  }
  const tags = [err.code, err.temporary ? 'temporary' : 'permanent', err.phase && `phase ${err.phase}`, err.rule && `rule ${err.rule}`]
    .filter(Boolean)
    .join(', ');
  let out = `sendwell: error: ${err.message} (${tags})\n`;
  if (err.recipients?.length) out += `${formatRecipients(err.recipients)}\n`;
  if (err.hint) out += err.hint.split('\n').map((l) => `  hint: ${l}\n`).join('');
  if (err.temporary && err.code !== 'EUSAGE') out += '  nothing was sent; it is safe to try again later\n';
  return out;
}

/** Print an error (human or JSON) and return the exit code. */
export function reportError(io: Io, err: unknown, json: boolean): number {
  const code = exitCodeFor(err);
  if (json) {
    const body = err instanceof SendwellError ? err.toJSON() : { code: 'EINTERNAL', message: String(err) };
    io.stdout(`${JSON.stringify({ ok: false, exitCode: code, error: body }, null, 2)}\n`);
  } else {
    io.stderr(formatError(err));
  }
  return code;
}
