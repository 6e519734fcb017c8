// `ztmesh sidecar`: parses config (file, ZTMESH_* env, flags), calls the composition root and handles signals.
// SIGTERM/SIGINT drain once; a second signal exits at once.
import { Command, Option } from 'commander';
import { describe } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { buildSidecar } from '../sidecar/app.js';
import { CONFIG_KEYS, loadSidecarConfig } from '../sidecar/config.js';

/** Registers the `sidecar` command with one flag per configuration key. */
export function register(program: Command): void {
  const cmd = program
    .command('sidecar')
    .description('run the workload sidecar: SVID rotation, mTLS listeners, admin (127.0.0.1:15000) and health (0.0.0.0:15021)')
    .option('--config <file>', 'YAML configuration file (env ZTMESH_* and flags override it)');
  for (const k of CONFIG_KEYS) {
    const opt = k.kind === 'bool' ? new Option(`--${k.flag}`, `${k.description} [${k.env}]`) : new Option(`--${k.flag} <value>`, `${k.description} [${k.env}]`);
    cmd.addOption(opt);
  }
  cmd.action(async (opts: Record<string, unknown>) => {
    const boot = createLogger({ name: 'ztmesh-sidecar' });
    let sidecar;
    try {
      const config = loadSidecarConfig({ ...(typeof opts.config === 'string' ? { file: opts.config } : {}), env: process.env, flags: opts });
      sidecar = await buildSidecar(config);
    } catch (e) {
      const { code, message } = describe(e);
      boot.fatal({ code, err: message }, 'sidecar failed to start');
      boot.flush();
      process.exitCode = 1;
      return;
    }
    const { log } = sidecar;
    log.info({ admin: sidecar.adminAddress, health: sidecar.healthAddress, trustDomain: sidecar.config.trustDomain, ca: sidecar.config.ca.address }, 'admin listening');
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn({ signal }, 'second signal: exiting now');
        log.flush();
        process.exit(1);
      }
      log.info({ signal }, 'shutting down');
      void sidecar.shutdown().then(() => {
        log.info('stopped');
        log.flush(() => process.exit(0));
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // Keep the process alive: every timer is unref'd, servers keep the loop busy.
  });
}
