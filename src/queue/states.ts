/**
 * The per-recipient state machine. The recipient, not the message, is the
 * unit of work: one message to three people can be delivered to two and
 * deferred for the third, and only the third is retried.
 *
 *   submit ─► queued ──claim──► active ──2xx──► delivered ──late bounce──► bounced
 *               ▲  ▲               │
 *               │  │               ├─4xx / network / throttled─► deferred ──due──┐
 *               │  │               │                                │             │
 *               │  └───────────────┼────────────────────────────────┘◄────────────┘ (claim again)
 *               │                  ├─5xx───────────────────────────► bounced
 *               │                  └─lease lost (crash)───────────► queued (reaped)
 *               │   deferred past the queue lifetime ──────────────► expired
 *               └── release ◄── held (admin, flood brake)
 *   any non-terminal ── delete ──► cancelled
 *   submit to a suppressed address ──► suppressed (bounce issue)
 *
 * | state      | terminal | log `status=`  | meaning                                          |
 * |------------|----------|----------------|--------------------------------------------------|
 * | queued     | no       | queued         | waiting for its first (or a released) attempt    |
 * | active     | no       | (none)         | a worker holds a lease and is delivering it now  |
 * | deferred   | no       | deferred       | a temporary failure; retried at next_attempt_at  |
 * | held       | no       | held           | kept back by an admin or the flood brake         |
 * | delivered  | yes*     | sent           | the relay accepted it (*a late bounce amends it) |
 * | bounced    | yes      | bounced        | refused permanently, or bounced after delivery   |
 * | expired    | yes      | expired        | still failing when the queue lifetime ran out    |
 * | cancelled  | yes      | cancelled      | deleted by an admin before delivery              |
 * | suppressed | yes      | suppressed     | the address is on the suppression list           |
 */

export const RECIPIENT_STATES = ['queued', 'active', 'deferred', 'held', 'delivered', 'bounced', 'expired', 'cancelled', 'suppressed'] as const;
export type RecipientState = (typeof RECIPIENT_STATES)[number];

export type TerminalState = Extract<RecipientState, 'delivered' | 'bounced' | 'expired' | 'cancelled' | 'suppressed'>;
export type PendingState = Exclude<RecipientState, TerminalState>;

/** The `status=` word of a mail-log line for each state (Postfix's words where Postfix has one). */
export function logStatus(state: RecipientState): string {
  switch (state) {
    case 'queued':
      return 'queued';
    case 'active':
      return 'active';
    case 'deferred':
      return 'deferred';
    case 'held':
      return 'held';
    case 'delivered':
      return 'sent';
    case 'bounced':
      return 'bounced';
    case 'expired':
      return 'expired';
    case 'cancelled':
      return 'cancelled';
    case 'suppressed':
      return 'suppressed';
    default: {
      const never: never = state;
      throw new Error(`unknown state ${String(never)}`);
    }
  }
}

export function isTerminal(state: RecipientState): state is TerminalState {
  switch (state) {
    case 'delivered':
    case 'bounced':
    case 'expired':
    case 'cancelled':
    case 'suppressed':
      return true;
    case 'queued':
    case 'active':
    case 'deferred':
    case 'held':
      return false;
    default: {
      const never: never = state;
      throw new Error(`unknown state ${String(never)}`);
    }
  }
}

/** Every transition the store performs, with its source states. Anything else is a bug. */
export const TRANSITIONS = {
  claim: { from: ['queued', 'deferred'], to: 'active' },
  deliver: { from: ['active'], to: 'delivered' },
  defer: { from: ['active'], to: 'deferred' },
  bounce: { from: ['active'], to: 'bounced' },
  expire: { from: ['active', 'deferred'], to: 'expired' },
  lateBounce: { from: ['delivered'], to: 'bounced' },
  reap: { from: ['active'], to: 'queued' },
  hold: { from: ['queued', 'deferred'], to: 'held' },
  release: { from: ['held'], to: 'queued' },
  retry: { from: ['deferred', 'held'], to: 'queued' },
  cancel: { from: ['queued', 'deferred', 'held'], to: 'cancelled' },
} as const satisfies Record<string, { from: readonly PendingState[] | readonly RecipientState[]; to: RecipientState }>;

export type Transition = keyof typeof TRANSITIONS;
