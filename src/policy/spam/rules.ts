/**
 * The spam preflight's built-in rules (guide rule R6), as data.
 *
 * Each rule mirrors a SpamAssassin and/or rspamd test that machine-composed mail
 * typically trips. Points are our own, chosen within the range of the real scores:
 * SpamAssassin's four score sets (no network/no Bayes … network+Bayes, `rules/50_scores.cf`)
 * and rspamd's default weights. They add up like a real filter's; the default threshold
 * (5.0) is SpamAssassin's `required_score`.
 *
 * Rule IDs (`SPAM.…`) are public surface (`--json`, docs): never rename one.
 */

export interface SpamRuleDefinition {
  /** e.g. `SPAM.MISSING_DATE`. */
  id: string;
  /** The SpamAssassin / rspamd rule(s) it mirrors, with their scores. */
  mirrors: string;
  /** Points added when the rule fires. */
  points: number;
  /** What is wrong, short (no final period). */
  title: string;
  /** Why filters score it. */
  why: string;
  /** A concrete fix. */
  fix: string;
}

const TABLE: SpamRuleDefinition[] = [
  // --- Date
  {
    id: 'SPAM.MISSING_DATE',
    mirrors: 'SA MISSING_DATE 2.7/1.4/1.8/1.4; rspamd MISSING_DATE 1.0',
    points: 1.4,
    title: 'No Date header',
    why: 'Every real mail client writes a Date; mail without one is typical of hand-rolled spamware.',
    fix: 'Let the mail library set Date at submission time (sendwell does when it composes).',
  },
  {
    id: 'SPAM.INVALID_DATE',
    mirrors: 'rspamd INVALID_DATE 1.5',
    points: 1.5,
    title: 'Date header cannot be parsed',
    why: 'A Date that is not RFC 5322 syntax is typical of broken or home-made mailers.',
    fix: 'Write Date in RFC 5322 form, e.g. "Fri, 04 Dec 2026 18:30:00 +0000" (let the library format it).',
  },
  {
    id: 'SPAM.DATE_IN_FUTURE',
    mirrors: 'rspamd DATE_IN_FUTURE 4.0 (>2 h); SA DATE_IN_FUTURE_03_06…48_96 2.4–3.4',
    points: 3.0,
    title: 'Date is more than 2 hours in the future',
    why: 'Filters compare Date with the time the mail is received; a future Date is usually a wrong clock or time zone, and spam uses it to stay on top of the inbox.',
    fix: 'Fix the clock (NTP) and the time zone; set Date when the mail is submitted.',
  },
  {
    id: 'SPAM.DATE_IN_PAST',
    mirrors: 'SA DATE_IN_PAST_03_06…96_XX 1.1–3.4; rspamd DATE_IN_PAST 1.0 (>24 h)',
    points: 1.5,
    title: 'Date is more than 3 hours in the past',
    why: 'Filters compare Date with the time the mail is received; a stale Date (e.g. set when a queued job was created, not when it was sent) looks like replayed spam.',
    fix: 'Set Date when the mail is submitted, not when the job or draft was created.',
  },
  // --- Message-ID
  {
    id: 'SPAM.MISSING_MID',
    mirrors: 'SA MISSING_MID 0.6/0.1/1.2/0.5; rspamd MISSING_MID 2.5',
    points: 1.5,
    title: 'No Message-ID header',
    why: 'Real mail clients always write a Message-ID; relays that add one on the way mark the mail as coming from a crude sender.',
    fix: 'Let the mail library generate Message-ID as <unique@your.domain>.',
  },
  {
    id: 'SPAM.INVALID_MSGID',
    mirrors: 'SA INVALID_MSGID 2.6/1.2/1.3/0.6, MSGID_SHORT; rspamd INVALID_MSGID 1.7, MID_RHS_NOT_FQDN 0.5',
    points: 1.7,
    title: 'Message-ID is malformed, very short or not at a domain name',
    why: 'A Message-ID must be <left@right> with a fully qualified domain on the right; malformed or @localhost IDs are typical of scripts and spamware.',
    fix: 'Generate Message-ID as <random-unique-part@your.real.domain>.',
  },
  // --- addresses
  {
    id: 'SPAM.MISSING_TO',
    mirrors: 'SA MISSING_HEADERS 0.9/1.2/1.2/1.0; rspamd MISSING_TO 2.0',
    points: 1.5,
    title: 'No To header',
    why: 'Mail sent only to Bcc recipients (typical of cron mail and mass mailings) has no To; filters score that.',
    fix: 'Put the recipient (or, for a list sent by Bcc, your own address) in To.',
  },
  {
    id: 'SPAM.FROM_SERVICE_ACCT',
    mirrors: 'rspamd FROM_SERVICE_ACCT 1.0, ENVFROM_SERVICE_ACCT 1.0 (compromised_hosts.lua)',
    points: 1.0,
    title: 'Sender is a service account (www-data@, root@, nobody@, …)',
    why: 'Mail from web-server or system accounts is the fingerprint of a compromised web application or a PHP mail() script.',
    fix: 'Send from a real, monitored mailbox (set From and the envelope sender explicitly).',
  },
  {
    id: 'SPAM.FROM_BLANK_NAME',
    mirrors: 'SA FROM_BLANK_NAME 2.1/2.1/2.1/0.7',
    points: 1.0,
    title: 'From has an empty quoted display name',
    why: '`From: "" <addr>` is written by templates whose name variable was empty; spamware does the same.',
    fix: 'Give the sender a name (e.g. "Jane Doe <jane@example.org>") or leave the name out entirely.',
  },
  // --- Subject
  {
    id: 'SPAM.MISSING_SUBJECT',
    mirrors: 'SA MISSING_SUBJECT 0.0/1.8/1.3/1.8; rspamd MISSING_SUBJECT 2.0, EMPTY_SUBJECT 1.0',
    points: 1.5,
    title: 'No Subject, or an empty one',
    why: 'Legitimate mail has a subject; filters score missing and empty ones.',
    fix: 'Write a short subject that says what the mail is about.',
  },
  {
    id: 'SPAM.SUBJ_ALL_CAPS',
    mirrors: 'SA SUBJ_ALL_CAPS 0.5; rspamd SUBJ_ALL_CAPS 3.0',
    points: 1.5,
    title: 'Subject is all capitals',
    why: 'Shouting subjects are a classic spam sign (SpamAssassin checks subjects of 10+ letters with a space, Re:/Fwd: stripped).',
    fix: 'Write the subject in normal case.',
  },
  {
    id: 'SPAM.URL_IN_SUBJECT',
    mirrors: 'rspamd URL_IN_SUBJECT 4.0',
    points: 2.0,
    title: 'Subject contains a URL',
    why: 'A link in the subject is a typical web-form spam vector (a visitor-controlled field copied into the subject).',
    fix: 'Keep links in the body; never copy user input into the subject unchecked (R10).',
  },
  {
    id: 'SPAM.EXCESS_ENCODED_HEADER',
    mirrors: 'SA FROM_EXCESS_BASE64 0.001; rspamd FROM_EXCESS_BASE64 1.5, SUBJ_EXCESS_BASE64 1.5, *_EXCESS_QP 1.2',
    points: 1.5,
    title: 'From or Subject is MIME-encoded although it is plain ASCII',
    why: 'Encoding plain ASCII text as =?…?B?…?= hides words from simple filters, so filters score it.',
    fix: 'Encode header text only when it has non-ASCII characters (mail libraries do this by themselves).',
  },
  {
    id: 'SPAM.XPRIO',
    mirrors: 'SA XPRIO 2.25 (sandbox, limit), XPRIO_SHORT_SUBJ 2.5',
    points: 1.0,
    title: 'X-Priority header set',
    why: 'Marking mail as urgent is common in spam and rare in legitimate automated mail.',
    fix: 'Leave out X-Priority / Importance headers.',
  },
  {
    id: 'SPAM.UNRESOLVED_TEMPLATE',
    mirrors: 'SA UNRESOLVED_TEMPLATE 3.0/0.7/2.4/1.3',
    points: 2.5,
    title: 'Unresolved template variable',
    why: 'A placeholder such as %NAME%, {{name}} or ${name} left in the mail shows a broken mail merge — a strong spam sign, and the recipient sees it.',
    fix: 'Fill every template variable before sending, and fail the job when one is missing.',
  },
  // --- MIME and body
  {
    id: 'SPAM.MISSING_MIME_VERSION',
    mirrors: 'rspamd MISSING_MIME_VERSION 2.0; SA MIME_HEADER_CTYPE_ONLY 0.1',
    points: 1.0,
    title: 'Content-Type without MIME-Version',
    why: 'A MIME message must say MIME-Version: 1.0; its absence marks a hand-written header.',
    fix: 'Add MIME-Version: 1.0 (or let a mail library build the message).',
  },
  {
    id: 'SPAM.EMPTY_MESSAGE',
    mirrors: 'SA EMPTY_MESSAGE 2.2/2.3/1.6/2.3',
    points: 2.0,
    title: 'No text at all',
    why: 'A mail with no readable text and no attachment carries no message; spam probes look like that.',
    fix: 'Write a body that says what the mail is about.',
  },
  {
    id: 'SPAM.MIME_HTML_ONLY',
    mirrors: 'SA MIME_HTML_ONLY 0.1, HTML_MIME_NO_HTML_TAG; rspamd MIME_HTML_ONLY 0.2, MIME_MA_MISSING_TEXT 2.0',
    points: 1.0,
    title: 'HTML only, no plain-text part',
    why: 'Legitimate mailers send a text/plain alternative (the guide requires it, R7); HTML-only mail is scored.',
    fix: 'Send multipart/alternative with a text/plain part generated from the HTML.',
  },
  {
    id: 'SPAM.MPART_ALT_DIFF',
    mirrors: 'SA MPART_ALT_DIFF 2.2/0.7/0.6/0.8, MPART_ALT_DIFF_COUNT 2.8/1.5/1.2/1.1; rspamd R_PARTS_DIFFER ≤1.0',
    points: 1.5,
    title: 'Text and HTML parts differ a lot',
    why: 'The two alternatives must say the same thing; when most words of one are missing in the other, filters suspect the text part is a decoy.',
    fix: 'Generate the text part from the HTML (not the other way round, and without extra content).',
  },
  {
    id: 'SPAM.HTML_IMAGE_ONLY',
    mirrors: 'SA HTML_IMAGE_ONLY_04…_32 1.2–2.8 (e.g. _04 1.7/0.3/1.8/1.2); rspamd HTML_SHORT_LINK_IMG_1 2.0',
    points: 1.5,
    title: 'HTML is images with almost no text',
    why: 'Image-only mail hides its content from text filters; SpamAssassin scores images with less than 400 characters of text highest.',
    fix: 'Put the message in text; use images only as decoration, with real text next to them.',
  },
  {
    id: 'SPAM.UPPERCASE_BODY',
    mirrors: 'SA UPPERCASE_50_75 0.0/0.8/0.0/0.0, UPPERCASE_75_100 1.5/1.2/0.0/0.0',
    points: 1.0,
    title: 'Body text is mostly capitals',
    why: 'Shouting bodies are a classic spam sign.',
    fix: 'Write the text in normal case.',
  },
  {
    id: 'SPAM.DEAR_SOMETHING',
    mirrors: 'SA DEAR_SOMETHING 2.0/1.7/1.8/2.0, DEAR_FRIEND 2.7/2.6/1.8/2.6',
    points: 1.5,
    title: 'Generic salutation ("Dear customer", "Dear friend")',
    why: 'Impersonal salutations are typical of bulk spam and phishing.',
    fix: 'Address the recipient by name, or start without a salutation.',
  },
  // --- URLs
  {
    id: 'SPAM.HTTP_TO_IP',
    mirrors: 'SA NUMERIC_HTTP_ADDR 0/0/0/1.2, NORMAL_HTTP_TO_IP 0.2/0/0.8/0; rspamd HTTP_TO_IP 1.0',
    points: 1.0,
    title: 'Link to a raw IP address',
    why: 'Links to http://203.0.113.7/ instead of a host name are typical of phishing and of self-hosted apps without DNS; filters score them.',
    fix: 'Give the service a DNS name (and a certificate for it) and link to that.',
  },
  {
    id: 'SPAM.URL_SHORTENER',
    mirrors: 'SA URL_SHORTENER_DISABLED 2.0, SHORT_SHORTNER 2.0 (limit)',
    points: 1.5,
    title: 'Link through a URL shortener (bit.ly, tinyurl.com, …)',
    why: 'Shorteners hide where a link goes; spammers use them to dodge domain blocklists, so filters score them.',
    fix: 'Link to your own domain directly.',
  },
];

for (const r of TABLE) Object.freeze(r);

/** The built-in rules, in documentation order. */
export const SPAM_RULES: readonly SpamRuleDefinition[] = Object.freeze(TABLE);

const BY_ID = new Map(SPAM_RULES.map((r) => [r.id, r]));

export type SpamRuleId = (typeof TABLE)[number]['id'];

export function getSpamRule(id: string): SpamRuleDefinition | undefined {
  return BY_ID.get(id);
}
