/**
 * The bounce rule table: what a refusal or a delivery status notification
 * means, as data. `classify()` (classify.ts) walks it top to bottom and the
 * first rule whose conditions all hold wins; the last rule matches anything.
 *
 * Every rule decides on two axes (issue 5, research notes §1.3):
 *   - retry:  would sending again help (the server said "later", not "never")?
 *   - blame:  whose problem is it? `recipient` (a dead or full mailbox),
 *             `sender-setup` (OUR setup: block lists, SPF/DKIM/DMARC, reverse
 *             DNS, relay, envelope sender — alert the operator, never suppress
 *             the recipient), `content` (this message), `transient` (load,
 *             greylisting, rate limits) or `unknown`.
 * and on suppression: `now` for a hard, recipient-level failure (only when the
 * input is confident: a standard DSN field or the server's own SMTP reply —
 * heuristic parses are turned into `count`), `count` towards the soft-bounce
 * threshold, or `never`.
 *
 * Order matters:
 *   1. the report kind (complaint, auto-reply, delay, not a bounce);
 *   2. texts that put the blame on our envelope sender or are plainly
 *      greylisting, whatever code came with them;
 *   3. exact RFC 3463 enhanced status codes (RFC 3463, RFC 7372, RFC 7505 and
 *      the IANA registry), most specific first;
 *   4. texts about our own setup (block lists, authentication, TLS, relay);
 *   5. rate limits, then the rest of x.7.x (policy);
 *   6. texts about the recipient (unknown user or domain, quota, size) for
 *      replies that carry no useful enhanced code;
 *   7. bare reply codes (RFC 5321, RFC 7504);
 *   8. the class alone (4 = try again, 5 = give up), then a catch-all.
 *
 * Texts are recognised in English, German and French (localised Exchange and
 * gateways: "Empfänger unbekannt", "Postfach voll", "Destinataire inconnu").
 *
 * Each rule has a `why` (the source or reasoning) and at least one example
 * input that lands on exactly that rule (rules.test.ts checks this).
 */
import type { BounceCategory, Classification } from './classify.js';
import type { BounceKind } from './parse.js';

/** What classify() is asked about (the same shape as its parameter). */
export interface ClassifyInput {
  /** RFC 3463 enhanced status code (`5.1.1`), e.g. a DSN's `Status` field. */
  status?: string;
  /** SMTP reply code (550); taken from the diagnostic text when missing. */
  code?: number;
  /** The server's text, e.g. a DSN `Diagnostic-Code` or an SMTP reply line. */
  diagnostic?: string;
  kind?: BounceKind;
  /** A standard DSN/ARF field or the server's own reply (not a heuristic parse). */
  confident?: boolean;
}

/** The class of a failure: the first digit of the enhanced code, else of the reply code. */
export type StatusClass = '2' | '4' | '5' | 'none';

/** All given conditions must hold. */
export interface RuleMatch {
  kind?: readonly BounceKind[];
  /** Enhanced status codes: exact (`5.1.1`) or with a wildcard detail (`5.7.*`). */
  status?: readonly string[];
  /** SMTP reply codes. */
  code?: readonly number[];
  cls?: readonly StatusClass[];
  /** Tested against the diagnostic text (without its `smtp;` type). */
  text?: RegExp;
}

export interface BounceRule {
  /** Stable ID, shown in logs and operator alerts: `B.` + the enhanced code, or a short name. */
  id: string;
  match: RuleMatch;
  category: BounceCategory;
  retry: boolean;
  blame: Classification['blame'];
  /** For a confident input; classify() turns `now` into `count` for heuristic parses. */
  suppress: Classification['suppress'];
  reason: string;
  why: string;
  examples: readonly ClassifyInput[];
}

// --- text patterns (kept here so the table stays readable) ---------------------------------

/**
 * German and French texts (localised Exchange, Exim and Postfix, and the gateways in front of
 * them) as regex source: umlauts and accents match also when a gateway wrote them out
 * (`Empfaenger`, `groesse`, `boite`), and ' matches the typographic ’ too.
 */
