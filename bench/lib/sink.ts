/**
 * Postfix's smtp-sink as the receiving end: a fresh one per run, on a port
 * nothing else listens on (smtp-sink binds with SO_REUSEPORT, so a stale
 * listener would silently take half the connections: refuse to start then).
 * `-c` makes it print a running `sess=… quit=… mesg=N` counter, which is how
 * a run proves the receiver got every message. The counter goes to a file
 * and is read when asked: through a pipe, this process would wake for every
 * message and take CPU from the client being measured on a 2-core machine.
 * (Through a pipe it also stalled the sink whenever this process was blocked
 * in execFileSync(smtp-source) in bench/ingest.ts: the pipe filled and the
 * sink stopped accepting mail.) The file is on tmpfs (/dev/shm) where there is
 * one, so the counter adds no disk writes beside the fsyncs being measured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SMTP_SINK = process.env.SMTP_SINK ?? '/usr/sbin/smtp-sink';

export function haveSink(): boolean {
  return existsSync(SMTP_SINK);
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

export interface Sink {
  port: number;
  url: string;
  /** Messages the sink has counted so far. */
  messages(): number;
  /** Wait until the counter reaches n (or the deadline passes); returns the count. */
  waitFor(n: number, timeoutMs: number): Promise<number>;
  stop(): Promise<number>;
}

export async function startSink(backlog = 1024): Promise<Sink> {
  if (!haveSink()) throw new Error(`${SMTP_SINK} not found (Debian: apt-get install postfix; set SMTP_SINK to another path)`);
  let port = 0;
  for (let tries = 0; tries < 10 && port === 0; tries++) {
    const p = await freePort();
    if (!(await listening(p))) port = p;
  }
  if (port === 0) throw new Error('no free port for smtp-sink');
  const args = [...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), '-c', `127.0.0.1:${port}`, String(backlog)];
  const scratch = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'swbench-sink-'));
  const out = openSync(join(scratch, 'counter'), 'w+');
  const child: ChildProcess = spawn(SMTP_SINK, args, { stdio: ['ignore', out, 'pipe'] });
  let stderr = '';
  /** The last `mesg=N` the sink wrote (its counter lines end in CR). */
  const count = (): number => {
    const size = fstatSync(out).size;
    const tail = Buffer.alloc(Math.min(size, 200));
    readSync(out, tail, 0, tail.length, size - tail.length);
    const all = [...tail.toString('latin1').matchAll(/mesg=(\d+)/g)];
    return all.length ? Number(all[all.length - 1]![1]) : 0;
  };
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 5000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      closeSync(out);
      rmSync(scratch, { recursive: true, force: true });
      throw new Error(`smtp-sink did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  let stopped: number | undefined;
  const sink: Sink = {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages: count,
    async waitFor(n, timeoutMs) {
      const end = Date.now() + timeoutMs;
      while (count() < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      return count();
    },
    async stop() {
      if (stopped !== undefined) return stopped;
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      const n = count();
      // messages() and waitFor() stay answerable after stop (the counter is kept in memory from here).
      stopped = n;
      sink.messages = () => n;
      sink.waitFor = async () => n;
      closeSync(out);
      rmSync(scratch, { recursive: true, force: true });
      return n;
    },
  };
  return sink;
}
