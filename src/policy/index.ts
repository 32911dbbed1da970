/** The policy (lint) layer: the institution's mail guide as rules over raw messages. */
export type { Finding, LintContext, LintReport, PolicyOptions, Severity } from './types.js';
export { RULES, GUIDE_RULES, getRule, isRuleId, ruleOrder, type RuleDefinition, type RuleId } from './rules.js';
export { DEFAULT_POLICY, resolvePolicy, MIB } from './defaults.js';
export { lintMessage, buildReport, SINGLE_INSTANCE_HEADERS, MAX_LINE_OCTETS } from './lint.js';
export { formatReport, reportToJSON, summaryLine, type FormatOptions, type FindingJSON, type LintReportJSON } from './format.js';
export { rulesMarkdown, replaceRulesSection, rulesSectionUpToDate, RULES_START_MARKER, RULES_END_MARKER } from './docs.js';
export {
  checkAddress,
  parseAddress,
  isValidAddress,
  senderDomainProblem,
  senderLocalPartProblem,
  type AddressCheckOptions,
  type AddressCheckResult,
  type ParsedAddress,
} from './address-check.js';
export { parseAddressList, type Mailbox, type AddressListResult } from './address-list.js';
export { parseRfc5322Date, type DateParseResult } from './date.js';
export { policyError } from './error.js';
