/**
 * `sendwell tokens create NAME | revoke ID | list`: bearer tokens for the
 * HTTP API of `sendwell serve`. Only a hash is stored (R11), so a new token
 * is shown exactly once.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, SendwellError } from '../errors.js';
import { loadConfig } from '../config/load.js';
import { DB_FILE } from '../queue/sqlite/index.js';
import { Credentials, type TokenInfo } from '../server/credentials.js';
import type { Io } from './output.js';
import { resolveStateDir } from './state-dir.js';

export interface TokensFlags {
  stateDir?: string;
  config?: string;
  json?: boolean;
}

export const TOKEN_ACTIONS = ['create', 'revoke', 'list'] as const;
export type TokensAction = (typeof TOKEN_ACTIONS)[number];

const TOKEN_ID = /^[0-9a-f]{12}$/;

const iso = (t: number) => new Date(t).toISOString();

function tokenJson(t: TokenInfo): Record<string, unknown> {
  return { id: t.id, name: t.name, created_at: iso(t.createdAt), revoked_at: t.revokedAt === null ? null : iso(t.revokedAt) };
}

/** `ID            NAME        CREATED               STATUS` */
export function formatTokens(tokens: TokenInfo[]): string {
  if (tokens.length === 0) return 'no API tokens; create one with `sendwell tokens create NAME`\n';
  const width = Math.max(4, ...tokens.map((t) => t.name.length));
  const when = (t: number) => iso(t).replace(/\.\d{3}Z$/, 'Z');
  let out = `${'ID'.padEnd(12)}  ${'NAME'.padEnd(width)}  ${'CREATED'.padEnd(20)}  STATUS\n`;
  for (const t of tokens) {
    out += `${t.id}  ${t.name.padEnd(width)}  ${when(t.createdAt)}  ${t.revokedAt === null ? 'active' : `revoked ${when(t.revokedAt)}`}\n`;
  }
  return out;
}

export async function tokensCommand(action: TokensAction | string, arg: string | undefined, flags: TokensFlags, io: Io): Promise<number> {
  if (!(TOKEN_ACTIONS as readonly string[]).includes(action)) {
    throw new SendwellError('EUSAGE', `unknown tokens action ${JSON.stringify(action)}`, { hint: `one of: ${TOKEN_ACTIONS.join(', ')}` });
  }
  if (action === 'create' && !arg) {
    throw new SendwellError('EUSAGE', 'sendwell tokens create needs a NAME', { hint: 'name the application that uses it, e.g. sendwell tokens create wiki' });
  }
  if (action === 'revoke' && (!arg || !TOKEN_ID.test(arg))) {
    throw new SendwellError('EUSAGE', arg ? `${JSON.stringify(arg)} is not a token ID` : 'sendwell tokens revoke needs a token ID', {
      hint: 'token IDs have 12 hex digits (the part after sw_); `sendwell tokens list` shows them',
    });
  }
  if (action === 'list' && arg !== undefined) {
    throw new SendwellError('EUSAGE', 'sendwell tokens list takes no argument', { hint: 'sendwell tokens list [--json]' });
  }
  const config = loadConfig(flags.config ? { path: flags.config } : {});
  const stateDir = resolveStateDir(flags.stateDir, config);
  if (action !== 'create' && !existsSync(join(stateDir, DB_FILE))) {
    // Nothing to list or revoke, and no reason to create a state directory for it.
    if (action === 'revoke') throw new SendwellError('EUSAGE', `no API token ${arg} in ${stateDir} (no state there yet)`, { hint: 'check --state-dir; `sendwell tokens list` shows the tokens' });
    io.stdout(flags.json ? '[]\n' : `no API tokens (no state in ${stateDir} yet); create one with \`sendwell tokens create NAME\`\n`);
    return EXIT.OK;
  }
  const credentials = new Credentials(stateDir);
  try {
    switch (action as TokensAction) {
      case 'create': {
        const { id, token } = credentials.createToken(arg!);
        if (flags.json) {
          io.stdout(`${JSON.stringify({ ok: true, id, name: arg, token, shown_once: true })}\n`);
        } else {
          // The token alone on stdout (TOKEN=$(sendwell tokens create wiki)); the words on stderr.
          io.stdout(`${token}\n`);
          io.stderr(
            `sendwell: created API token ${id} (${JSON.stringify(arg)}) in ${stateDir}\n` +
              '  this token is shown only once: store it now (e.g. in the application\'s secret store); only its hash is kept (R11)\n' +
              `  use it as: Authorization: Bearer <token>; revoke it with: sendwell tokens revoke ${id}\n`,
          );
        }
        return EXIT.OK;
      }
      case 'revoke': {
        const known = credentials.listTokens().find((t) => t.id === arg);
        if (!known) {
          throw new SendwellError('EUSAGE', `no API token ${arg} in ${stateDir}`, { hint: '`sendwell tokens list` shows the tokens (check --state-dir)' });
        }
        const revoked = credentials.revokeToken(arg!);
        if (flags.json) io.stdout(`${JSON.stringify({ ok: true, id: arg, name: known.name, action: revoked ? 'revoked' : 'already-revoked' })}\n`);
        else io.stdout(revoked ? `revoked API token ${arg} (${JSON.stringify(known.name)})\n` : `API token ${arg} (${JSON.stringify(known.name)}) was already revoked\n`);
        return EXIT.OK;
      }
      case 'list': {
        const tokens = credentials.listTokens();
        io.stdout(flags.json ? `${JSON.stringify(tokens.map(tokenJson))}\n` : formatTokens(tokens));
        return EXIT.OK;
      }
    }
  } finally {
    credentials.close();
  }
}
