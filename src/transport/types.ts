import type { RecipientOutcome } from '../errors.js';

/** DSN parameters (RFC 3461), sent only when the relay advertises DSN. */
export interface DsnOptions {
  /** RET=FULL|HDRS */
  ret?: 'FULL' | 'HDRS';
  /** ENVID, xtext-encoded on the wire. The bounce issue matches on it. */
  envid?: string;
  /** NOTIFY per recipient; default `FAILURE,DELAY`. */
  notify?: Array<'SUCCESS' | 'FAILURE' | 'DELAY'> | ['NEVER'];
  /** Send ORCPT=rfc822;<addr> per recipient (default true). */
  orcpt?: boolean;
}

/**
 * The SMTP envelope. Addresses are already validated and in their wire form
 * (IDN domains as A-labels); `from` is '' for the null reverse-path `<>`.
 */
export interface Envelope {
  from: string;
  to: string[];
  /** Some address has a non-ASCII local part: needs SMTPUTF8 end to end. */
  smtputf8?: boolean;
  dsn?: DsnOptions;
}

/** What the transport learned about the relay (for results, logs and lint). */
export interface RelayInfo {
  /** e.g. `smtp://127.0.0.1:25`, `sendmail:/usr/sbin/sendmail` */
  relay: string;
  /** TLS was used for the session. */
  tls?: { protocol?: string; cipher?: string; authorized: boolean; authorizationError?: string };
  /** Authenticated as this user. */
  authenticatedAs?: string;
  /** EHLO keywords the server advertised, upper-case (e.g. `PIPELINING`, `SIZE`, `DSN`). */
  extensions?: string[];
  /** Advertised SIZE limit in octets, 0 when unlimited. */
  maxSize?: number;
}

export interface TransportResult {
  recipients: RecipientOutcome[];
  /** Final reply to the message (e.g. `250 2.0.0 Ok: queued as 4AbC`). */
  response?: string;
  /** The relay's own queue ID, parsed from the final reply, to match the relay's mail log (T2). */
  relayQueueId?: string;
  info: RelayInfo;
}

/**
 * A way to hand a composed message to the next hop. Implementations:
 * SMTP (smtp, smtp+starttls, smtps), sendmail, capture.
 *
 * `send` resolves when at least one recipient was accepted (others may be
 * rejected: see `recipients`) and rejects with a `SendwellError` otherwise.
 */
export interface Transport {
  readonly name: string;
  send(envelope: Envelope, raw: Buffer): Promise<TransportResult>;
  /** Connect (or reuse the connection) and report what the relay offers, without sending (SMTP only). */
  probe?(): Promise<RelayInfo>;
  close(): Promise<void>;
}
