/**
 * The daemon side of the maildrop (src/queue/maildrop.ts): watch the
 * directory, queue each message under the name of the file's owner, answer
 * with an `.ack` file, clean up what nobody picked up.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { SendwellError } from '../errors.js';
import { PICKUP_FILE, type Ack, type DropFile } from '../queue/maildrop.js';

/** Answers nobody waited for and files of crashed clients are removed after this long. */
const STALE_MS = 3_600_000;

export interface PickupHandler {
  /** Queue the message; `uid` is the owner of the file. Throws SendwellError for refusals. */
  (file: DropFile, uid: number): Promise<{ queueId: string; held: string[] }>;
}

/** Daemon side: watch the maildrop and queue what appears. */
export class Pickup {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly handle: PickupHandler,
    private readonly log: (level: 'info' | 'warning' | 'error', text: string) => void,
  ) {}

  start(): void {
    mkdirSync(this.dir, { recursive: true });
    // World-writable, sticky, not listable; the state directory must be traversable (0711).
    chmodSync(this.dir, 0o1733);
    const parent = join(this.dir, '..');
    if ((statSync(parent).mode & 0o011) !== 0o011) chmodSync(parent, statSync(parent).mode | 0o011);
    writeFileSync(join(this.dir, PICKUP_FILE), `${process.pid}\n`, { mode: 0o644 });
    try {
      this.watcher = watch(this.dir, () => this.scan());
    } catch {
      // No inotify here: the poll below is enough.
    }
    // The poll is the backstop for missed events (and files left by a previous run).
    this.timer = setInterval(() => this.scan(), 1000);
    this.timer.unref();
    this.scan();
  }

  private scan(): void {
    this.busy = this.busy.then(() => this.pickAll()).catch((err: Error) => this.log('error', `maildrop: ${err.message}`));
  }

  private async pickAll(): Promise<void> {
    let all: string[];
    try {
      all = readdirSync(this.dir);
    } catch {
      return;
    }
    // Answers nobody waited for and files of crashed clients go after an hour.
    for (const n of all.filter((x) => /\.(ack|tmp)$/.test(x))) {
      try {
        if (Date.now() - statSync(join(this.dir, n)).mtimeMs > STALE_MS) unlinkSync(join(this.dir, n));
      } catch {
        // raced with the client
      }
    }
    const names = all.filter((n) => /^[0-9a-f]{32}\.msg$/.test(n));
    for (const n of names) {
      const path = join(this.dir, n);
      const ackPath = path.replace(/\.msg$/, '.ack');
      let ack: Ack;
      let uid = -1;
      try {
        uid = statSync(path).uid;
        const file = JSON.parse(readFileSync(path, 'utf8')) as DropFile;
        if (file.version !== 1 || !Array.isArray(file.recipients) || typeof file.raw !== 'string') throw new SendwellError('EMESSAGE', 'not a sendwell maildrop file', { hint: 'write it with the sendwell CLI or library' });
        const r = await this.handle(file, uid);
        ack = { ok: true, queueId: r.queueId, held: r.held };
      } catch (err) {
        const e = err instanceof SendwellError ? err : new SendwellError('EMESSAGE', String((err as Error).message ?? err), { hint: '' });
        ack = { ok: false, error: { code: e.code, message: e.message, hint: e.hint } };
        this.log('warning', `maildrop: refused a message from uid ${uid}: ${e.message}`);
      }
      const tmp = `${ackPath}.tmp`;
      writeFileSync(tmp, JSON.stringify(ack), { mode: 0o644 });
      renameSync(tmp, ackPath);
      // Queued (or refused with an answer): the drop file is done.
      unlinkSync(path);
    }
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    await this.busy;
    try {
      unlinkSync(join(this.dir, PICKUP_FILE));
    } catch {
      // already gone
    }
  }
}

/** Login name for a uid, from /etc/passwd (no getpwuid in Node). */
export function userName(uid: number): string {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (Number(f[2]) === uid && f[0]) return f[0];
    }
  } catch {
    // fall through
  }
  return `uid${uid}`;
}
