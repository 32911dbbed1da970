/** `sendwell forms list NAME`: the review list of a web form (R10), newest first. */
import { EXIT, SendwellError } from '../errors.js';
import { loadConfig } from '../config/load.js';
import type { Io } from './output.js';
import { resolveStateDir } from './state-dir.js';

export interface FormsFlags {
  config?: string;
  stateDir?: string;
  json?: boolean;
  verdict?: string;
  limit?: string;
}

export async function formsCommand(action: string, name: string | undefined, flags: FormsFlags, io: Io): Promise<number> {
  if (action !== 'list') throw new SendwellError('EUSAGE', `forms ${action}: unknown action`, { hint: 'use: sendwell forms list NAME [--verdict accepted|quarantined|refused]' });
  const config = loadConfig(flags.config ? { path: flags.config } : {});
  const known = Object.keys(config.forms);
  if (!name || !known.includes(name)) {
    throw new SendwellError('EUSAGE', name ? `there is no form ${JSON.stringify(name)}` : 'the form name is missing', { hint: known.length ? `forms in the config: ${known.join(', ')}` : 'define one in [forms.NAME] (README: Web forms)' });
  }
  if (flags.verdict !== undefined && !['accepted', 'quarantined', 'refused'].includes(flags.verdict)) {
    throw new SendwellError('EUSAGE', `--verdict ${flags.verdict} is not accepted, quarantined or refused`, { hint: 'e.g. --verdict quarantined' });
  }
  const limit = flags.limit === undefined ? 100 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new SendwellError('EUSAGE', `--limit ${flags.limit} is not a positive number`, { hint: 'e.g. --limit 50' });
  const { FormStore } = await import('../forms/store.js');
  const store = new FormStore(resolveStateDir(flags.stateDir, config));
  try {
    const rows = store.list(name, { ...(flags.verdict ? { verdict: flags.verdict as 'accepted' | 'quarantined' | 'refused' } : {}), limit });
    if (flags.json) {
      io.stdout(`${JSON.stringify(rows)}\n`);
      return EXIT.OK;
    }
    if (!rows.length) io.stdout(`no submissions${flags.verdict ? ` with verdict ${flags.verdict}` : ''} for form ${name}\n`);
    for (const r of rows) {
      io.stdout(`${new Date(r.receivedAt).toISOString()} ${r.id} ${r.verdict} score=${r.score} ip=${r.ip} reasons=${r.reasons.join(',') || '-'}${r.queueId ? ` queued=${r.queueId}` : ''}\n`);
      for (const [k, v] of Object.entries(r.fields)) io.stdout(`    ${k}: ${JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}…` : v)}\n`);
    }
    return EXIT.OK;
  } finally {
    store.close();
  }
}
