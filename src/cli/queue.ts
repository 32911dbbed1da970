/** `sendwell queue`, `sendwell flush`, `sendwell worker`, `sendwell log` (T1, T2). */
import { existsSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, SendwellError } from '../errors.js';
// resolve.js, not load.js: zod is loaded only to explain a config error.
import { loadConfigFast, relayOptionsFromConfig, type ResolvedConfig } from '../config/resolve.js';

import { formatMailq, formatShow, mailqJson } from '../queue/inspect.js';
import { formatLine, JSON_LOG_FILE, readEvents, type LogEvent } from '../queue/maillog.js';
import { QueueService } from '../queue/service.js';
import { QUEUE_ID } from '../queue/ids.js';
import type { Io } from './output.js';
import { resolveStateDir } from './state-dir.js';

export interface QueueFlags {
  stateDir?: string;
  config?: string;
  relay?: string;
  json?: boolean;
  all?: boolean;
}

export async function openService(
  flags: QueueFlags,
  extra: { logStderr?: boolean; concurrency?: number; backlogThread?: boolean } = {},
): Promise<{ service: QueueService; config: ResolvedConfig }> {
  const config = await loadConfigFast(flags.config ? { path: flags.config } : {});
  const stateDir = resolveStateDir(flags.stateDir, config);
  const service = QueueService.fromConfig(config, stateDir, {
    ...(flags.relay ? { relay: { ...relayOptionsFromConfig(config), url: flags.relay } } : {}),
    ...(extra.concurrency ? { concurrency: extra.concurrency } : {}),
    ...(extra.logStderr !== undefined ? { logStderr: extra.logStderr } : {}),
    ...(extra.backlogThread ? { backlogThread: true } : {}),
  });
  return { service, config };
}

const ACTIONS = ['list', 'show', 'retry', 'hold', 'release', 'delete', 'resume'] as const;
type Action = (typeof ACTIONS)[number];

function checkIds(ids: string[], all: boolean | undefined, action: string): string[] | undefined {
  if (all && ids.length) throw new SendwellError('EUSAGE', `give queue IDs or --all, not both`, { hint: `sendwell queue ${action} ID… or sendwell queue ${action} --all` });
  if (!all && ids.length === 0) throw new SendwellError('EUSAGE', `sendwell queue ${action} needs queue IDs or --all`, { hint: '`sendwell queue` lists the queue IDs' });
  for (const id of ids) {
    if (!QUEUE_ID.test(id)) throw new SendwellError('EUSAGE', `${JSON.stringify(id)} is not a queue ID`, { hint: 'queue IDs have 14 letters and digits; `sendwell queue` lists them' });
  }
  return all ? undefined : ids;
}

