/** Run the built `sendwell` binary (or another script) as a child process, as users do. */
import { spawn } from 'node:child_process';

/** package.json's `sendwell` bin (dist/cli/bin.cjs); BIN_ESM is its ES-module twin. */
export const BIN = new URL('../../dist/cli/bin.cjs', import.meta.url).pathname;
export const BIN_ESM = new URL('../../dist/cli/bin.js', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** The environment is PATH and TZ=UTC plus these: a developer's SENDWELL_* variables stay out. */
  env?: Record<string, string>;
  stdin?: string | Buffer;
  /** Script to run instead of the sendwell binary. */
  script?: string;
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.script ?? BIN, ...args], {
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      env: { PATH: process.env.PATH ?? '', TZ: 'UTC', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined); // a command may stop reading early (sendmail's lone dot)
    child.stdin.end(opts.stdin ?? '');
  });
}