function localised(src: string): string {
  const spelled: Record<string, string> = { ä: '(?:ä|ae)', ö: '(?:ö|oe)', ü: '(?:ü|ue)', ß: '(?:ß|ss)', é: '[ée]', è: '[èe]', ê: '[êe]', î: '[îi]', ô: '[ôo]', "'": "['’]" };
  return src.replace(/[äöüßéèêîô']/g, (c) => spelled[c]!);
}

/** One case-insensitive pattern: English as a RegExp, German and French as localised() source. */
function anyOf(english: RegExp, ...other: string[]): RegExp {
  return new RegExp([english.source, ...other.map(localised)].join('|'), 'i');
}

const SENDER_REJECTED = anyOf(
  /sender address rejected|sender (?:address )?verif(?:y|ication) failed|sender domain (?:not found|must resolve|does not exist)|invalid sender|sender (?:address )?(?:is )?(?:not allowed|refused|denied|blacklisted)|bad sender|return[- ]path (?:rejected|invalid)/i,
  String.raw`absender(?:adresse|domäne)? (?:wurde )?(?:abgelehnt|ungültig|unbekannt|nicht (?:erlaubt|zulässig))|ungültiger absender`,
  String.raw`(?:adresse (?:de l'|d')?)?expéditeur (?:est )?(?:refusée?|rejetée?|invalide|inconnue?|non autorisée?)`,
);
const GREYLIST = /gr[ae]y[- ]?list/i;
const NULL_MX = /null[- ]?mx/i;
/** Exim's final bounce after retries: Status 5.0.0, though the server only ever answered 4xx. */
const RETRY_TIMEOUT = /retry timeout exceeded|retry time not reached for any host after a long failure period/i;
const DBEB_ACCESS_DENIED = /recipient address rejected: access denied/i;
const BLOCKLIST =
  /\b(?:block ?list(?:ed)?|black ?list(?:ed)?|blocked using|listed (?:at|on|in|by)|dnsbl|rbl|spamhaus|spamcop|sorbs|barracuda|(?:poor|bad|low) (?:sender |ip )?reputation|banned sending ip|ip (?:address )?(?:is )?(?:blocked|banned|listed))\b/i;
const SPF = /\bspf\b/i;
const DKIM = /\bdkim\b/i;
const DMARC = /\bdmarc\b/i;
const AUTH = /authentication (?:is )?required|\bunauthenticated\b|not authenticated|fails? to pass authentication|authentication checks? (?:did not pass|failed)/i;
const PTR = /reverse (?:dns|lookup|hostname|dns lookup)|\bptr\b|\brdns\b|cannot find your (?:reverse )?hostname|(?:client|helo) hostname (?:does not|doesn't) match/i;
const TLS = /(?:must|should) (?:issue a )?starttls|starttls (?:is )?required|\btls (?:is )?required|requires? (?:tls|encryption)|encryption (?:is )?required|\brequiretls\b/i;
const RELAY = anyOf(
  /relay(?:ing)? (?:access )?(?:denied|not permitted|not allowed|prohibited)|not permitted to relay|unable to relay|we do not relay/i,
  String.raw`relaying (?:ist )?(?:nicht erlaubt|verweigert|abgelehnt|nicht gestattet)`,
  String.raw`relais (?:refusé|non autorisé|interdit)`,
);
const SPAM = /\bspam\b|junk mail|unsolicited|\bphish|message (?:rejected|refused|blocked) (?:as|due to|because|for)|rejected for policy reasons|content (?:rejected|filter)/i;
const RATE =
  /rate[- ]limit|too many (?:messages|mails|emails|connections|recipients|concurrent)|too (?:fast|quickly)|throttl|slow down|unusual (?:rate|volume)|temporarily deferred|deferred due to|(?:sending|message|connection) (?:rate|limit) exceeded|exceeded (?:the )?(?:sending |message |connection )?(?:rate|limit)/i;
const USER_UNKNOWN = anyOf(
  /user(?:name)? unknown|unknown (?:user|recipient|local[- ]part|mailbox|alias)|no such (?:user|mailbox|recipient|account|address)|(?:user|mailbox|recipient|address|account)\b[^.;:]{0,40}\b(?:does not|doesn't|did not) exist|(?:recipient|address|mailbox|user|account) (?:was )?not found|recipientnotfound|recipnotfound|address (?:couldn't|could not|cannot|can't) be found|invalid (?:recipient|mailbox)|not a valid (?:mailbox|recipient|user)|no mailbox here by that name|unrouteable local part|(?:account|mailbox) (?:has been |is )?(?:disabled|closed|deactivated|terminated|inactive)|no longer (?:valid|active|in use)|(?:does not|doesn't) have an? (?:[\w.-]+ )?account|user not local|bad destination mailbox/i,
  String.raw`(?:empfänger|benutzer|nutzer|postfach|adressat)(?:adresse|name)? (?:ist )?unbekannt|unbekannte[rs]? (?:empfänger|benutzer|postfach|adresse)|(?:empfänger|benutzer|postfach|e-?mail-?adresse|adresse|konto)\S* (?:existiert nicht|(?:ist )?nicht vorhanden|(?:wurde )?nicht gefunden|ist ungültig)|kein(?:e|en)? (?:solche[rns]? )?(?:benutzer|postfach|empfänger) (?:mit diesem namen|vorhanden|gefunden)|(?:postfach|konto) (?:wurde |ist )?(?:deaktiviert|gelöscht|geschlossen)`,
  String.raw`(?:destinataire|utilisateur|adresse) (?:est )?inconnue?|(?:adresse|boîte (?:aux lettres|mail)|compte|utilisateur|destinataire)[^.;:]{0,50}? (?:introuvable|inexistante?|n'existe (?:pas|plus))|aucun(?:e)? (?:utilisateur|boîte aux lettres|destinataire) (?:de ce nom|correspondant)|(?:compte|boîte aux lettres) (?:a été |est )?(?:désactivée?|supprimée?|fermée?)`,
);
const DOMAIN_UNKNOWN = anyOf(
  /(?:host|domain)(?: name)? not found|no such domain|\bnxdomain\b|unrouteable (?:mail )?domain|unrouteable address|domain (?:does not|doesn't) exist|all relevant mx records point to non-existent hosts|no (?:valid )?mx (?:record|host)|unknown domain|bad destination system address/i,
  String.raw`(?:domain|domäne|zieldomäne)(?: \S+)? (?:existiert nicht|ist unbekannt|unbekannt|(?:wurde )?nicht gefunden)|unbekannte (?:domain|domäne)|(?:host|rechner|server)(?:name)? (?:wurde )?nicht gefunden`,
  String.raw`domaine (?:de destination )?(?:\S+ )?(?:est )?(?:inconnu|inexistant|introuvable|n'existe pas)|nom de domaine (?:inconnu|introuvable|inexistant)|hôte (?:inconnu|introuvable)`,
);
const QUOTA = anyOf(
  /mailbox (?:is )?full|mail ?box (?:size|storage) limit|over ?quota|quota (?:exceeded|full|reached)|exceeded (?:the |its |their )?(?:storage|quota)|(?:mail|in)box (?:has )?(?:exceeded|reached) (?:the |its )?(?:size|storage|quota|limit)|disk quota|out of storage space/i,
  String.raw`(?:post|e-?mail-?)fach (?:des empfängers )?(?:ist )?(?:voll|überfüllt)|(?:speicher(?:platz)?|speicherkontingent|kontingent|quota|postfachgröße)\S* (?:ist )?(?:überschritten|erschöpft|voll)`,
  String.raw`boîte (?:aux lettres|mail|de réception)(?: du destinataire)? (?:est )?(?:pleine|saturée)|(?:quota|espace de stockage)[^.;:]{0,20}? (?:dépassé|atteint|plein|insuffisant)`,
);
const SIZE = anyOf(
  /message (?:size |length )?(?:exceeds|is too (?:large|big|long)|too (?:large|big))|(?:size|length) (?:limit )?exceeds?|exceeds? (?:the )?(?:maximum|max\.?|fixed|allowed|size|message size)|(?:message|mail) size limit|maximum message size|message too large/i,
  String.raw`(?:nachricht|e-?mail|anhang)\S* (?:ist )?zu groß|(?:nachrichten|maximale )\S*größe[^.;:]{0,30}? überschritten|größenbeschränkung`,
  String.raw`message (?:est )?trop (?:volumineux|gros|grand)|dépasse la taille (?:maximale|autorisée|limite)|taille (?:maximale )?(?:du message )?(?:autorisée )?dépassée`,
);

export const BOUNCE_RULES: readonly BounceRule[] = [
  // 1. the kind of report ------------------------------------------------------------------
  {
    id: 'B.complaint',
    match: { kind: ['complaint'] },
    category: 'complaint',
    retry: false,
    blame: 'recipient',
    suppress: 'now',
    reason: 'the recipient reported the message as spam (feedback report)',
    why: 'RFC 5965 ARF report. listmonk blocklists on the first complaint, Postmark deactivates, SES suppresses on COMPLAINT (notes §1.2, §1.5): mailing again harms reputation.',
    examples: [{ kind: 'complaint', confident: true }],
  },
  {
    id: 'B.auto-reply',
    match: { kind: ['auto-reply'] },
    category: 'other',
    retry: false,
    blame: 'unknown',
    suppress: 'never',
    reason: 'an automatic reply (out of office), not a bounce',
    why: 'RFC 3834 auto-replies (Auto-Submitted: auto-replied) say the mailbox exists; sisimai treats "vacation" as neither hard nor soft.',
    examples: [{ kind: 'auto-reply' }],
  },
  {
    id: 'B.not-a-bounce',
    match: { kind: ['not-a-bounce'] },
    category: 'other',
    retry: false,
    blame: 'unknown',
    suppress: 'never',
    reason: 'not a bounce',
    why: 'Ordinary mail, success notices and read receipts reach the bounce address too; they must not count against anyone.',
    examples: [{ kind: 'not-a-bounce', diagnostic: 'Thanks, got it.' }],
  },
  {
    id: 'B.delay',
    match: { kind: ['delay'] },
    category: 'temporary',
    retry: true,
    blame: 'transient',
    suppress: 'never',
    reason: 'delivery is delayed; the remote system is still trying',
    why: 'RFC 3464 Action: delayed is a warning, not a final failure; the final bounce (if any) comes later and counts then.',
    examples: [{ kind: 'delay', status: '4.4.1', diagnostic: 'smtp; 421 4.4.1 connection timed out' }],
  },

  // 2. texts that decide whatever the code -------------------------------------------------
  {
    id: 'B.sender-rejected',
    match: { text: SENDER_REJECTED },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'the receiving system refused our envelope sender (bounce address)',
    why: 'Guide R3: the envelope sender must be valid. "Sender address rejected" (Postfix reject_unknown_sender_domain, sender verification) is about our address even when the code is 5.1.1 or 4.1.1.',
    examples: [
      { status: '5.1.0', diagnostic: 'smtp; 550 5.1.0 <bounces@bounces.example.org>: Sender address rejected: Domain not found', confident: true },
      { status: '4.1.1', diagnostic: 'smtp; 450 4.1.1 <bounces@bounces.example.org>: Sender address rejected: undeliverable address' },
      { code: 550, diagnostic: '550 Absenderadresse abgelehnt: bounces@bounces.example.org' },
      { code: 550, diagnostic: "550 Adresse de l'expéditeur refusée" },
    ],
  },
  {
    id: 'B.greylist',
    match: { cls: ['4'], text: GREYLIST },
    category: 'temporary',
    retry: true,
    blame: 'transient',
    suppress: 'never',
    reason: 'greylisted; a later attempt will be accepted',
    why: 'Greylisting defers the first attempt from an unknown sender on purpose (ZoneMTA: defer/greylist); it says nothing about the recipient.',
    examples: [{ diagnostic: '451 4.7.1 <jdoe@example.org>: Recipient address rejected: Greylisted, see https://postgrey.example.org/' }],
  },

  // 3. exact enhanced status codes ---------------------------------------------------------
  {
    id: 'B.5.1.8',
    match: { status: ['5.1.7', '5.1.8', '4.1.7', '4.1.8'] },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: "the sender's address or domain was refused",
    why: "RFC 3463 x.1.7 (bad sender's mailbox address syntax) and x.1.8 (bad sender's system address): our envelope sender, not the recipient (guide R3).",
    examples: [{ status: '5.1.8', diagnostic: 'smtp; 553 5.1.8 <bounces@bounces.example.org>: Domain of sender address does not resolve', confident: true }],
  },
  {
    id: 'B.5.1.10.null-mx',
    match: { status: ['5.1.10'], text: NULL_MX },
    category: 'unknown-domain',
    retry: false,
    blame: 'recipient',
    suppress: 'now',
    reason: "the recipient's domain accepts no mail (null MX)",
    why: 'RFC 7505: a null MX ("MX 0 .") declares that the domain never receives mail; status 5.1.10.',
    examples: [{ status: '5.1.10', diagnostic: 'X-Postfix; Domain example.invalid does not accept mail (nullMX)', confident: true }],
  },
  {
    id: 'B.5.1.1',
    match: { status: ['5.1.1'] },
    category: 'unknown-user',
    retry: false,
    blame: 'recipient',
    suppress: 'now',
    reason: 'the mailbox does not exist',
    why: 'RFC 3463 5.1.1 bad destination mailbox address; sisimai "userunknown" (hard), ZoneMTA reject/recipient.',
    examples: [
      { status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 <jdoe@example.org>: Recipient address rejected: User unknown', confident: true },
      { status: '5.0.0', diagnostic: 'smtp; 550 5.1.1 <jdoe@example.org>... User unknown', confident: true },
      { code: 550, diagnostic: '550 5.1.1 The email account that you tried to reach does not exist.', confident: false },
    ],
  },
  {
    id: 'B.5.1.3',
    match: { status: ['5.1.3'] },
    category: 'unknown-user',
    retry: false,
    blame: 'recipient',
    suppress: 'now',
    reason: 'the recipient address is not valid',
    why: 'RFC 3463 5.1.3 bad destination mailbox address syntax: the address can never receive mail; sisimai "userunknown".',
    examples: [{ status: '5.1.3', diagnostic: 'smtp; 501 5.1.3 Bad recipient address syntax', confident: true }],
  },
  {
    id: 'B.5.1.6',
    match: { status: ['5.1.6'] },
    category: 'unknown-user',
    retry: false,
    blame: 'recipient',
    suppress: 'now',
    reason: 'the mailbox has moved and has no forwarding address',
    why: 'RFC 3463 5.1.6 destination mailbox has moved, no forwarding address; sisimai "hasmoved" (hard).',
    examples: [{ status: '5.1.6', diagnostic: 'smtp; 551 5.1.6 User has moved; no forwarding address', confident: true }],
  },
  {
    id: 'B.5.1.10',
    match: { status: ['5.1.10'] },
    category: 'unknown-user',
    retry: false,
    blame: 'recipient',
    suppress: 'now',
    reason: 'the recipient was not found',
    why: 'Microsoft Exchange/Outlook use 5.1.10 for RESOLVER.ADR.RecipientNotFound (no such recipient); the IANA meaning, null MX, is caught by B.5.1.10.null-mx above. Either way the address cannot receive mail.',
    examples: [{ status: '5.1.10', diagnostic: "smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", confident: true }],
  },
  {
    id: 'B.5.1.0',
    match: { status: ['5.1.0'] },
    category: 'unknown-user',
    retry: false,
    blame: 'recipient',
    suppress: 'count',
    reason: 'the address was refused (unspecified addressing problem)',
    why: 'RFC 3463 5.1.0 "other address status" is used for unknown users but also for other address trouble; too vague to suppress at once, so it counts.',
    examples: [{ status: '5.1.0', diagnostic: 'smtp; 550 5.1.0 Address rejected', confident: true }],
  },
  {
    id: 'B.5.1.2',
    match: { status: ['5.1.2'] },
    category: 'unknown-domain',
    retry: false,
    blame: 'recipient',
    suppress: 'now',
    reason: "the recipient's domain does not exist",
    why: 'RFC 3463 5.1.2 bad destination system address; sisimai "hostunknown" (hard).',
    examples: [{ status: '5.1.2', diagnostic: 'X-Postfix; Host or domain name not found. Name service error for name=example.invalid type=MX: Host not found', confident: true }],
  },
  {
    id: 'B.5.4.4',
    match: { status: ['5.4.4'] },
    category: 'unknown-domain',
    retry: false,
    blame: 'recipient',
    suppress: 'now',
    reason: "no route to the recipient's domain",
    why: 'RFC 3463 5.4.4 unable to route; sisimai "hostunknown" (hard); listmonk turns an SES Transient with 5.4.4 into hard.',
    examples: [{ status: '5.4.4', diagnostic: 'smtp; 550 5.4.4 Unable to route: domain has no mail exchanger', confident: true }],
  },
  {
    id: 'B.5.2.1.quota',
    match: { status: ['5.2.1'], text: QUOTA },
    category: 'mailbox-full',
    retry: false,
    blame: 'recipient',
    suppress: 'count',
    reason: "the recipient's mailbox is full",
    why: 'Some servers answer an over-quota mailbox with 5.2.1 (mailbox not accepting) instead of 5.2.2; the words decide, and a full mailbox is soft (sisimai "mailboxfull").',
    examples: [{ status: '5.2.1', diagnostic: 'smtp; 550 5.2.1 <jdoe@example.org>: mailbox is full', confident: true }],
  },
  {
    id: 'B.5.2.1',
    match: { status: ['5.2.1'] },
    category: 'unknown-user',
    retry: false,
    blame: 'recipient',
    suppress: 'now',
    reason: 'the mailbox is disabled',
    why: 'RFC 3463 5.2.1 mailbox disabled, not accepting messages (e.g. Gmail "The email account that you tried to reach is disabled"); issue 5 counts recipient-level 5.1.x/5.2.1 as hard.',
    examples: [{ status: '5.2.1', diagnostic: 'smtp; 550 5.2.1 The email account that you tried to reach is disabled.', confident: true }],
  },
  {
    id: 'B.4.2.1',
    match: { status: ['4.2.1'] },
    category: 'rate-limited',
    retry: true,
    blame: 'transient',
    suppress: 'never',
    reason: 'the recipient is receiving mail too fast; try later',
    why: 'RFC 3463 4.2.1 mailbox temporarily not accepting; Gmail uses it for "receiving mail at a rate that prevents additional messages" (ZoneMTA: slowdown/defer).',
    examples: [{ status: '4.2.1', diagnostic: 'smtp; 450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.' }],
  },
  {
    id: 'B.5.2.2',
    match: { status: ['5.2.2'] },
    category: 'mailbox-full',
    retry: false,
    blame: 'recipient',
    suppress: 'count',
    reason: "the recipient's mailbox is full",
    why: 'RFC 3463 5.2.2 mailbox full is defined as permanent or transient; sisimai "mailboxfull" is soft: a full mailbox may be emptied, so it counts instead of suppressing.',
    examples: [{ status: '5.2.2', diagnostic: 'smtp; 552 5.2.2 <jdoe@example.org>: Mailbox full', confident: true }],
  },
  {
    id: 'B.4.2.2',
    match: { status: ['4.2.2'] },
    category: 'mailbox-full',
    retry: true,
    blame: 'recipient',
    suppress: 'count',
    reason: "the recipient's mailbox is full (temporary)",
    why: 'RFC 3463 4.2.2: over quota, try later (Gmail "452 4.2.2 The email account that you tried to reach is over quota").',
    examples: [{ status: '4.2.2', diagnostic: 'smtp; 452 4.2.2 The email account that you tried to reach is over quota.' }],
  },
  {
    id: 'B.5.3.4',
    match: { status: ['5.3.4', '4.3.4'] },
    category: 'message-too-large',
    retry: false,
    blame: 'content',
    suppress: 'never',
    reason: 'the message is too large for the receiving system',
    why: 'RFC 3463 x.3.4 message too big for system: the message, not the address (sisimai "mesgtoobig", soft). Send a link instead of the attachment.',
    examples: [{ status: '5.3.4', diagnostic: 'smtp; 552 5.3.4 Message size exceeds fixed limit', confident: true }],
  },
  {
    id: 'B.5.2.3',
    match: { status: ['5.2.3', '4.2.3'] },
    category: 'message-too-large',
    retry: false,
    blame: 'content',
    suppress: 'never',
    reason: "the message exceeds the recipient's size limit",
    why: 'RFC 3463 x.2.3 message length exceeds administrative limit (sisimai "exceedlimit", soft): the message is at fault.',
    examples: [{ status: '5.2.3', diagnostic: 'smtp; 552 5.2.3 Message length exceeds administrative limit', confident: true }],
  },
  {
    id: 'B.5.4.1.access-denied',
    match: { status: ['5.4.1'], text: DBEB_ACCESS_DENIED },
    category: 'unknown-user',
    retry: false,
    blame: 'recipient',
    suppress: 'count',
    reason: 'the recipient is not known to the receiving directory',
    why: 'Exchange Online directory-based edge blocking answers an unknown recipient with "550 5.4.1 Recipient address rejected: Access denied". The code is not a 5.1.x, so it counts rather than suppressing at once.',
    examples: [{ status: '5.4.1', diagnostic: 'smtp; 550 5.4.1 Recipient address rejected: Access denied. [AM0PR00MB0000.eurprd00.prod.outlook.example]', confident: true }],
  },
  {
    id: 'B.5.4.7',
    match: { status: ['5.4.7', '4.4.7'] },
    category: 'temporary',
    retry: true,
    blame: 'transient',
    suppress: 'count',
    reason: 'delivery time expired after repeated temporary failures',
    why: 'RFC 3463 x.4.7 delivery time expired: every attempt failed temporarily (sisimai "expired", soft). A later send may work; repeated expiry counts.',
    examples: [{ status: '4.4.7', diagnostic: 'smtp; 421 4.4.7 retry timeout exceeded' }],
  },
  {
    id: 'B.retry-timeout',
    match: { text: RETRY_TIMEOUT },
    category: 'temporary',
    retry: true,
    blame: 'transient',
    suppress: 'count',
    reason: 'the relay gave up after retrying a temporary failure',
    why: 'Exim fails an address whose retries ran out with Status 5.0.0 and "retry timeout exceeded" after the last (4xx) reply; like a final 4.x.x bounce (B.4) it is soft and counts.',
    examples: [{ status: '5.0.0', diagnostic: 'smtp; 451 4.3.0 <jdoe@example.org>: Temporary lookup failure: retry timeout exceeded', confident: true }],
  },
  {
    id: 'B.5.7.23',
    match: { status: ['5.7.23', '5.7.24'] },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'SPF validation of our sending host failed',
    why: 'RFC 7372 5.7.23 SPF validation failed / 5.7.24 SPF validation error: our DNS or relay does not match our SPF record (sisimai "authfailure"). Fix the SPF record; the recipient is fine.',
    examples: [{ status: '5.7.23', diagnostic: 'smtp; 550 5.7.23 Message rejected due to sender policy', confident: true }],
  },
  {
    id: 'B.5.7.20',
    match: { status: ['5.7.20', '5.7.21', '5.7.22'] },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'no valid (author-matched) DKIM signature',
    why: 'RFC 7372 5.7.20-5.7.22: no passing, no acceptable or no author-matched DKIM signature: our signing setup.',
    examples: [{ status: '5.7.20', diagnostic: 'smtp; 550 5.7.20 No passing signature found', confident: true }],
  },
  {
    id: 'B.5.7.25',
    match: { status: ['5.7.25'] },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'reverse DNS of our sending host failed',
    why: 'RFC 7372 5.7.25 reverse DNS validation failed (sisimai "requireptr"): our sending IP needs a PTR that resolves back.',
    examples: [{ status: '5.7.25', diagnostic: 'smtp; 550 5.7.25 The IP address sending this message does not have a PTR record setup', confident: true }],
  },
  {
    id: 'B.5.7.26',
    match: { status: ['5.7.26', '5.7.29'] },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'the message failed authentication (SPF/DKIM/DMARC/ARC)',
    why: 'RFC 7372 5.7.26 multiple authentication checks failed (Gmail: "unauthenticated", DMARC policy); 5.7.29 ARC validation failure. Our setup.',
    examples: [{ status: '5.7.26', diagnostic: 'smtp; 550 5.7.26 This mail has been blocked because the sender is unauthenticated.', confident: true }],
  },
  {
    id: 'B.5.7.27',
    match: { status: ['5.7.27'] },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'our sender domain publishes a null MX',
    why: 'RFC 7505 5.7.27 sender address has null MX: a domain that cannot receive bounces may not send (guide R2, R3).',
    examples: [{ status: '5.7.27', diagnostic: 'smtp; 550 5.7.27 Sender address has null MX', confident: true }],
  },
  {
    id: 'B.5.7.28',
    match: { status: ['5.7.28'] },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'the receiving system sees a flood of unwanted mail from us',
    why: 'IANA 5.7.28 mail flood detected (Gmail: "unusual rate of unsolicited mail originating from your IP address"); a reputation problem of ours (sisimai "spamdetected").',
    examples: [{ status: '5.7.28', diagnostic: 'smtp; 550 5.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address.', confident: true }],
  },
  {
    id: 'B.5.7.17',
    match: { status: ['5.7.17', '5.7.18'] },
    category: 'unknown-user',
    retry: false,
    blame: 'recipient',
    suppress: 'now',
    reason: 'the mailbox or domain now belongs to someone else',
    why: 'IANA 5.7.17 mailbox owner has changed / 5.7.18 domain owner has changed: the person we meant is no longer there (sisimai "hasmoved", hard).',
    examples: [{ status: '5.7.17', diagnostic: 'smtp; 550 5.7.17 Mailbox owner has changed', confident: true }],
  },
  {
    id: 'B.5.7.13',
    match: { status: ['5.7.13'] },
    category: 'unknown-user',
    retry: false,
    blame: 'recipient',
    suppress: 'count',
    reason: "the recipient's account is disabled",
    why: 'IANA 5.7.13 user account disabled (sisimai "suspend", soft): the account may be re-enabled, so it counts.',
    examples: [{ status: '5.7.13', diagnostic: 'smtp; 525 5.7.13 User account disabled', confident: true }],
  },

  // 4. texts about our own setup -----------------------------------------------------------
  {
    id: 'B.blocklist',
    match: { text: BLOCKLIST },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'our sending IP or domain is on a block list',
    why: 'ZoneMTA keeps ~85 block-list patterns (Spamhaus, SpamCop, SORBS, Barracuda, "poor reputation"); all describe our sending host, never the recipient.',
    examples: [
      { status: '5.7.1', diagnostic: 'smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org', confident: true },
      { code: 554, diagnostic: '554 Your IP 192.0.2.10 is listed at bl.spamcop.net' },
    ],
  },
  {
    id: 'B.spf',
    match: { text: SPF },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'SPF check of our sending host failed',
    why: 'An SPF failure without the RFC 7372 code (e.g. 550 5.7.1 "SPF fail"): our DNS or relay setup.',
    examples: [{ status: '5.7.1', diagnostic: 'smtp; 550 5.7.1 SPF check failed: 192.0.2.10 is not allowed to send for example.org', confident: true }],
  },
  {
    id: 'B.dkim',
    match: { text: DKIM },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'DKIM check of our message failed',
    why: 'A DKIM failure without the RFC 7372 code (Yahoo "554 5.7.5 (AU01) Invalid DKIM signature" in ZoneMTA\'s table): our signing setup.',
    examples: [{ status: '5.7.5', diagnostic: 'smtp; 554 5.7.5 Permanent error evaluating DKIM signature', confident: true }],
  },
  {
    id: 'B.dmarc',
    match: { text: DMARC },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: "the message failed our domain's DMARC policy",
    why: 'Gmail "550 5.7.1 ... due to domain\'s DMARC policy", AOL "DMARC:" (ZoneMTA reject/dmarc): SPF/DKIM are not aligned with our From domain.',
    examples: [{ status: '5.7.1', diagnostic: "smtp; 550 5.7.1 Unauthenticated email from example.org is not accepted due to domain's DMARC policy.", confident: true }],
  },
  {
    id: 'B.auth',
    match: { text: AUTH },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'the message or connection was not authenticated',
    why: '"Authentication required" from a relay, or a receiver rejecting unauthenticated mail: fix SMTP AUTH or SPF/DKIM.',
    examples: [{ code: 530, diagnostic: '530 5.7.0 Authentication required' }],
  },
  {
    id: 'B.ptr',
    match: { text: PTR },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'our sending host has no matching reverse DNS',
    why: 'Postfix reject_unknown_client_hostname ("cannot find your hostname"), Gmail IPv6 PTR rules, AOL "RTR:RD" (ZoneMTA reject/config).',
    examples: [{ diagnostic: '450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.10]' }],
  },
  {
    id: 'B.tls',
    match: { text: TLS },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'the receiving system requires TLS',
    why: 'Gmail "421 4.7.0 ... TLS required" (ZoneMTA defer/config), RFC 8689 REQUIRETLS: our transport settings.',
    examples: [{ status: '4.7.0', diagnostic: 'smtp; 421 4.7.0 Must issue a STARTTLS command first' }],
  },
  {
    id: 'B.relay-denied',
    match: { text: RELAY },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'a server refused to relay our mail',
    why: 'Relay access denied means the mail went to a server that is not ours to use (wrong relay or a stale MX): a routing/setup problem, not the address.',
    examples: [
      { code: 554, diagnostic: '554 <jdoe@example.org>: Relay access denied' },
      { code: 554, diagnostic: '554 Relaying nicht erlaubt' },
      { code: 554, diagnostic: '554 Relais refusé' },
    ],
  },
  {
    id: 'B.spam',
    match: { text: SPAM },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'the message was rejected as spam',
    why: 'A spam verdict (ZoneMTA reject/spam; sisimai "spamdetected", soft) reflects on our content and reputation, not on the recipient: alert, never suppress.',
    examples: [{ code: 550, diagnostic: '550 Message rejected as spam by Content Filtering' }],
  },

  // 5. rate limits and the rest of x.7.x ----------------------------------------------------
  {
    id: 'B.4.7.28',
    match: { status: ['4.7.28'] },
    category: 'rate-limited',
    retry: true,
    blame: 'transient',
    suppress: 'never',
    reason: 'we sent too fast; try later',
    why: 'Gmail "421 4.7.28 ... unusual rate of unsolicited mail" (IANA x.7.28 mail flood) as a temporary answer: slow down and retry.',
    examples: [{ status: '4.7.28', diagnostic: 'smtp; 421 4.7.28 Our system has detected an unusual rate of mail originating from your IP address.' }],
  },
  {
    id: 'B.rate',
    match: { cls: ['4'], text: RATE },
    category: 'rate-limited',
    retry: true,
    blame: 'transient',
    suppress: 'never',
    reason: 'rate limited; try later',
    why: 'Temporary refusals that name a rate or volume (Yahoo "421 4.7.0 [TSS04] temporarily deferred", Hotmail "421 RP-00x", "too many connections"): ZoneMTA slowdown/rate.',
    examples: [{ code: 421, diagnostic: '421 Too many concurrent SMTP connections; please try again later.' }],
  },
  {
    id: 'B.4.7.0',
    match: { status: ['4.7.0'] },
    category: 'rate-limited',
    retry: true,
    blame: 'transient',
    suppress: 'never',
    reason: 'temporarily refused by policy (usually a rate limit); try later',
    why: 'Gmail answers bursts with "421 4.7.0 Try again later, closing connection"; 4.7.0 without a more specific text is a temporary policy/rate limit.',
    examples: [{ status: '4.7.0', diagnostic: 'smtp; 421 4.7.0 Try again later, closing connection.' }],
  },
  {
    id: 'B.5.7.1',
    match: { status: ['5.7.1'] },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'delivery not authorised: blocked by the receiving system',
    why: 'RFC 3463 5.7.1 delivery not authorized, message refused: rejects this message from this sender, not the address (notes §1.1, §1.3). Alert the operator.',
    examples: [{ status: '5.7.1', diagnostic: 'smtp; 550 5.7.1 Message refused by recipient policy', confident: true }],
  },
  {
    id: 'B.5.7',
    match: { status: ['5.7.*'] },
    category: 'policy-block',
    retry: false,
    blame: 'sender-setup',
    suppress: 'never',
    reason: 'refused for security or policy reasons',
    why: 'RFC 3463 x.7.x security/policy status: about this sender or message (sisimai "securityerror", soft).',
    examples: [{ status: '5.7.0', diagnostic: 'smtp; 554 5.7.0 Reject, id=12345 - policy', confident: true }],
  },

  // 6. texts about the recipient (no useful enhanced code) ---------------------------------
  {
    id: 'B.user-unknown',
    match: { cls: ['5', 'none'], text: USER_UNKNOWN },
    category: 'unknown-user',
    retry: false,
    blame: 'recipient',
    suppress: 'now',
    reason: 'the mailbox does not exist',
    why: 'Permanent replies without a 5.1.x code that say so in words (listmonk\'s keyword list: "user unknown", "no such user", "does not exist"; qmail "no mailbox here by that name").',
    examples: [
      { status: '5.0.0', diagnostic: 'smtp; 550 <jdoe@example.org>: User unknown in local recipient table', confident: true },
      { diagnostic: 'Sorry, no mailbox here by that name.' },
      { code: 554, diagnostic: "554 delivery error: dd This user doesn't have an example.com account (jdoe@example.com) [0]" },
      { diagnostic: 'Empfänger unbekannt' },
      { diagnostic: 'Grund: Benutzer unbekannt' },
      { code: 550, diagnostic: '550 Empfaenger existiert nicht' },
      { diagnostic: 'Die eingegebene E-Mail-Adresse wurde nicht gefunden.' },
      { diagnostic: 'Destinataire inconnu' },
      { diagnostic: "L’adresse de messagerie que vous avez entrée est introuvable." },
    ],
  },
  {
    id: 'B.domain-unknown',
    match: { cls: ['5', 'none'], text: DOMAIN_UNKNOWN },
    category: 'unknown-domain',
    retry: false,
    blame: 'recipient',
    suppress: 'now',
    reason: "the recipient's domain does not exist or has no mail server",
    why: 'Exim "Unrouteable address", "all relevant MX records point to non-existent hosts", NXDOMAIN texts (listmonk keywords). Only for permanent answers: "Host not found, try again" is 4.x.',
    examples: [
      { status: '5.0.0', diagnostic: 'Unrouteable address', confident: true },
      { diagnostic: 'Die Domäne example.invalid existiert nicht' },
      { diagnostic: 'Domaine inconnu : example.invalid' },
    ],
  },
  {
    id: 'B.quota',
    match: { cls: ['5', 'none'], text: QUOTA },
    category: 'mailbox-full',
    retry: false,
    blame: 'recipient',
    suppress: 'count',
    reason: "the recipient's mailbox is full",
    why: 'Quota texts without 5.2.2 ("Mailbox full", "over quota", RFC 5321\'s 552 "exceeded storage allocation"); soft, as B.5.2.2.',
    examples: [
      { code: 552, diagnostic: '552 Requested mail action aborted: exceeded storage allocation' },
      { diagnostic: 'Postfach voll' },
      { diagnostic: 'Das Postfach des Empfaengers ist voll.' },
      { diagnostic: 'Speicherplatz überschritten' },
      { diagnostic: 'Boîte aux lettres pleine' },
      { diagnostic: 'La boite aux lettres du destinataire est pleine.' },
    ],
  },
  {
    id: 'B.size',
    match: { cls: ['5', 'none'], text: SIZE },
    category: 'message-too-large',
    retry: false,
    blame: 'content',
    suppress: 'never',
    reason: 'the message is too large',
    why: 'Size texts without 5.3.4 ("Message size exceeds maximum permitted"): the message, not the address.',
    examples: [
      { status: '5.0.0', diagnostic: 'smtp; 550 Message size exceeds maximum permitted', confident: true },
      { diagnostic: 'Die Nachricht ist zu groß' },
      { diagnostic: 'Maximale Nachrichtengröße überschritten' },
      { diagnostic: 'Message trop volumineux' },
    ],
  },

  // 7. bare reply codes ---------------------------------------------------------------------
  {
    id: 'B.556',
    match: { code: [521, 556] },
    category: 'unknown-domain',
    retry: false,
    blame: 'recipient',
    suppress: 'now',
    reason: "the recipient's domain does not accept mail",
    why: 'RFC 7504: 521 host does not accept mail, 556 domain does not accept mail (also used for null MX).',
    examples: [{ code: 556, diagnostic: '556 Domain does not accept mail', confident: true }],
  },
  {
    id: 'B.552',
    match: { cls: ['5'], code: [552] },
    category: 'message-too-large',
    retry: false,
    blame: 'content',
    suppress: 'never',
    reason: 'the message exceeded a storage or size limit',
    why: 'RFC 5321 552 "exceeded storage allocation" is in practice mostly a size refusal (ZoneMTA 552 capacity); never suppress on it.',
    examples: [{ code: 552, diagnostic: '552 Requested mail action aborted' }],
  },

  // 8. the class alone, then anything ------------------------------------------------------
  {
    id: 'B.5.6',
    match: { status: ['5.6.*'] },
    category: 'other',
    retry: false,
    blame: 'content',
    suppress: 'never',
    reason: 'the receiving system cannot handle the message content',
    why: 'RFC 3463 x.6.x media/content errors (8-bit, conversion, bad encoding): the message is at fault.',
    examples: [{ status: '5.6.0', diagnostic: 'smtp; 554 5.6.0 Message contains invalid header', confident: true }],
  },
  {
    id: 'B.5',
    match: { cls: ['5'] },
    category: 'other',
    retry: false,
    blame: 'unknown',
    suppress: 'count',
    reason: 'permanent failure (unspecified)',
    why: 'RFC 3463 class 5 "not likely to be resolved by resending in the current form", but no reason given: count it towards the threshold.',
    examples: [{ code: 550, diagnostic: '550 Requested action not taken: mailbox unavailable' }],
  },
  {
    id: 'B.4',
    match: { cls: ['4'] },
    category: 'temporary',
    retry: true,
    blame: 'transient',
    suppress: 'count',
    reason: 'temporary failure',
    why: 'RFC 3463 class 4 "sending in the future may be successful"; a final bounce with a 4.x.x (retries ran out) counts as a soft bounce.',
    examples: [{ status: '4.4.1', diagnostic: 'X-Postfix; connect to mx.example.org[192.0.2.25]:25: Connection timed out', confident: true }],
  },
  {
    id: 'B.other',
    match: {},
    category: 'other',
    retry: false,
    blame: 'unknown',
    suppress: 'count',
    reason: 'undeliverable (no reason given)',
    why: 'A bounce that names neither a code nor a known reason; it counts towards the threshold so that repeated ones still suppress.',
    examples: [{ kind: 'bounce', diagnostic: 'The message could not be delivered.' }],
  },
];