export async function queueCommand(action: string | undefined, ids: string[], flags: QueueFlags, io: Io): Promise<number> {
  const act = (action ?? 'list') as Action;
  if (!ACTIONS.includes(act)) {
    throw new SendwellError('EUSAGE', `unknown queue action ${JSON.stringify(action)}`, { hint: `one of: ${ACTIONS.join(', ')}` });
  }
  const { service } = await openService(flags);
  const now = Date.now();
  try {
    const store = service.store;
    switch (act) {
      case 'list': {
        const pending = store.pending();
        io.stdout(flags.json ? mailqJson(pending, now) : formatMailq(pending, now));
        return EXIT.OK;
      }
      case 'show': {
        if (ids.length !== 1) throw new SendwellError('EUSAGE', 'sendwell queue show takes one queue ID', { hint: 'e.g. sendwell queue show 204Z4VG9VYYLQH' });
        const m = store.message(ids[0]!);
        if (!m) throw new SendwellError('EUSAGE', `no message ${ids[0]} in ${service.stateDir}`, { hint: '`sendwell queue` lists queued messages; delivered ones stay until their retention ends' });
        const recipients = store.recipients(m.id);
        const attempts = store.attempts(m.id);
        if (flags.json) io.stdout(`${JSON.stringify({ message: m, recipients, attempts }, null, 2)}\n`);
        else io.stdout(formatShow(m, recipients, attempts, store.body(m.id), now));
        return EXIT.OK;
      }
      case 'resume': {
        const n = service.resume();
        service.log.write({ event: 'notice', time: now, level: 'info', text: `flood brake released ${n} recipient(s) (sendwell queue resume)` });
        io.stdout(`released ${n} recipient(s) held by the flood brake\n`);
        return EXIT.OK;
      }
      default: {
        const which = checkIds(ids, flags.all, act);
        const n =
          act === 'retry' ? store.retry(which, now)
          : act === 'hold' ? store.hold(which, 'held by the administrator (sendwell queue hold)', now)
          : act === 'release' ? store.release(which, now)
          : store.cancel(which, now);
        if (which) for (const id of which) service.log.write({ event: 'status', time: now, queueId: id, status: act === 'delete' ? 'cancelled' : act, reason: `sendwell queue ${act}` });
        else service.log.write({ event: 'notice', time: now, level: 'info', text: `sendwell queue ${act} --all: ${n} recipient(s) changed` });
        io.stdout(`${act}: ${n} recipient(s) changed\n`);
        return EXIT.OK;
      }
    }
  } finally {
    await service.close();
  }
}

export async function flushCommand(flags: QueueFlags, io: Io): Promise<number> {
  const { service } = await openService(flags, { backlogThread: true });
  try {
    service.worker.recover();
    const r = await service.worker.drain();
    service.worker.purge();
    const next = r.nextDue ? `; next due ${new Date(r.nextDue).toISOString()}` : '';
    if (flags.json) io.stdout(`${JSON.stringify(r)}\n`);
    else io.stdout(`attempted ${r.attempted}: ${r.delivered} delivered, ${r.deferred} deferred, ${r.bounced} bounced or expired${next}\n`);
    return EXIT.OK;
  } finally {
    await service.close();
  }
}

export async function workerCommand(flags: QueueFlags & { concurrency?: string }, io: Io): Promise<number> {
  const concurrency = flags.concurrency === undefined ? undefined : Number(flags.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 100)) {
    throw new SendwellError('EUSAGE', `--concurrency ${flags.concurrency} is not a number from 1 to 100`, { hint: 'e.g. --concurrency 8' });
  }
  const { service } = await openService(flags, { logStderr: true, backlogThread: true, ...(concurrency ? { concurrency } : {}) });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  io.stderr(`sendwell worker: draining ${service.stateDir} via ${service.relayName}; stop with Ctrl-C or SIGTERM\n`);
  try {
    await service.worker.run(stop.signal);
    return EXIT.OK;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await service.close();
  }
}

export async function logCommand(flags: QueueFlags & { id?: string; follow?: boolean }, io: Io): Promise<number> {
  const config = await loadConfigFast(flags.config ? { path: flags.config } : {});
  const stateDir = resolveStateDir(flags.stateDir, config);
  const print = (e: LogEvent) => io.stdout(`${flags.json ? JSON.stringify(e) : formatLine(e)}\n`);
  for (const e of readEvents(stateDir, flags.id)) print(e);
  if (!flags.follow) return EXIT.OK;
  const file = join(stateDir, JSON_LOG_FILE);
  let offset = existsSync(file) ? statSync(file).size : 0;
  let partial = '';
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  while (!stop.signal.aborted) {
    await new Promise((r) => setTimeout(r, 500));
    if (!existsSync(file)) continue;
    const size = statSync(file).size;
    if (size <= offset) continue;
    const fd = openSync(file, 'r');
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    closeSync(fd);
    offset = size;
    const lines = (partial + buf.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      const e = JSON.parse(line) as LogEvent;
      if (!flags.id || e.queueId === flags.id) print(e);
    }
  }
  return EXIT.OK;
}
