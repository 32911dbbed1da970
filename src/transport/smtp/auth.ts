/**
 * When sendwell may send credentials, and how (RFC 4954 AUTH PLAIN / LOGIN).
 *
 * Credentials go only over TLS whose certificate was verified, or to a relay on
 * the loopback interface (rules R11, C2). Unverified (opportunistic) TLS is not
 * enough: it stops a passive eavesdropper, but an attacker in the middle would
 * get the password. The decision is a pure function so it can be tested for
 * every case even though test servers all listen on 127.0.0.1.
 */
import type { RelayInfo } from '../types.js';
import { isLoopback } from './classify.js';

export interface AuthGuardInput {
  /** Host name or address from relay.url. */
  host: string;
  /** Address the socket is actually connected to. */
  remoteAddress?: string | undefined;
  tls?: RelayInfo['tls'] | undefined;
}

export type AuthDecision =
  | { allowed: true; because: 'verified-tls' | 'loopback' }
  | { allowed: false; message: string; hint: string };

export function authDecision(input: AuthGuardInput): AuthDecision {
  if (input.tls?.authorized) return { allowed: true, because: 'verified-tls' };
  // Judge by the address actually connected to; the name alone could resolve anywhere.
  if (input.remoteAddress !== undefined ? isLoopback(input.remoteAddress) : isLoopback(input.host)) {
    return { allowed: true, because: 'loopback' };
  }
  if (input.tls) {
    return {
      allowed: false,
      message: `refusing to send the password to ${input.host}: TLS is up but the relay's certificate was not verified (${input.tls.authorizationError ?? 'unknown reason'})`,
      hint: 'an attacker in the middle could read the password: use smtp+starttls://host:587 or smtps://host:465, or add ?tls=verify, and relay.ca_file for an internal CA (R11, C2)',
    };
  }
  return {
    allowed: false,
    message: `refusing to send the password to ${input.host} over an unencrypted connection`,
    hint: 'credentials are only sent over verified TLS or to a relay on this host: use smtp+starttls://host:587 or smtps://host:465 (R11, C2)',
  };
}

export type AuthMechanism = 'PLAIN' | 'LOGIN';

/** Mechanisms in order of preference: PLAIN is one round trip, LOGIN is the old fallback. */
export const SUPPORTED_MECHANISMS: readonly AuthMechanism[] = ['PLAIN', 'LOGIN'];

export function chooseMechanism(advertised: readonly string[]): AuthMechanism | undefined {
  const offered = new Set(advertised.map((m) => m.toUpperCase()));
  return SUPPORTED_MECHANISMS.find((m) => offered.has(m));
}

/** The RFC 4616 PLAIN message, base64: authzid NUL authcid NUL password. */
export function plainToken(username: string, password: string): string {
  return Buffer.from(`\u0000${username}\u0000${password}`, 'utf8').toString('base64');
}
