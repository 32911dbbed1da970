/**
 * Postfix's smtp-sink as the receiving end: a fresh one per run, on a port
 * nothing else listens on (smtp-sink binds with SO_REUSEPORT, so a stale
 * listener would silently take half the connections: refuse to start then).
 * `-c` makes it print a running `sess=… quit=… mesg=N` counter, which is how
 * a run proves the receiver got every message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';

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
  const child: ChildProcess = spawn(SMTP_SINK, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let count = 0;
  let tail = '';
  let stderr = '';
  child.stdout!.setEncoding('latin1');
  child.stdout!.on('data', (d: string) => {
    tail = (tail + d).slice(-200);
    const all = [...tail.matchAll(/mesg=(\d+)/g)];
    if (all.length) count = Number(all[all.length - 1]![1]);
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 5000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`smtp-sink did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const sink: Sink = {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages: () => count,
    async waitFor(n, timeoutMs) {
      const end = Date.now() + timeoutMs;
      while (count < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      return count;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      return count;
    },
  };
  return sink;
}
