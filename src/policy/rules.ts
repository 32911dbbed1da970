/**
 * The rule table: the guide (see the guide's RULES.md) as lint rules, as data.
 *
 * Every finding's message and fix come from this table. Rule IDs are public surface
 * (config `policy.severity`, `--json` output, docs): never rename one; add new IDs instead.
 *
 * Choice documented here: the privacy check on visible recipients is `R1.visible-recipients`,
 * because disclosing addresses to everyone on the list is mail the recipients did not agree
 * to (R1: "send nobody mail against their will").
 */
import type { Severity } from './types.js';

export interface RuleDefinition {
  /** Rule ID prefixed by the guide rule, e.g. `R2.noreply-sender`. */
  id: string;
  /** The guide rule, e.g. `R2`. */
  guideRule: string;
  /** Default severity (config `policy.severity` overrides it). */
  severity: Severity;
  /** What is wrong, short (a sentence fragment without final period). */
  title: string;
  /** Why it matters: the guide's reason. */
  why: string;
  /** A concrete fix. */
  fix: string;
  /** Checked only when the message is submitted (`ctx.submission`), not at each retry. */
  submissionOnly?: boolean;
}

const R2_ALLOW = 'If this address really is a monitored mailbox that handles bounces, list it in policy.allowSenders.';
const LIBRARY_FIX = 'Let a mail library generate the header';

