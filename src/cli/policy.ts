// `ztmesh policy explain` (would X reach W on port P, and which policy decides?) and `ztmesh policy validate` (for CI
// pipelines). Both read policies as the CA does: files through the CA's reader and store (ca/policy/), or the CA's own
// GET /policies, and decide with the one decision (policy/decide.ts); explain's --allow is the workload's own allow list,
// the ALLOW policy `local` its sidecar adds.
// Exit codes: explain 0 allow, 1 deny, 2 bad input; validate 0 valid, 1 problems found, 2 bad input.
import path from 'node:path';
import { Command, Option } from 'commander';
import { ZtmeshError } from '../common/errors.js';
import { readPolicyDir, readPolicyFile } from '../ca/policy/policy-dir.js';
import { PolicyStore, type SourceUpdate } from '../ca/policy/policy-store.js';
import { compileLocal, compilePolicies } from '../policy/compile.js';
import { decide, dryRunDifferences, type Decision } from '../policy/decide.js';
import { DEFAULT_MESH_DEFAULT, LOCAL_POLICY, MESH_DEFAULTS, policyKey, type AuthorizationPolicy, type MeshDefault } from '../policy/model.js';
import { parsePolicyObject, policyDocument, problemLine, type ParsedFile } from '../policy/parse.js';
import { parseSpiffeId, parseSpiffePattern } from '../pki/spiffe-id.js';
import { fetchPolicies } from './ca-status.js';
import { adminUrl } from './status.js';

export const EXIT_ALLOW = 0;
export const EXIT_DENY = 1;
export const EXIT_VALID = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_BAD_INPUT = 2;

/** A refusal of the input itself: the one stderr line and exit code 2. */
const badInput = (code: string, message: string) => Object.assign(new ZtmeshError(code, message), { exitCode: EXIT_BAD_INPUT });

interface SourceFlags {
  dir?: string;
  file?: string[];
}

/** The policies of --dir or -f files, merged as the CA merges them (one name once; problems per file and object). */
async function readLocal(flags: SourceFlags): Promise<{ store: PolicyStore; files: number }> {
  if (!!flags.dir === !!flags.file?.length) throw badInput('invalid_flag', 'give exactly one of --dir DIR or -f FILE (repeatable)');
  let files: Map<string, ParsedFile>;
  if (flags.dir) {
    try {
      files = await readPolicyDir(flags.dir);
    } catch (e) {
      throw badInput('policy_dir_unreadable', `--dir "${flags.dir}": ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (e as Error).message}`);
    }
  } else {
    files = new Map();
    for (const f of flags.file!) files.set(f, await readPolicyFile(f));
  }
  const store = new PolicyStore(DEFAULT_MESH_DEFAULT);
  store.replaceSources(new Map<string, SourceUpdate>([...files].map(([f, parsed]) => [f, { source: path.relative(process.cwd(), f) || f, parsed: relabel(parsed, f) }])));
  return { store, files: files.size };
}

/** Problems name files as the user gave them, relative to here. */
function relabel(parsed: ParsedFile, file: string): ParsedFile {
  const shown = path.relative(process.cwd(), file) || file;
  return { ...parsed, problems: parsed.problems.map((p) => ({ ...p, source: shown })) };
}

/** GET /policies of a CA admin: every policy in force and the mesh default. */
async function readCa(base: string): Promise<{ policies: AuthorizationPolicy[]; defaultPolicy: MeshDefault }> {
  const body = await fetchPolicies(base);
  const policies: AuthorizationPolicy[] = [];
  for (const p of body.policies) {
    const r = parsePolicyObject(policyDocument(p));
    if (!r.ok) throw badInput('not_a_ca_admin', `${base}/policies holds a policy ztmesh cannot read: ${r.key ?? '?'}`);
    policies.push(r.policy);
  }
  return { policies, defaultPolicy: body.defaultPolicy };
}

function spiffeIdFlag(flag: string, value: string): string {
  try {
    return parseSpiffeId(value).uri;
  } catch (e) {
    throw badInput('invalid_flag', `${flag} "${value}": ${(e as Error).message}`);
  }
}

