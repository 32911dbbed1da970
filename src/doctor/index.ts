/**
 * `sendwell doctor`: a checklist of everything a working setup needs (guide
 * C1–C3, R5, R6, R11, T1–T3), each line with its reason and fix.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadConfig, type ResolvedConfig } from '../config/load.js';
import { SendwellError } from '../errors.js';
import { bounceTest, sendTest, spamTest } from './extra.js';
import { defaultResolver, dnsChecks, type DnsResolver } from './dns.js';
import { queueCheck, secretChecks, stateDirCheck } from './local.js';
import { relayChecks } from './relay.js';
import { bareAddress, check, domainOf, type Check } from './types.js';

export type { Check, CheckStatus } from './types.js';
export type { DnsResolver } from './dns.js';

export interface DoctorOptions {
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Resolves the state directory once the config is known. */
  stateDir?: (config: ResolvedConfig) => string;
  relayUrl?: string;
  /** RCPT TO for the probe (default postmaster@ the sender's domain). */
  recipient?: string;
  /** Skip the DNS checks (--no-dns). */
  dns?: boolean;
  resolver?: DnsResolver;
  outboundIps?: string[];
  sendTest?: string;
  spamTest?: boolean;
  bounceTest?: boolean;
  probe?: string;
  bounceTimeoutMs?: number;
  /** Per network step (default 15 s). */
  timeoutMs?: number;
  progress?: (line: string) => void;
}

export interface DoctorReport {
  ok: boolean;
  /** A configuration error stopped the checks. */
  configError: boolean;
  checks: Check[];
}

export async function runDoctor(o: DoctorOptions = {}): Promise<DoctorReport> {
  const checks: Check[] = [];
  let config: ResolvedConfig;
  try {
    config = loadConfig({ ...(o.configPath ? { path: o.configPath } : {}), ...(o.env ? { env: o.env } : {}) });
    checks.push(check('config', 'ok', 'configuration', config.source ? `${config.source} is valid` : 'no config file: defaults only', config.source ? '' : 'create one with `sendwell init --preset submission` (or local, smarthost)'));
  } catch (err) {
    const e = err as SendwellError;
    checks.push(check('config', 'fail', 'configuration', e.message, e.hint ?? '', e.rule));
    return { ok: false, configError: true, checks };
  }
  checks.push(...secretChecks(config));
  const stateDir = o.stateDir ? o.stateDir(config) : (config.stateDir ?? '.sendwell');
  const dirCheck = stateDirCheck(stateDir);
  checks.push(dirCheck);
  checks.push(await queueCheck(stateDir));

  const from = bareAddress(config.sender.from);
  const envelopeSender = config.bounces.address ?? (config.sender.envelopeFrom !== undefined ? bareAddress(config.sender.envelopeFrom) : from);
  const domain = domainOf(envelopeSender);
  const recipient = o.recipient ?? (domainOf(from) ? `postmaster@${domainOf(from)}` : undefined);
  if (!from) checks.push(check('sender', 'warn', 'sender', 'no [sender] from: every mail must give its own From', 'set [sender] from = "Name <address@your.domain>" (R3)', 'R3'));
  else checks.push(check('sender', 'ok', 'sender', `From ${config.sender.from}; envelope sender ${envelopeSender || '<>'}${config.bounces.address && config.bounces.verp ? ' (VERP)' : ''}`, '', 'R3'));

  checks.push(
    ...(await relayChecks({
      config,
      ...(o.relayUrl ? { url: o.relayUrl } : {}),
      ...(envelopeSender ? { sender: envelopeSender } : {}),
      ...(recipient ? { recipient } : {}),
      ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    })),
  );

  if (o.dns === false) checks.push(check('dns', 'skip', 'sender domain in DNS', 'not checked (--no-dns)'));
  else if (!domain) checks.push(check('dns', 'skip', 'sender domain in DNS', 'no sender address to take the domain from', 'set [sender] from'));
  else {
    try {
      const resolver = o.resolver ?? (await defaultResolver());
      // --outbound-ip wins over [doctor] outbound_ips.
      const outboundIps = o.outboundIps?.length ? o.outboundIps : config.file.doctor.outbound_ips;
      const dkim = dkimForDoctor(config, domainOf(from));
      checks.push(...(await dnsChecks(resolver, { domain, ...(outboundIps.length ? { outboundIps } : {}), ...(dkim ? { dkim } : {}) })));
    } catch (err) {
      checks.push(check('dns', 'skip', 'sender domain in DNS', `could not check (no DNS: ${(err as Error).message})`));
    }
  }

  if (o.spamTest) checks.push(...(await spamTest(config)));
  if (o.sendTest) checks.push(await sendTest(config, o.sendTest, o.relayUrl));
  if (o.bounceTest) {
    if (dirCheck.status === 'fail') checks.push(check('bounce_test', 'skip', 'bounce round trip', 'the state directory is not writable', dirCheck.fix, 'R5'));
    else checks.push(await bounceTest({ config, stateDir, ...(o.relayUrl ? { relayUrl: o.relayUrl } : {}), ...(o.probe ? { probe: o.probe } : {}), timeoutMs: o.bounceTimeoutMs ?? 120_000, ...(o.progress ? { progress: o.progress } : {}) }));
  }
  return { ok: !checks.some((c) => c.status === 'fail'), configError: false, checks };
}

const MARK = { ok: '✓', warn: '!', fail: '✗', skip: '-' } as const;

/** The human checklist. */
export function formatDoctor(report: DoctorReport): string {
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${MARK[c.status]} ${c.title}: ${c.detail}${c.rule ? ` [${c.rule}]` : ''}`);
    if (c.fix && c.status !== 'ok') lines.push(`    fix: ${c.fix}`);
    else if (c.fix) lines.push(`    note: ${c.fix}`);
  }
  const n = (s: string) => report.checks.filter((c) => c.status === s).length;
  lines.push('', report.ok ? `all good: ${n('ok')} ok, ${n('warn')} warning(s), ${n('skip')} skipped` : `${n('fail')} problem(s), ${n('warn')} warning(s): fix the lines marked ✗`);
  return `${lines.join('\n')}\n`;
}

export function doctorToJSON(report: DoctorReport): { ok: boolean; checks: Check[] } {
  return { ok: report.ok, checks: report.checks };
}

/** The public half of the configured DKIM key, for the DNS check; undefined when there is none or it cannot be read (the secret check says why). */
function dkimForDoctor(config: ResolvedConfig, fromDomain: string | undefined) {
  if (!config.dkim) return undefined;
  try {
    const pem = readFileSync(config.dkim.privateKeyFile, 'utf8');
    const publicKey = createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('base64');
    return { domain: config.dkim.domain, selector: config.dkim.selector, publicKey, ...(fromDomain ? { fromDomain } : {}) };
  } catch {
    return undefined;
  }
}
