/** `sendwell lint`, `sendwell init`, `sendwell config`. */
import { existsSync, writeFileSync } from 'node:fs';
import { EXIT, SendwellError } from '../errors.js';
import { configToToml, loadConfig, validateConfig } from '../config/load.js';
import { PRESETS, presetTitle, renderPreset, type Preset } from '../config/presets.js';
import { parseConfigText } from '../config/load.js';
import { createMailer } from '../mailer.js';
import { formatReport, reportToJSON } from '../policy/index.js';
import { formatSpamReport, spamFindings, spamReportToJSON } from '../policy/spam/index.js';
import { readInput } from './input.js';
import type { Io } from './output.js';

export async function lintCommand(file: string, flags: { json?: boolean; config?: string }, io: Io): Promise<number> {
  const config = loadConfig(flags.config ? { path: flags.config } : {});
  const raw = await readInput(file, 'message file');
  const mailer = createMailer({ config });
  const report = await mailer.lint(raw);
  // R6: the spam score (built-in rules, and spamd/rspamd when [spam] names them).
  const spam = report.spam ?? (await mailer.spamCheck(raw));
  const spamWarnings = spamFindings(spam);
  const full = { ...report, findings: [...report.findings, ...spamWarnings], warnings: report.warnings + spamWarnings.length };
  const refused = spam.over && spam.action === 'refuse';
  if (flags.json) {
    const json = reportToJSON(full);
    const { score: _score, ...details } = spamReportToJSON(spam);
    io.stdout(`${JSON.stringify({ ...json, ok: json.ok && !refused, score: spam.score, spam: details }, null, 2)}\n`);
  } else io.stdout(`${formatReport(full)}${formatSpamReport(spam)}`);
  return report.ok && !refused ? EXIT.OK : EXIT.DATAERR;
}

export function initCommand(flags: { preset?: string; host?: string; from?: string; output: string; force?: boolean }, io: Io): number {
  const preset = flags.preset as Preset | undefined;
  if (!preset || !PRESETS.includes(preset)) {
    throw new SendwellError('EUSAGE', flags.preset ? `unknown preset ${JSON.stringify(flags.preset)}` : 'no --preset given', {
      hint: `choose one of:\n${PRESETS.map((p) => `  ${p.padEnd(10)} ${presetTitle(p)}`).join('\n')}`,
    });
  }
  if (flags.host !== undefined && !/^[A-Za-z0-9.-]+$|^\[[0-9a-fA-F:.]+\]$/.test(flags.host)) {
    throw new SendwellError('EUSAGE', `--host ${JSON.stringify(flags.host)} is not a host name`, { hint: 'give e.g. --host mail.example.org' });
  }
  if (preset === 'sendmail' && flags.host) {
    throw new SendwellError('EUSAGE', '--host does not apply to the sendmail preset', { hint: 'leave it out' });
  }
  const text = renderPreset(preset, { ...(flags.host ? { host: flags.host } : {}), ...(flags.from ? { from: flags.from } : {}) });
  // The preset must itself be a valid config; this guards the templates.
  validateConfig(parseConfigText(text, `preset ${preset}`), `preset ${preset}`);
  if (flags.output === '-') {
    io.stdout(text);
    return EXIT.OK;
  }
  if (existsSync(flags.output) && !flags.force) {
    throw new SendwellError('EUSAGE', `${flags.output} exists already`, { hint: 'pass --force to overwrite it, or --output another path' });
  }
  try {
    writeFileSync(flags.output, text, { mode: 0o600 });
  } catch (err) {
    throw new SendwellError('ECONFIG', `cannot write ${flags.output}: ${(err as NodeJS.ErrnoException).code}`, { hint: 'check the directory and permissions', cause: err });
  }
  io.stdout(`wrote ${flags.output}: ${presetTitle(preset)}\nnext: set [sender] from, then try \`sendwell send --dry-run --to you@example.org --subject test --text hello\`\n`);
  return EXIT.OK;
}

export function configCommand(flags: { defaults?: boolean; json?: boolean; config?: string }, io: Io): number {
  const file = flags.defaults ? validateConfig({}, 'defaults') : loadConfig(flags.config ? { path: flags.config } : {}).file;
  const source = flags.defaults ? 'defaults' : (loadConfig(flags.config ? { path: flags.config } : {}).source ?? 'defaults (no config file found)');
  if (flags.json) {
    const redacted = JSON.parse(JSON.stringify(file)) as { relay: Record<string, unknown> };
    if (redacted.relay.password !== undefined) redacted.relay.password = '(redacted)';
    io.stdout(`${JSON.stringify({ source, config: redacted }, null, 2)}\n`);
  } else {
    io.stdout(`# source: ${source}\n${configToToml(file)}`);
  }
  return EXIT.OK;
}