/** --allow's patterns (repeatable, each comma-separated as the `ztmesh.io/allow` annotation); undefined when not given. */
function allowFlag(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  const patterns = values.flatMap((v) => v.split(',')).map((p) => p.trim()).filter(Boolean);
  if (patterns.length === 0) throw badInput('invalid_flag', '--allow: no SPIFFE ID pattern given');
  for (const p of patterns) {
    try {
      parseSpiffePattern(p);
    } catch (e) {
      throw badInput('invalid_flag', `--allow "${p}": ${(e as Error).message}`);
    }
  }
  return patterns;
}

const REASON_TEXT: Record<Decision['reason'], string> = {
  deny_matched: 'a DENY policy matches',
  allow_matched: 'an ALLOW policy matches',
  no_allow_matched: 'ALLOW policies apply to this port and none matches',
  mesh_default: 'no policy applies: the mesh default decides',
  foreign_trust_domain: 'no policy applies, and the mesh default allow admits only the workload\'s trust domain',
  invalid_spiffe_id: 'the peer\'s ID is not a SPIFFE ID',
};

/** The same reasons when the deciding policy is `local`, the workload's own allow list. */
const LOCAL_REASON_TEXT: Partial<Record<Decision['reason'], string>> = {
  allow_matched: 'the workload\'s own allow list names the caller',
  no_allow_matched: 'no ALLOW policy applies to this port, and the workload\'s own allow list does not name the caller',
};

/** What explain found, as -o json prints it. */
export interface Explanation {
  decision: 'allow' | 'deny';
  policy: string;
  reason: Decision['reason'];
  from: string;
  to: string;
  port: number | null;
  defaultPolicy: MeshDefault;
  /** The policies that select the workload (what its sidecar receives), dry-run ones included. */
  policies: string[];
  /** The workload's own allow list (--allow: the ALLOW policy `local`), null when not given. */
  local: string[] | null;
  /** Dry-run policies that would decide differently. */
  dryRun: { policy: string; would: 'allow' | 'deny' }[];
}

/**
 * Decides over `policies` as the workload's sidecar would, with its own allow list `local` (the ALLOW policy `local`;
 * undefined: the workload has none). Pure; throws PkiError `invalid_spiffe_pattern` on a bad pattern of `local`.
 */
export function explain(policies: readonly AuthorizationPolicy[], defaultPolicy: MeshDefault, from: string, to: string, port: number | undefined, local?: readonly string[]): Explanation {
  const compiled = compilePolicies({ defaultPolicy, policies }, { trustDomain: parseSpiffeId(to).trustDomain, workload: to });
  const d = decide(compiled, { peerId: from, port }, compileLocal(local, 'allow'));
  return {
    decision: d.allow ? 'allow' : 'deny', policy: d.policy, reason: d.reason, from, to, port: port ?? null, defaultPolicy,
    policies: compiled.policies.map(policyKey), local: local ? [...local] : null, dryRun: dryRunDifferences(d),
  };
}

