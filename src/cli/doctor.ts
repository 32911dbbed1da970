/** `sendwell doctor`: the setup checklist (exit 0 nothing failed, 69 something failed, 78 configuration error). */
import { EXIT } from '../errors.js';
import { doctorToJSON, formatDoctor, runDoctor } from '../doctor/index.js';
import { parseDuration } from '../config/units.js';
import { SendwellError } from '../errors.js';
import { resolveStateDir } from './state-dir.js';
import type { Io } from './output.js';

export interface DoctorFlags {
  config?: string;
  stateDir?: string;
  relay?: string;
  rcpt?: string;
  json?: boolean;
  dns?: boolean;
  outboundIp?: string[];
  sendTest?: string;
  spamTest?: boolean;
  bounceTest?: boolean;
  probe?: string;
  timeout?: string;
}

export async function doctorCommand(flags: DoctorFlags, io: Io): Promise<number> {
  let bounceTimeoutMs: number | undefined;
  if (flags.timeout !== undefined) {
    const t = /^\d+$/.test(flags.timeout) ? Number(flags.timeout) * 1000 : parseDuration(flags.timeout);
    if (!t || t <= 0) throw new SendwellError('EUSAGE', `--timeout ${flags.timeout} is not a duration`, { hint: 'give seconds (120) or a duration (2m)' });
    bounceTimeoutMs = t;
  }
  const report = await runDoctor({
    ...(flags.config ? { configPath: flags.config } : {}),
    stateDir: (config) => resolveStateDir(flags.stateDir, config),
    ...(flags.relay ? { relayUrl: flags.relay } : {}),
    ...(flags.rcpt ? { recipient: flags.rcpt } : {}),
    dns: flags.dns !== false,
    ...(flags.outboundIp?.length ? { outboundIps: flags.outboundIp } : {}),
    ...(flags.sendTest ? { sendTest: flags.sendTest } : {}),
    spamTest: Boolean(flags.spamTest),
    bounceTest: Boolean(flags.bounceTest),
    ...(flags.probe ? { probe: flags.probe } : {}),
    ...(bounceTimeoutMs ? { bounceTimeoutMs } : {}),
    progress: (line) => io.stderr(`${line}\n`),
  });
  if (flags.json) io.stdout(`${JSON.stringify(doctorToJSON(report), null, 2)}\n`);
  else io.stdout(formatDoctor(report));
  if (report.configError) return EXIT.CONFIG;
  return report.ok ? EXIT.OK : EXIT.UNAVAILABLE;
}
