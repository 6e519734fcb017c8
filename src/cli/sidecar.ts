// `ztmesh sidecar`: parses config (file, ZTMESH_* env, flags), calls the composition root and handles signals.
// SIGTERM/SIGINT drain once; a second signal exits at once; SIGHUP reloads the inbound policies.
import { ZTMESH_VERSION } from '../common/version.js';
import { Command, Option } from 'commander';
import { describe } from '../common/errors.js';
import { createLogger, resolveLogFormat, type LogFormat } from '../common/logger.js';
import { DEFAULT_ADMIN, DEFAULT_HEALTH } from '../sidecar/config-schema.js';
import { buildSidecar } from '../sidecar/app.js';
import { CONFIG_KEYS, KEY_DEFAULTS, loadSidecarConfig } from '../sidecar/config.js';

/** The log format before (or without) the config's logFormat: $ZTMESH_LOG_FORMAT, else text on a terminal. */
function defaultFormat(): LogFormat {
  try {
    return resolveLogFormat(undefined, process.env, process.stdout.isTTY);
  } catch {
    return process.stdout.isTTY ? 'text' : 'json'; // a bad value is reported by the config loader, naming the key
  }
}

/** Registers the `sidecar` command with one flag per configuration key. */
export function register(program: Command): void {
  const cmd = program
    .command('sidecar')
    .description(`run the workload sidecar: SVID rotation, mTLS listeners, admin (${DEFAULT_ADMIN}) and health (${DEFAULT_HEALTH})`)
    .option('--config <file>', 'YAML configuration file (env ZTMESH_* and flags override it) (default: none)');
  for (const k of CONFIG_KEYS) {
    // The default is shown, not set: a commander default would hide the file's and the environment's values.
    const dflt = KEY_DEFAULTS[k.path];
    const text = `${k.description}${dflt === undefined ? '' : ` (default: ${dflt})`} [${k.env}]`;
    // A boolean flag alone means true; `--flag false` turns off one that defaults to true (authz.revokeEstablished).
    cmd.addOption(k.kind === 'bool' ? new Option(`--${k.flag} [true|false]`, text) : new Option(`--${k.flag} <value>`, text));
  }
  cmd.action(async (opts: Record<string, unknown>) => {
    let log = createLogger({ name: 'ztmesh-sidecar', format: defaultFormat() });
    let sidecar;
    const sources = { ...(typeof opts.config === 'string' ? { file: opts.config } : {}), env: process.env, flags: opts };
    try {
      const config = loadSidecarConfig(sources);
      log = createLogger({ level: config.logLevel, name: 'ztmesh-sidecar', format: config.logFormat ?? defaultFormat() });
      log.info({ version: ZTMESH_VERSION }, `ztmesh sidecar ${ZTMESH_VERSION} starting`);
      sidecar = await buildSidecar(config, { log });
    } catch (e) {
      const { code, message } = describe(e);
      log.fatal({ code, err: message, version: ZTMESH_VERSION }, 'sidecar failed to start');
      log.flush();
      throw e; // cli/main.ts prints the one plain stderr line
    }
    log.info({ admin: sidecar.adminAddress, health: sidecar.healthAddress, ...(sidecar.metricsAddress ? { metrics: sidecar.metricsAddress } : {}), trustDomain: sidecar.config.trustDomain, ca: sidecar.config.ca.address }, 'admin listening');
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
    // The same sources again (the file re-read); a configuration that does not load changes nothing.
    process.on('SIGHUP', () => {
      try {
        sidecar.reload(loadSidecarConfig(sources));
      } catch (e) {
        const { code, message } = describe(e);
        log.error({ code, err: message }, 'configuration reload refused: nothing changed');
      }
    });
    // Keep the process alive: every timer is unref'd, servers keep the loop busy.
  });
}
