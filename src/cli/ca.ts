// `ztmesh ca`: init a CA directory, serve the CA, mint join tokens (`ca root`, `ca audit`: ca-root.ts, ca-audit.ts).
// Each action parses flags once and hands off to src/ca (serve: buildCaServer is the composition root).
import { ZTMESH_VERSION } from '../common/version.js';
import path from 'node:path';
import { Command, Option } from 'commander';
import { systemClock } from '../common/clock.js';
import { ConfigError, PolicyError, describe } from '../common/errors.js';
import { parseDuration } from '../common/duration.js';
import { CA_NAMESPACE, DEFAULT_TRUST_DOMAIN, TOKEN_AUDIENCE } from '../common/mesh.js';
import { parseSpiffeId } from '../pki/spiffe-id.js';
import { DEFAULT_INBOUND_MODE, INBOUND_MODES } from '../mesh/kinds.js';
import {
  parseServeConfig, defaultSignWorkers, DEFAULT_ADMIN, DEFAULT_DRAIN, DEFAULT_LISTEN, DEFAULT_RATE_BURST, DEFAULT_RATE_PER_SECOND, DEFAULT_TTL,
  DEFAULT_MIN_TTL, DEFAULT_MAX_TTL, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_SOURCE, DEFAULT_AUDIT_LOG_MAX_SIZE,
  DEFAULT_JWT_KEY_PERIOD, DEFAULT_JWT_MAX_TTL, DEFAULT_JWT_TTL,
} from '../ca/config.js';
import { assertNotReserved, parseReservedGrants } from '../ca/signing/reserved-ids.js';
import { assertCaDir, initCaDir, loadCaState } from '../ca/state-dir.js';
import { caManifests } from '../ca/manifests.js';
import { isJoinToken, JoinTokenStore } from '../ca/attestors/join-tokens.js';
import { buildCaServer } from '../ca/build.js';
import { k8sAttestorsFromFlags, k8sMembershipFeedFromFlags, k8sPolicyFeedFromFlags } from '../k8s/ca-attestor-flags.js';
import { DEFAULT_MESH_DEFAULT, MESH_DEFAULTS } from '../policy/model.js';
import { addLogFormatOption, commandLogger } from './log-options.js';
import { registerCaStatus } from './ca-status.js';
import { registerRoot } from './ca-root.js';
import { registerAudit } from './ca-audit.js';
import { checkSecretOutput, writeSecretOutput } from './secret-output.js';
import { caDirCommand, collect } from './options.js';

/** Default lifetime of a join token. */
export const DEFAULT_JOIN_TOKEN_TTL = '1h';


