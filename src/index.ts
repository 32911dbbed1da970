/**
 * sendwell: send mail well from scripts, cron jobs, web forms and installed software.
 *
 * @example
 * import { createMailer } from 'sendwell';
 * const mailer = createMailer({ relay: 'smtp://localhost:25', from: 'Jane Doe <jane.doe@example.org>' });
 * await mailer.send({ to: 'bob@example.org', subject: 'Nightly backup done', text: 'All 12 volumes OK.' });
 * await mailer.close();
 */
export { createMailer, type Mailer, type MailerOptions, type SendOptions, type SendResult } from './mailer.js';
export type { MessageDsn } from './queue/dsn-params.js';
export { composeMail, formatDate, type Attachment, type ComposedMessage, type ComposeOptions, type Mail } from './message/compose.js';
export { parseMailbox, parseMailboxList, parseAddrSpec, type AddressInput, type ParsedAddress } from './message/address.js';
export { lintMessage, formatReport, reportToJSON, RULES, DEFAULT_POLICY } from './policy/index.js';
export type { Finding, LintContext, LintReport, PolicyOptions, Severity } from './policy/types.js';
export { createTransport, type RelayOptions } from './transport/index.js';
export type { DsnOptions, Envelope, RelayInfo, Transport, TransportResult } from './transport/types.js';
export { loadConfig, type ResolvedConfig, type PasswordSource } from './config/load.js';
export { SendwellError, isSendwellError, exitCodeFor, ERROR_CODES, EXIT, type ErrorCode, type Phase, type RecipientOutcome } from './errors.js';
