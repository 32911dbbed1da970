import { resolve } from 'node:path';
import type { ResolvedConfig } from '../config/resolve.js';

/** The state directory: --state-dir, SENDWELL_STATE_DIR, state_dir, else ./.sendwell. A module of its own so commands load no more than this. */
export function resolveStateDir(flag: string | undefined, config: ResolvedConfig, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.SENDWELL_STATE_DIR ?? config.stateDir ?? '.sendwell');
}
