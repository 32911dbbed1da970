/** `sendwell serve`: run the daemon until SIGTERM/SIGINT; SIGHUP reloads the configuration. */
import { EXIT } from '../errors.js';
import { loadConfig } from '../config/load.js';
import { Daemon, journalLogger } from '../server/daemon.js';
import type { Io } from './output.js';
import { resolveStateDir } from './state-dir.js';

export interface ServeFlags {
  config?: string;
  stateDir?: string;
  relay?: string;
  smtp?: boolean;
  http?: boolean;
  requireRelay?: boolean;
}

export async function serveCommand(flags: ServeFlags, _io: Io): Promise<number> {
  const log = journalLogger();
  const start = () => {
    const config = loadConfig(flags.config ? { path: flags.config } : {});
    return Daemon.start({
      config,
      stateDir: resolveStateDir(flags.stateDir, config),
      ...(flags.smtp === false ? { smtp: false } : {}),
      ...(flags.http === false ? { http: false } : {}),
      ...(flags.relay ? { relay: flags.relay } : {}),
      ...(flags.requireRelay ? { requireRelay: true } : {}),
      log,
    });
  };
  // A SIGHUP while starting (e.g. from a service manager right after the listeners
  // answer) must not kill the process, which is its default action: reload once started.
  let hupWhileStarting = false;
  const early = () => (hupWhileStarting = true);
  process.on('SIGHUP', early);
  let daemon = await start();
  process.off('SIGHUP', early);
  await new Promise<void>((resolve) => {
    let reloading = false;
    const stop = (signal: string) => {
      log('info', `${signal}: shutting down`);
      process.off('SIGHUP', onHup);
      void daemon.stop().then(resolve);
    };
    const onHup = () => {
      if (reloading) return;
      reloading = true;
      log('info', 'SIGHUP: reloading the configuration');
      // Validate first: a broken config file keeps the running daemon as it is.
      try {
        loadConfig(flags.config ? { path: flags.config } : {});
      } catch (err) {
        log('error', `reload refused, keeping the running configuration: ${(err as Error).message}`);
        reloading = false;
        return;
      }
      void daemon
        .stop()
        .then(start)
        .then((d) => {
          daemon = d;
          log('info', 'reloaded');
        })
        .catch((err: Error) => {
          log('error', `reload failed: ${err.message}`);
          resolve();
        })
        .finally(() => (reloading = false));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', onHup);
    if (hupWhileStarting) onHup();
  });
  return EXIT.OK;
}
