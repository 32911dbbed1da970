/** The guide as lint rules: shared types. */

export type Severity = 'error' | 'warning';

/** One problem found in a message. `error` blocks sending, `warning` does not. */
export interface Finding {
  /** Rule ID prefixed by the guide rule, e.g. `R2.noreply-sender`. */
  rule: string;
  /** The guide rule, e.g. `R2`. */
  guideRule: string;
  severity: Severity;
  /** What is wrong and why (the guide's reason). */
  message: string;
  /** A concrete fix. */
  fix: string;
  /** Header or envelope field concerned, when there is one (e.g. `From`, `envelope.from`). */
  field?: string;
  /** The evidence, short: the offending value or measurement (e.g. `noreply@example.org`). */
  detail?: string;
  /** The rule's title (what is wrong, from the rule table). */
  title?: string;
  /** Why it matters: the guide's reason (from the rule table). */
  why?: string;
}

/** Policy settings (config `[policy]`). */
export interface PolicyOptions {
  /** Sender addresses exempt from R2 (exact, case-insensitive), e.g. a monitored `noreply@` that does receive bounces. */
  allowSenders: string[];
  /** H2: maximum |Date - now| in milliseconds. */
  maxDateSkewMs: number;
  /** R9: total attachment size × recipients above which a warning is given. */
  attachmentWarnBytes: number;
  /** R9: total attachment size × recipients above which sending is refused. */
  attachmentMaxBytes: number;
  /** Privacy: more visible To/Cc addresses than this gives a warning. */
  maxVisibleRecipients: number;
  /**
   * Per-rule severity override; `off` disables a rule. Keys are rule IDs (`R2.noreply-sender`)
   * or guide rules (`R2`, applying to all its rules); an exact rule ID wins over its guide rule.
   */
  severity: Record<string, Severity | 'off'>;
}

export interface LintContext {
  /** Current time (injectable clock). */
  now: Date;
  /** The SMTP envelope, when known. `from` '' is the null reverse-path. */
  envelope?: { from: string; to: string[] };
  /** Whether the relay supports SMTPUTF8; undefined when unknown (then raw UTF-8 headers are an error). */
  smtputf8?: boolean;
  /**
   * True when the message is being submitted (H2/H3 checked); false for
   * later retries, where Date/Message-ID were already checked at submission.
   */
  submission: boolean;
  policy: PolicyOptions;
}

export interface LintReport {
  findings: Finding[];
  errors: number;
  warnings: number;
  /** True when no error-level finding exists. */
  ok: boolean;
  /** The spam preflight (R6), when the mailer's lint() ran it. */
  spam?: import('./spam/preflight.js').SpamReport;
}
