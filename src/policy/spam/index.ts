/** The spam preflight (guide rule R6): built-in rules as data, spamd and rspamd clients. */
export { SPAM_RULES, getSpamRule, type SpamRuleDefinition } from './rules.js';
export { scoreMessage, htmlToWords, words, type BuiltinScore, type ScoreOptions, type SpamHit } from './score.js';
export {
  spamdCheck,
  rspamdCheck,
  parseSpamdResponse,
  parseRspamdResponse,
  parseHostPort,
  withSyntheticReceived,
  SpamScanError,
  DEFAULT_SCAN_TIMEOUT_MS,
  type ScannerRule,
  type ScannerScore,
} from './scanners.js';
export {
  spamPreflight,
  spamFindings,
  spamRefusal,
  spamReportToJSON,
  formatSpamReport,
  topReasons,
  DEFAULT_SPAM,
  type SpamOptions,
  type SpamReport,
  type ScannerReport,
  type ScannerAnswer,
  type ScannerFailure,
  type PreflightContext,
} from './preflight.js';
export { spamRulesMarkdown, replaceSpamSection, spamSectionUpToDate, SPAM_START_MARKER, SPAM_END_MARKER } from './docs.js';