/** explain's answer for people. Pure. */
export function formatExplanation(e: Explanation): string {
  const lines = [
    `${e.decision.toUpperCase()}: ${e.from} → ${e.to}${e.port === null ? ' (any port no rule names)' : ` port ${e.port}`}`,
    `  decided by: ${e.policy} (${(e.policy === LOCAL_POLICY ? LOCAL_REASON_TEXT[e.reason] : undefined) ?? REASON_TEXT[e.reason]})`,
    `  policies selecting the workload: ${e.policies.length ? e.policies.join(', ') : 'none'}`,
    ...(e.local ? [`  local allow list: ${e.local.join(', ')}`] : []),
    `  mesh default: ${e.defaultPolicy}`,
    ...e.dryRun.map((o) => `  dry run: ${o.policy} would ${o.would} (not enforced)`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Registers `policy explain` and `policy validate`. */
export function register(program: Command): void {
  const policy = program.command('policy').description('AuthorizationPolicies: explain a decision, validate files (docs/authorization.md)');
  const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

  policy.command('explain')
    .description('would --from reach --to (on --port), and which policy decides? Exit 0 allow, 1 deny, 2 bad input')
    .requiredOption('--from <spiffe-id>', 'the caller\'s SPIFFE ID (required)')
    .requiredOption('--to <spiffe-id>', 'the workload\'s SPIFFE ID (required)')
    .option('--port <n>', 'the workload\'s port (default: a port no rule names)')
    .option('--dir <dir>', 'the policies of a --policy-dir')
    .option('-f, --file <file>', 'a policy file (repeatable)', collect)
    .option('--ca-admin <address>', 'the policies a CA serves: its admin, as a port, host:port or URL')
    .option('--allow <patterns>', 'the workload\'s own allow list, as its sidecar\'s `allow` or ztmesh.io/allow annotation: the ALLOW policy `local` (comma-separated, repeatable) (default: none)', collect)
    .addOption(new Option('--default-policy <policy>', 'the mesh default with --dir or -f (the CA\'s own with --ca-admin)').choices([...MESH_DEFAULTS]).default(DEFAULT_MESH_DEFAULT))
    .addOption(new Option('-o, --output <format>', 'text for people, json for scripts').choices(['text', 'json']).default('text'))
    .action(async (opts: SourceFlags & { from: string; to: string; port?: string; caAdmin?: string; allow?: string[]; defaultPolicy: MeshDefault; output: 'text' | 'json' }) => {
      const from = spiffeIdFlag('--from', opts.from);
      const to = spiffeIdFlag('--to', opts.to);
      let port: number | undefined;
      if (opts.port !== undefined) {
        port = Number(opts.port);
        if (!/^\d{1,5}$/.test(opts.port) || port < 1 || port > 65535) throw badInput('invalid_flag', `--port "${opts.port}": not a port (1-65535)`);
      }
      const local = allowFlag(opts.allow);
      let policies: AuthorizationPolicy[];
      let defaultPolicy = opts.defaultPolicy;
      if (opts.caAdmin) {
        if (opts.dir || opts.file?.length) throw badInput('invalid_flag', 'give one of --dir, -f or --ca-admin');
        ({ policies, defaultPolicy } = await readCa(adminUrl(opts.caAdmin)));
      } else {
        const { store } = await readLocal(opts);
        const problems = store.problems();
        if (problems.length) {
          for (const p of problems) process.stderr.write(`${problemLine(p)}\n`);
          throw badInput('invalid_policy', `${problems.length} problem${problems.length === 1 ? '' : 's'} in the policies (listed above); fix them first (ztmesh policy validate)`);
        }
        policies = store.policies().map((s) => s.policy);
      }
      const e = explain(policies, defaultPolicy, from, to, port, local);
      process.stdout.write(opts.output === 'json' ? `${JSON.stringify(e, null, 2)}\n` : formatExplanation(e));
      process.exitCode = e.decision === 'allow' ? EXIT_ALLOW : EXIT_DENY;
    });

  policy.command('validate')
    .description('check policy files as the CA reads them: one line per problem as file:object:field; exit 0 valid, 1 problems, 2 bad input')
    .option('--dir <dir>', 'a --policy-dir')
    .option('-f, --file <file>', 'a policy file (repeatable)', collect)
    .addOption(new Option('-o, --output <format>', 'text for people, json for scripts').choices(['text', 'json']).default('text'))
    .action(async (opts: SourceFlags & { output: 'text' | 'json' }) => {
      const { store, files } = await readLocal(opts);
      const problems = store.problems();
      const valid = store.policies().length;
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify({ ok: problems.length === 0, files, policies: valid, problems: problems.map(({ lastValidInForce: _k, ...p }) => p) }, null, 2)}\n`);
      } else {
        for (const p of problems) process.stdout.write(`${problemLine(p)}\n`);
        process.stderr.write(`${valid} valid polic${valid === 1 ? 'y' : 'ies'} in ${files} file${files === 1 ? '' : 's'}, ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`);
      }
      process.exitCode = problems.length ? EXIT_PROBLEMS : EXIT_VALID;
    });
}
