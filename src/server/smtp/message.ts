/**
 * What the SMTP listener does to a message before it is linted and queued, as an
 * MTA does for local clients: add a missing Date and Message-ID (H2, H3), refuse
 * mail loops, and put its own Received trace header on top. Pure apart from the
 * context passed in.
 */
import { parseAddrSpec } from '../../message/address.js';
import { RawMessage, scanAddressList } from '../../message/raw.js';
import { senderDomainProblem } from '../../policy/address-check.js';

/** More Received headers than this: a loop somewhere (Postfix's hopcount_limit). */
export const MAX_HOPS = 50;
/** More sendwell Received headers than this: a loop through sendwell itself. */
export const MAX_SENDWELL_HOPS = 3;

export interface CompleteContext {
  now: Date;
  /** RFC 5322 date (compose.formatDate). */
  formatDate: (d: Date) => string;
  /** Left part of a new Message-ID (compose.defaultIdGenerator). */
  idLeft: () => string;
  /** The envelope sender ('' for <>): its domain serves the Message-ID when From has none usable. */
  envelopeFrom: string;
  /** This host's name: the Message-ID domain of last resort. */
  hostname: string;
}

export interface Completed {
  msg: RawMessage;
  messageId: string;
  /** Headers that were added, e.g. `Date`, `Message-ID`. */
  added: string[];
}

function usableDomain(addr: string | undefined): string | undefined {
  if (!addr) return undefined;
  try {
    const p = parseAddrSpec('address', addr);
    return senderDomainProblem(p.asciiDomain) ? undefined : p.asciiDomain;
  } catch {
    return undefined;
  }
}

/** The domain for a new Message-ID: the From address's, else the envelope sender's, else the host's. */
export function messageIdDomain(msg: RawMessage, envelopeFrom: string, hostname: string): string {
  const from = (scanAddressList(msg.get('From') ?? '') ?? [])[0]?.address;
  // Header text holds one character per byte: an internationalized domain is UTF-8 in it.
  return usableDomain(from === undefined ? undefined : Buffer.from(from, 'latin1').toString('utf8')) ?? usableDomain(envelopeFrom) ?? hostname;
}

/** Parse the message and add a missing Date and Message-ID. */
export function completeHeaders(raw: Buffer, ctx: CompleteContext): Completed {
  const msg = RawMessage.parse(raw);
  const added: string[] = [];
  if (!msg.has('Date')) {
    msg.add('Date', ctx.formatDate(ctx.now));
    added.push('Date');
  }
  let messageId = msg.get('Message-ID');
  if (messageId === undefined) {
    messageId = `<${ctx.idLeft()}@${messageIdDomain(msg, ctx.envelopeFrom, ctx.hostname)}>`;
    msg.add('Message-ID', messageId);
    added.push('Message-ID');
  }
  return { msg, messageId, added };
}

/** Is this a Received header written by sendwell (`by host (sendwell)`)? */
export function isSendwellReceived(value: string): boolean {
  return /\bby\s+\S+\s+\(sendwell\)/i.test(value);
}

/** Why the message looks like it went round in circles, or undefined. */
export function loopReason(msg: RawMessage): string | undefined {
  const hops = msg.count('Received');
  if (hops > MAX_HOPS) return `the message already has ${hops} Received headers (more than ${MAX_HOPS})`;
  const ours = msg.count('Received', isSendwellReceived);
  if (ours > MAX_SENDWELL_HOPS) return `the message already passed sendwell ${ours} times; check that the relay does not point back at this listener`;
  return undefined;
}

export interface ReceivedInfo {
  /** What the client said in EHLO/HELO. */
  helo: string;
  /** The client's address literal, e.g. `127.0.0.1` or `IPv6:::1`. */
  address: string;
  /** This host's name. */
  hostname: string;
  /** `SMTP`, `ESMTP`, `ESMTPS`, `ESMTPA`, `ESMTPSA` (RFC 3848). */
  protocol: string;
  /** The transaction's trace ID. */
  id: string;
  date: string;
}

const HOSTNAME = /^[A-Za-z0-9.-]{1,253}$/;

/** A name as the Received header may show it: letters, digits and `.-:[]_`, at most 100 characters. */
function traceName(s: string): string {
  const clean = s.replace(/[^A-Za-z0-9.:\-[\]_]/g, '?').slice(0, 100);
  return clean === '' ? 'unknown' : clean;
}

/** `from <helo> ([ip]) by <host> (sendwell) with ESMTPSA id <id>; <date>` */
export function receivedValue(r: ReceivedInfo): string {
  const host = HOSTNAME.test(r.hostname) ? r.hostname : 'localhost';
  return `from ${traceName(r.helo)} ([${traceName(r.address)}]) by ${host} (sendwell) with ${r.protocol} id ${traceName(r.id)}; ${r.date}`;
}
