/** Checks for header names and values that callers pass in. */
import { SendwellError } from '../errors.js';
import { assertNoLineBreaks } from './address.js';

/** RFC 5322 §3.6.8 field-name: printable ASCII except colon. */
const FIELD_NAME = /^[!-9;-~]+$/;

/**
 * Headers sendwell writes itself from typed fields; setting them through
 * `headers` would bypass validation or create duplicates (H1).
 */
const OWN_HEADERS: Record<string, string> = {
  from: 'from',
  sender: 'from',
  to: 'to',
  cc: 'cc',
  bcc: 'bcc',
  'reply-to': 'replyTo',
  subject: 'subject',
  date: 'the clock (H2)',
  'message-id': 'the generator (H3)',
  'mime-version': 'the composer',
  'content-type': 'the composer',
  'content-transfer-encoding': 'the composer',
  'return-path': 'envelopeFrom (the receiving server writes Return-Path)',
};

export type HeaderInput = Record<string, string | string[]> | Array<[string, string]>;

/** Validate extra headers; returns them as ordered pairs. */
export function checkExtraHeaders(headers: HeaderInput | undefined): Array<[string, string]> {
  if (!headers) return [];
  const pairs: Array<[string, string]> = Array.isArray(headers)
    ? headers
    : Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x): [string, string] => [k, x]) : [[k, v] as [string, string]]));
  for (const [name, value] of pairs) {
    checkHeaderName(name);
    const key = name.toLowerCase();
    // hasOwn: a header named `constructor` must not find Object.prototype.
    const own = Object.hasOwn(OWN_HEADERS, key) ? OWN_HEADERS[key] : undefined;
    if (own) {
      throw new SendwellError('EHEADER', `header ${name} cannot be set through extra headers: it is set from ${own}`, {
        hint: `use the ${own.split(' ')[0]} field instead; sendwell writes this header itself so it is always correct (H1)`,
        rule: 'H1',
      });
    }
    checkHeaderValue(name, value);
  }
  return pairs;
}

export function checkHeaderName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new SendwellError('EHEADER', 'a header name is empty', { hint: 'give headers as "Name: value"', rule: 'H1' });
  }
  assertNoLineBreaks(`header name ${JSON.stringify(name)}`, name);
  if (!FIELD_NAME.test(name) || name.length > 76) {
    throw new SendwellError('EHEADER', `header name ${JSON.stringify(name)} is not a valid field name`, {
      hint: 'header names are printable ASCII without spaces or colons, e.g. X-Ticket-Id (RFC 5322 §3.6.8)',
      rule: 'H1',
    });
  }
}

export function checkHeaderValue(name: string, value: string): void {
  if (typeof value !== 'string') {
    throw new SendwellError('EHEADER', `header ${name} has a value that is not text`, { hint: 'pass header values as strings', rule: 'H1' });
  }
  assertNoLineBreaks(`header ${name}`, value);
  // eslint-disable-next-line no-control-regex
  if (/[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value)) {
    throw new SendwellError('EHEADER', `header ${name} contains control characters`, { hint: 'remove them', rule: 'H1' });
  }
  if (Buffer.byteLength(value) > 16 * 1024) {
    throw new SendwellError('EHEADER', `header ${name} is longer than 16 KiB`, { hint: 'put long content in the body', rule: 'H1' });
  }
}

/** Parse a CLI `--header 'Name: value'`. */
export function parseHeaderLine(line: string): [string, string] {
  const i = line.indexOf(':');
  if (i <= 0) {
    throw new SendwellError('EUSAGE', `--header ${JSON.stringify(line)} is not of the form "Name: value"`, {
      hint: "write e.g. --header 'X-Ticket-Id: 4711'",
    });
  }
  return [line.slice(0, i).trim(), line.slice(i + 1).trim()];
}