/** Registers `ca init`, `ca serve`, `ca status`, `ca token create`, `ca root …` and `ca audit verify`. */
export function register(program: Command): void {
  const ca = program.command('ca').description('the ztmesh certificate authority');

  caDirCommand(ca, 'init', 'create a root CA in DIR (ca.pem, ca.key 0600, bundle.pem); refuses to overwrite', 'created if missing')
    .option('--trust-domain <td>', 'trust domain', DEFAULT_TRUST_DOMAIN)
    .option('--k8s-secret [file]', 'also write the Secret and trust bundle ConfigMap manifests, which hold the CA key, to FILE (mode 0600, never over '
      + 'another file) or, without FILE, to stdout (a file it is redirected to is made 0600) (default: off)')
    .action(async (opts: { dir: string; trustDomain: string; k8sSecret?: boolean | string }) => {
      const file = typeof opts.k8sSecret === 'string' ? opts.k8sSecret : undefined;
      const out = { file, flag: '--k8s-secret', what: 'Kubernetes Secret' };
      await checkSecretOutput(out);
      const files = await initCaDir(opts.dir, opts.trustDomain, systemClock.now());
      process.stderr.write(`ztmesh: created a root CA for trust domain ${opts.trustDomain} in ${path.resolve(opts.dir)}\n`);
      if (opts.k8sSecret) {
        await writeSecretOutput(caManifests(files), out);
        if (file) process.stderr.write(`ztmesh: wrote the Secret and ConfigMap (the CA key inside: keep it out of git) to ${file} (mode 0600)\n`);
      }
    });

  const serve = caDirCommand(ca, 'serve', 'serve the CA over gRPC/TLS')
    .option('--trust-domain <td>', 'trust domain (default: read from ca.pem)')
    .option('--listen <host:port>', 'gRPC address', DEFAULT_LISTEN)
    .option('--admin <host:port>', 'admin HTTP address (/healthz, /readyz, /metrics)', DEFAULT_ADMIN)
    .option('--admin-allow-remote', 'allow --admin on a non-loopback address, e.g. 0.0.0.0 for kubelet probes (logs a warning) (default: off)')
    .option('--default-ttl <duration>', 'leaf TTL when the caller asks for none', DEFAULT_TTL)
    .option('--min-ttl <duration>', 'lowest TTL issued', DEFAULT_MIN_TTL)
    .option('--max-ttl <duration>', 'highest TTL issued', DEFAULT_MAX_TTL)
    .option('--dns <name>', 'DNS SAN of the serving certificate (repeatable) (default: localhost)', collect)
    .addOption(new Option('--rate-limit <per-second>', 'signatures per second per identity (0 = unlimited)').default(String(DEFAULT_RATE_PER_SECOND)))
    .addOption(new Option('--rate-burst <n>', 'burst size of the per-identity rate limit').default(String(DEFAULT_RATE_BURST)))
    .addOption(new Option('--sign-workers <n>', 'signing worker threads (0 = sign on the main thread)').default(String(defaultSignWorkers()), `${defaultSignWorkers()}: one per core, at most 4`))
    .addOption(new Option('--drain <duration>', 'how long SIGTERM waits for in-flight calls').default(DEFAULT_DRAIN))
    .addOption(new Option('--handshake-timeout <duration>', 'close a connection whose TLS handshake has not finished by then').default(DEFAULT_HANDSHAKE_TIMEOUT))
    .addOption(new Option('--max-connections <n>', 'connections held at once; lowered to fit the open-file limit').default(String(DEFAULT_MAX_CONNECTIONS)))
    .addOption(new Option('--max-connections-per-source <n>', 'connections held at once from one address').default(String(DEFAULT_MAX_CONNECTIONS_PER_SOURCE)))
    .option('--grant-reserved-id <spiffe-id>', `sign this reserved ID (one in ${CA_NAMESPACE}) when attested, e.g. the webhook (repeatable) (default: none)`, collect)
    .option('--audit-log <file>', 'append a hash-chained JSON line per issuance and refusal to FILE, one file per replica (default: none, stdout only)')
    .addOption(new Option('--audit-log-max-size <size>', 'size at which the log moves to FILE.1 and FILE continues the chain').default(DEFAULT_AUDIT_LOG_MAX_SIZE))
    .addOption(new Option('--jwt-ttl <duration>', 'JWT-SVID lifetime when the caller asks for none').default(DEFAULT_JWT_TTL))
    .addOption(new Option('--jwt-max-ttl <duration>', 'longest JWT-SVID lifetime').default(DEFAULT_JWT_MAX_TTL))
    .addOption(new Option('--jwt-key-period <duration>', 'how long one JWT signing key signs (the next is published a period ahead)').default(DEFAULT_JWT_KEY_PERIOD))
    // The mesh stream (docs/transparent.md "Which destinations are meshed").
    .option('--meshed-cidrs <cidrs>', 'CIDRs whose every address runs a sidecar: transparent outbounds use mTLS there (comma-separated, repeatable) (default: none)', collect)
    .addOption(new Option('--default-inbound-mode <mode>', 'inbound mode of transparent sidecars that set none: strict refuses plaintext, permissive forwards it').choices([...INBOUND_MODES]).default(DEFAULT_INBOUND_MODE))
    // Authorization policy (docs/authorization.md).
    .addOption(new Option('--default-policy <policy>', 'the mesh default when no AuthorizationPolicy decides: allow admits the trust domain, deny refuses').choices([...MESH_DEFAULTS]).default(DEFAULT_MESH_DEFAULT))
    .option('--policy-dir <dir>', 'AuthorizationPolicies from the *.yaml, *.yml and *.json files of DIR, reloaded when they change (default: none)')
    // Kubernetes: attest projected ServiceAccount tokens with the TokenReview API (src/k8s).
    .option('--k8s-token-review', 'attest Kubernetes ServiceAccount tokens with the TokenReview API (default: off)')
    .option('--k8s-audience <aud>', 'audience the projected tokens must carry', TOKEN_AUDIENCE)
    .option('--k8s-api <url>', 'API server URL (default: in-cluster KUBERNETES_SERVICE_HOST/PORT)')
    .option('--k8s-token-file <file>', "the CA's own ServiceAccount token (default: in-cluster path)")
    .option('--k8s-ca-file <file>', 'PEM roots of the API server (default: in-cluster ca.crt)')
    .option('--k8s-server-name <name>', 'TLS name to verify on the API server, if not the URL host (default: the URL host)')
    .option('--k8s-dns-san <ns/sa=dns>', 'grant DNS SANs to one ServiceAccount (repeatable), e.g. for the webhook (default: none)', collect)
    .option('--k8s-cache-ttl <duration>', 'how long a positive TokenReview is reused (never past the token exp) (default: 60s)')
    .option('--k8s-mesh-watch', 'membership from Kubernetes: list and watch meshed Pods, Services and EndpointSlices (default: off)')
    .option('--k8s-policy-watch', 'AuthorizationPolicies from Kubernetes: list and watch the ztmesh.io CRD, Events on invalid objects (default: off)');
  addLogFormatOption(serve).action(async (flags: Record<string, string | string[] | boolean | undefined>) => {
    const log = commandLogger('ztmesh-ca', flags);
    log.info({ version: ZTMESH_VERSION }, `ztmesh ca ${ZTMESH_VERSION} starting`);
    let fatal: Error | undefined;
    let stop: ((why: string) => void) | undefined;
    try {
      const config = parseServeConfig(flags);
      const k8s = { dir: config.dir, trustDomain: config.trustDomain, log, clock: systemClock };
      const extraAttestors = await k8sAttestorsFromFlags(flags, k8s);
      const membershipFeed = await k8sMembershipFeedFromFlags(flags, k8s);
      const policyFeed = k8sPolicyFeedFromFlags(flags, k8s);
      const ca = await buildCaServer(config, {
        log, extraAttestors, ...(membershipFeed ? { membershipFeed } : {}), ...(policyFeed ? { policyFeed } : {}),
        // The CA cannot go on (its working directory was removed). It is not ready already; leave probes and load
        // balancers one drain period to notice, then drain as for SIGTERM and exit 1.
        onFatal: (err) => {
          fatal = err;
          systemClock.setTimeout(() => stop?.('fatal'), config.drainMs);
        },
      });
      log.info({
        grpc: ca.grpcAddress, grpcPort: ca.grpcPort, admin: ca.adminAddress, adminPort: ca.adminPort,
        trustDomain: ca.trustDomain, signer: ca.signerMode,
      }, 'ztmesh ca serving');
      await new Promise<void>((resolve) => {
        let stopping = false;
        stop = (why: string) => {
          if (stopping) {
            log.warn({ signal: why }, 'second signal: exiting now');
            process.exit(1);
          }
          stopping = true;
          log.info({ signal: why, drainMs: config.drainMs }, 'draining');
          ca.close().then(resolve, resolve);
        };
        process.on('SIGTERM', () => stop!('SIGTERM'));
        process.on('SIGINT', () => stop!('SIGINT'));
      });
    } catch (e) {
      const { code, message } = describe(e);
      log.fatal({ code, err: message }, 'ztmesh ca failed to start');
      log.flush();
      throw e; // cli/main.ts prints the one plain stderr line
    }
    if (fatal) {
      log.fatal({ code: (fatal as ConfigError).code, err: fatal.message }, 'ztmesh ca stopped');
      log.flush();
      throw fatal;
    }
    log.info('ztmesh ca stopped');
    log.flush();
  });

  registerCaStatus(ca);
  registerRoot(ca);
  registerAudit(ca);

  const token = ca.command('token').description('join tokens for workloads outside Kubernetes');
  caDirCommand(token, 'create', 'mint a single-use join token for one SPIFFE ID and print it once')
    .requiredOption('--spiffe-id <id>', 'the SPIFFE ID the token grants (required)')
    .option('--ttl <duration>', 'how long the token stays usable', DEFAULT_JOIN_TOKEN_TTL)
    .option('--grant-reserved-id <spiffe-id>', 'allow a token for this reserved ID; "ca serve" must grant it too (repeatable) (default: none)', collect)
    .option('--out <file>', 'write the token to FILE, mode 0600, replacing only an earlier join token there (default: stdout)')
    .action(async (opts: { dir: string; spiffeId: string; ttl: string; grantReservedId?: string[]; out?: string }) => {
      await assertCaDir(opts.dir);
      const ttlMs = parseDuration(opts.ttl);
      if (ttlMs === undefined || ttlMs <= 0) throw new ConfigError('invalid_flag', `--ttl "${opts.ttl}": not a positive duration`);
      const id = parseSpiffeId(opts.spiffeId);
      const state = await loadCaState(opts.dir);
      if (id.trustDomain !== state.trustDomain) {
        throw new ConfigError('foreign_trust_domain', `--spiffe-id ${opts.spiffeId} is outside the CA's trust domain ${state.trustDomain}`);
      }
      // The CA would refuse to sign for it anyway; saying so now beats a token that can never be redeemed.
      try {
        assertNotReserved(id.uri, { trustDomain: state.trustDomain, granted: parseReservedGrants(opts.grantReservedId ?? [], state.trustDomain) });
      } catch (e) {
        if (e instanceof PolicyError) throw new ConfigError(e.code, `--spiffe-id ${e.message}`);
        throw e;
      }
      // An earlier token may be replaced (the stranded sidecar's recovery writes over its spent one), nothing else.
      const out = { file: opts.out, flag: '--out', what: 'join token', replaceable: (t: string) => isJoinToken(t.trim()) && !t.trim().includes('\n') };
      await checkSecretOutput(out);
      const { token: value, record } = await new JoinTokenStore(opts.dir).create(id.uri, ttlMs, systemClock.now());
      await writeSecretOutput(`${value}\n`, out);
      process.stderr.write(`ztmesh: join token for ${id.uri}, single use, expires ${new Date(record.expiresAtMs).toISOString()}${opts.out ? `, written to ${opts.out} (mode 0600)` : ''}\n`);
    });
}