const RULE_TABLE = [
  // R1 — nobody gets mail against their will
  {
    id: 'R1.visible-recipients',
    guideRule: 'R1',
    severity: 'warning',
    title: 'Many recipients can see each other',
    why: 'Every recipient sees every address in To and Cc: that discloses addresses to strangers without their consent and invites reply-all storms. The guide asks to send nobody mail against their will (R1).',
    fix: 'Send one mail per recipient, or put the recipients in Bcc and a single address (for example your own) in To.',
  },
  // R2 — a valid sender, no noreply
  {
    id: 'R2.noreply-sender',
    guideRule: 'R2',
    severity: 'error',
    title: 'Sender is a no-reply address',
    why: 'Some providers rate noreply@ senders as spam, and bounces to such an address must be received and handled; when they are not, double bounces arise that load the mail system and make troubleshooting hard (R2).',
    fix: `Send from a real, monitored mailbox that receives bounces and replies (for example the team or service address). ${R2_ALLOW}`,
  },
  {
    id: 'R2.system-sender',
    guideRule: 'R2',
    severity: 'error',
    title: 'Sender is a system account',
    why: 'Mail from accounts such as www-data@, nobody@ or root@localhost is read by nobody: bounces to it are lost or become double bounces that load the mail system, and providers rate such senders as spammy (R2).',
    fix: `Set the sender explicitly (From header and envelope sender, e.g. sendmail -f) to a real, monitored mailbox. ${R2_ALLOW}`,
  },
  {
    id: 'R2.sender-domain',
    guideRule: 'R2',
    severity: 'error',
    title: 'Sender domain cannot receive mail',
    why: 'An unqualified host name, localhost, a .invalid, .local or .localdomain name or an IP address is not an internet mail domain: receiving servers reject or distrust the mail, and bounces cannot come back, so they become double bounces (R2).',
    fix: `Use an address in your institution's real mail domain (for example team@example.org), not a host name or IP address. ${R2_ALLOW}`,
  },
  // R3 — both sender addresses valid
  {
    id: 'R3.from-missing',
    guideRule: 'R3',
    severity: 'error',
    title: 'From header missing',
    why: 'There are two sender addresses, the From header and the envelope sender, and both must be valid (R3); RFC 5322 requires From, and mail without it is rejected or scored as spam.',
    fix: 'Add a From header with a real, monitored address, e.g. From: Team Name <team@example.org>.',
  },
  {
    id: 'R3.from-invalid',
    guideRule: 'R3',
    severity: 'error',
    title: 'From address is not a valid address',
    why: 'The From header is one of the two sender addresses that must both be valid (R3); a malformed From cannot be replied to, is parsed differently by different software, and is rejected or scored as spam.',
    fix: 'Write From as Name <local@domain> with a plain address: letters, digits, dots and hyphens, no quotes, comments or spaces, a real domain.',
  },
  {
    id: 'R3.envelope-sender-unqualified',
    guideRule: 'R3',
    severity: 'error',
    title: 'Envelope sender has no domain',
    why: 'An envelope sender without @domain is completed by the mail server with its own host name (e.g. www-data@host), an address where nobody reads bounces; the envelope sender must be a valid address (R3).',
    fix: 'Pass the envelope sender explicitly as the full address of a monitored mailbox (e.g. sendmail -f team@example.org, or the envelope.from option); the From address is fine.',
  },
  {
    id: 'R3.envelope-sender-invalid',
    guideRule: 'R3',
    severity: 'error',
    title: 'Envelope sender is not a valid address',
    why: 'The envelope sender is the bounce address; it must be valid so that bounces reach someone who handles them (R3).',
    fix: 'Set the envelope sender to the full address of a monitored mailbox; the same address as From is fine.',
  },
  {
    id: 'R3.null-envelope-sender',
    guideRule: 'R3',
    severity: 'error',
    title: 'Null envelope sender <> on an ordinary mail',
    why: 'The null reverse-path <> is reserved for delivery status notifications and auto-replies (RFC 5321 §4.5.5); for ordinary mail bounces are lost, many servers reject it, and the envelope sender must be valid (R3).',
    fix: 'Set the envelope sender to a monitored mailbox (the From address is fine). Only bounce reports (multipart/report) and auto-replies (Auto-Submitted: auto-replied) may use <>.',
  },
  // R4 — Reply-To is no substitute
  {
    id: 'R4.reply-to-not-substitute',
    guideRule: 'R4',
    severity: 'error',
    title: 'Reply-To used while a sender address is not valid',
    why: 'A Reply-To address is optional and no substitute for a valid sender and bounce address (R4): bounces go to the envelope sender, and providers judge the From address.',
    fix: 'Fix the From address and the envelope sender first (see the R2/R3 findings); keep Reply-To only if replies should go to a different address.',
  },
  // R7 — HTML needs a plain-text version
  {
    id: 'R7.html-without-text',
    guideRule: 'R7',
    severity: 'error',
    title: 'HTML without a plain-text version',
    why: 'HTML mails must include a plain-text version (R7): HTML-only mail is scored as spam, and text-only clients and some screen readers show nothing useful.',
    fix: 'Send multipart/alternative with a text/plain part first and the text/html part after it (give both text and html, or derive the text from the HTML).',
  },
  {
    id: 'R7.empty-text-alternative',
    guideRule: 'R7',
    severity: 'warning',
    title: 'Plain-text version is empty',
    why: 'An empty text/plain alternative meets the letter of R7 but not its purpose: text-only readers see nothing, and spam filters score alternatives whose text differs from the HTML.',
    fix: 'Put the same content in the text/plain part as in the HTML part (derive it from the HTML).',
  },
  // R9 — links instead of large attachments
  {
    id: 'R9.large-attachments',
    guideRule: 'R9',
    severity: 'warning',
    title: 'Large attachments',
    why: 'Large attachments, especially to many recipients at once, load the mail system and every recipient\'s mailbox; the guide asks to send links instead (R9).',
    fix: 'Put the file in a cloud share (or on a web server) and send a link to it instead of attaching it.',
  },
  {
    id: 'R9.attachments-too-large',
    guideRule: 'R9',
    severity: 'error',
    title: 'Attachments too large',
    why: 'Attachments of this size times the number of recipients overload the mail system and are rejected by many mailboxes; the guide asks to send links instead (R9).',
    fix: 'Put the file in a cloud share (or on a web server) and send a link to it instead of attaching it.',
  },
  // H1 — all headers correct
  {
    id: 'H1.missing-header',
    guideRule: 'H1',
    severity: 'error',
    title: 'Required header missing',
    why: 'All headers must be set to correct values (H1): RFC 5322 requires Date, a MIME message needs MIME-Version: 1.0, and a Message-ID is expected; without them mail is misdisplayed or scored as spam.',
    fix: `${LIBRARY_FIX} (Date, Message-ID and MIME-Version are set by any mail library).`,
  },
  {
    id: 'H1.duplicate-header',
    guideRule: 'H1',
    severity: 'error',
    title: 'Header appears more than once',
    why: 'RFC 5322 §3.6 and MIME allow this header only once; receivers pick different copies, which is how spoofed or misdisplayed mail arises, and Gmail rejects such mail (H1).',
    fix: 'Set the header exactly once; put several recipients in one To or Cc header, separated by commas.',
  },
  {
    id: 'H1.multiple-from-without-sender',
    guideRule: 'H1',
    severity: 'error',
    title: 'Several From addresses without a Sender header',
    why: 'RFC 5322 §3.6.2 requires a Sender header when From has more than one address, and providers reject or distrust such mail (H1).',
    fix: 'Use a single From address, or add a Sender header with the one address responsible for sending.',
  },
  {
    id: 'H1.raw-8bit-header',
    guideRule: 'H1',
    severity: 'error',
    title: 'Raw 8-bit characters in a header',
    why: 'Headers must be 7-bit ASCII unless every relay supports SMTPUTF8 (RFC 6532, valid UTF-8 only); otherwise the mail is rejected or its text garbled, and spam filters score raw 8-bit headers (H1).',
    fix: 'Encode non-ASCII text with RFC 2047 encoded-words (a mail library does this), or send only through a relay that supports SMTPUTF8.',
  },
  {
    id: 'H1.header-control-char',
    guideRule: 'H1',
    severity: 'error',
    title: 'Control character in a header',
    why: 'Control characters (NUL, escape, DEL, …) are not allowed in header fields; they break parsers and are a sign of header injection (H1).',
    fix: 'Remove control characters from header values; validate user input before it reaches a header.',
  },
  {
    id: 'H1.line-too-long',
    guideRule: 'H1',
    severity: 'error',
    title: 'Line longer than 998 octets',
    why: 'RFC 5322 §2.1.1 limits lines to 998 octets plus CRLF; relays reject such mail or break the lines, corrupting it (H1).',
    fix: 'Encode long body lines with quoted-printable or base64 (a mail library does this) and fold long headers.',
  },
  {
    id: 'H1.bare-newline',
    guideRule: 'H1',
    severity: 'error',
    title: 'Bare CR or LF line ending',
    why: 'Mail must use CRLF line endings only: a bare CR or LF is split differently by different servers, which is the basis of SMTP smuggling (CVE-2023-51764), and hardened relays reject it (H1).',
    fix: 'Normalise all line endings to CRLF before sending (a mail library does this), or encode the body with quoted-printable or base64.',
  },
  {
    id: 'H1.header-name-invalid',
    guideRule: 'H1',
    severity: 'error',
    title: 'Invalid header field name',
    why: 'A field name must consist of printable ASCII characters other than colon and space (RFC 5322 §3.6.8); other names are a sign of header injection and are rejected or misparsed (H1).',
    fix: 'Use a valid header name (letters, digits and hyphens) with no space before the colon.',
  },
  {
    id: 'H1.malformed-header',
    guideRule: 'H1',
    severity: 'error',
    title: 'Malformed header line',
    why: 'A header line that is neither "Name: value" nor a folded continuation ends the header section early for some software, which then shows the remaining headers in the body or drops them (H1).',
    fix: 'Write each header as Name: value; begin continuation lines with a space or tab; separate headers and body with one empty line.',
  },
  {
    id: 'H1.address-syntax',
    guideRule: 'H1',
    severity: 'warning',
    title: 'Address field is not a plain, valid address list',
    why: 'Addresses in To, Cc, Bcc, Reply-To and Sender should be plain and valid (H1); quoted local parts, comments, IP literals and malformed lists are routed differently by different software and are a known injection vector.',
    fix: 'Write addresses as Name <local@domain> with plain local parts and real domains, separated by commas.',
  },
  {
    id: 'H1.from-display-name-address',
    guideRule: 'H1',
    severity: 'warning',
    title: 'Display name contains an e-mail address',
    why: 'A display name that contains an address looks like spoofing (the address shown is not the real sender) and is scored heavily by spam filters (H1).',
    fix: 'Use a plain name as the display name, e.g. From: Jane Doe <jane.doe@example.org>.',
  },
  {
    id: 'H1.unresolved-template',
    guideRule: 'H1',
    severity: 'warning',
    title: 'Template placeholder left in a header',
    why: 'Placeholders such as {{name}}, ${name}, %NAME% or [object Object] in the headers show a template bug: recipients see garbage, and spam filters score it (SpamAssassin UNRESOLVED_TEMPLATE) (H1).',
    fix: 'Fill in every template variable before sending, and check for undefined values.',
  },
  {
    id: 'H1.undeclared-8bit-body',
    guideRule: 'H1',
    severity: 'warning',
    title: '8-bit body without an 8-bit transfer encoding',
    why: 'Body bytes above 127 must be declared with Content-Transfer-Encoding: 8bit (and need a relay with 8BITMIME) or be encoded; undeclared 8-bit text may be garbled or rejected (H1).',
    fix: 'Encode the text with quoted-printable (readable, as the guide\'s sample does) or base64; a mail library does this.',
  },
  // H2 — a correct, current Date
  {
    id: 'H2.date-missing',
    guideRule: 'H2',
    severity: 'error',
    title: 'Date header missing',
    why: 'The Date header must be present and correct (H2); mail without it is scored as spam (SpamAssassin MISSING_DATE) and sorted wrongly.',
    fix: 'Generate the Date header with a mail library at the moment of sending.',
    submissionOnly: true,
  },
  {
    id: 'H2.date-invalid',
    guideRule: 'H2',
    severity: 'error',
    title: 'Date header is not a valid RFC 5322 date',
    why: 'The Date header must be syntactically correct (H2); an invalid date is misdisplayed, sorted wrongly and scored as spam.',
    fix: 'Generate the Date with a mail library, in the form Tue, 14 Jan 2025 10:00:00 +0100.',
    submissionOnly: true,
  },
  {
    id: 'H2.date-skew',
    guideRule: 'H2',
    severity: 'error',
    title: 'Date too far in the past or future',
    why: 'The Date must be neither in the past nor in the future (H2): a wrong clock, a wrong time zone or a Date set when a job was created instead of sent is scored as spam and sorts the mail wrongly.',
    fix: 'Set the Date when the mail is submitted, with a mail library, and keep the host clock synchronised (NTP) with the right time zone.',
    submissionOnly: true,
  },
  // H3 — a library-generated Message-ID
  {
    id: 'H3.message-id-missing',
    guideRule: 'H3',
    severity: 'error',
    title: 'Message-ID header missing',
    why: 'The Message-ID should be generated by a library (H3); without it replies and threads break, duplicates cannot be detected and spam filters score the mail.',
    fix: 'Let a mail library generate the Message-ID, e.g. <unique-random-id@your-mail-domain.example>.',
    submissionOnly: true,
  },
  {
    id: 'H3.message-id-invalid',
    guideRule: 'H3',
    severity: 'error',
    title: 'Message-ID is malformed',
    why: 'A Message-ID must have the form <left@right> without spaces (RFC 5322 §3.6.4); a malformed one breaks threading and is scored as spam (SpamAssassin INVALID_MSGID) (H3).',
    fix: 'Let a mail library generate the Message-ID, e.g. <unique-random-id@your-mail-domain.example>.',
    submissionOnly: true,
  },
  {
    id: 'H3.message-id-domain',
    guideRule: 'H3',
    severity: 'warning',
    title: 'Message-ID uses a local host name',
    why: 'A Message-ID with localhost or an unqualified host name after the @ is not globally unique and is typical of misconfigured software (H3).',
    fix: 'Generate the Message-ID with your mail domain (or the host\'s fully qualified name) after the @.',
    submissionOnly: true,
  },
  // H5 — the guide's sample
  {
    id: 'H5.subject-missing',
    guideRule: 'H5',
    severity: 'warning',
    title: 'Subject missing or empty',
    why: 'The guide\'s sample sets a Subject (H5); mail without one is hard to recognise and is scored as spam (SpamAssassin MISSING_SUBJECT).',
    fix: 'Set a Subject that says what the mail is about.',
  },
  {
    id: 'H5.to-missing',
    guideRule: 'H5',
    severity: 'warning',
    title: 'To header missing',
    why: 'The guide\'s sample sets To (H5); mail without To is scored as spam (SpamAssassin MISSING_HEADERS).',
    fix: 'Set To; when all recipients are in Bcc, use To: undisclosed-recipients:; or your own address.',
  },
  {
    id: 'H5.from-without-name',
    guideRule: 'H5',
    severity: 'warning',
    title: 'From has no display name',
    why: 'The guide\'s sample formats From as Name <address> (H5), so that recipients see at a glance who writes.',
    fix: 'Add a display name, e.g. From: Team Name <team@example.org>.',
  },
] as const satisfies readonly RuleDefinition[];

/** Every rule ID. */
export type RuleId = (typeof RULE_TABLE)[number]['id'];

/** The rule table (frozen data, in report order). */
export const RULES: readonly RuleDefinition[] = Object.freeze(RULE_TABLE.map((r) => Object.freeze({ ...r }) as RuleDefinition));

const BY_ID = new Map<string, RuleDefinition>(RULES.map((r) => [r.id, r]));
const ORDER = new Map<string, number>(RULES.map((r, i) => [r.id, i]));

/** The rule with this ID, or undefined. */
export function getRule(id: string): RuleDefinition | undefined {
  return BY_ID.get(id);
}

/** Is this a known rule ID (for config validation of `policy.severity`)? */
export function isRuleId(id: string): id is RuleId {
  return BY_ID.has(id);
}

/** Position of a rule in the table (for stable sorting); unknown IDs sort last. */
export function ruleOrder(id: string): number {
  return ORDER.get(id) ?? RULES.length;
}

/** The guide rules that have lint rules, e.g. `['R1', 'R2', …]` (valid `policy.severity` keys too). */
export const GUIDE_RULES: readonly string[] = Object.freeze([...new Set(RULES.map((r) => r.guideRule))]);
