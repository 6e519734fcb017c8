// `ztmesh check`: is the install healthy? Reads the cluster through the user's kubeconfig
// (src/k8s/kubeconfig-client.ts), runs the checks (src/k8s/check/) and prints ✔/‼/✘ with hints; exit 0 unless one fails.
import { Command, Option } from 'commander';
import { describe } from '../common/errors.js';
import { kubeconfigClient } from '../k8s/kubeconfig-client.js';
import { formatCheckReport } from '../k8s/check/check-result.js';
import { DEFAULT_CHECK_NAMESPACE, runChecks } from '../k8s/check/run-checks.js';

/** Registers the `check` command. */
export function register(program: Command): void {
  program
    .command('check')
    .description('check a ztmesh install (or, with --pre, a cluster before installing) through your kubeconfig; '
      + 'prints ✔, ‼ or ✘ per check with a hint, exit code 0 only when no check fails')
    .option('--pre', 'check the cluster before installing: API, Kubernetes version, your permission to install (default: check the install)')
    .option('--kubeconfig <file>', 'the kubeconfig to use (default: $KUBECONFIG or ~/.kube/config, as kubectl)')
    .option('--context <name>', 'the kubeconfig context to use (default: the current context)')
    .option('-n, --namespace <ns>', 'the control plane\'s namespace', DEFAULT_CHECK_NAMESPACE)
    .option('--legacy-sidecar', 'you inject with --legacy-sidecar (clusters older than 1.29) (default: read from the webhook\'s args)')
    .option('--proxy', 'also check the meshed pods: sidecars on another image than the control plane injects, or not ready (default: off)')
    .addOption(new Option('-o, --output <format>', 'text for people, json for scripts').choices(['text', 'json']).default('text'))
    .action(async (opts: { pre?: boolean; kubeconfig?: string; context?: string; namespace: string; legacySidecar?: boolean; proxy?: boolean; output: 'text' | 'json' }) => {
      let target: { context: string; server: string } | undefined;
      try {
        const t = kubeconfigClient({ ...(opts.kubeconfig ? { file: opts.kubeconfig } : {}), ...(opts.context ? { context: opts.context } : {}) });
        target = { context: t.context, server: t.server };
        const report = await runChecks(t.client, { context: t.context, server: t.server }, {
          namespace: opts.namespace, pre: opts.pre === true, legacySidecar: opts.legacySidecar === true, proxy: opts.proxy === true, nowMs: Date.now(),
        });
        process.stdout.write(opts.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatCheckReport(report));
        process.exitCode = report.ok ? 0 : 1;
      } catch (e) {
        // Scripts read stdout: with -o json every path prints JSON there; the one plain line still goes to stderr.
        if (opts.output === 'json') {
          const { code, message } = describe(e);
          process.stdout.write(`${JSON.stringify({ ok: false, ...(target ?? {}), namespace: opts.namespace, pre: opts.pre === true, error: { code, message } }, null, 2)}\n`);
        }
        throw e;
      }
    });
}
