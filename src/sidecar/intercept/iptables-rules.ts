// Builds the nat-table rules that send a pod's TCP traffic through the sidecar (ZTMESH_ chains, docs/transparent.md).
// Pure: options in, iptables-restore text out; iptables-apply.ts does the I/O.
import { ConfigError } from '../../common/errors.js';
import { parseCidr, type IpFamily } from '../../common/cidr.js';
import { INBOUND_SOURCE_V4, INBOUND_SOURCE_V6, PORTS, PROXY_UID, SIDECAR_OWN_PORTS } from '../../common/mesh.js';

/** The chains this module owns. Everything ztmesh installs lives in them, plus one jump each from PREROUTING/OUTPUT. */
export const CHAINS = {
  inbound: 'ZTMESH_INBOUND',
  redirect: 'ZTMESH_REDIRECT',
  inRedirect: 'ZTMESH_IN_REDIRECT',
  output: 'ZTMESH_OUTPUT',
} as const;
export const CHAIN_PREFIX = 'ZTMESH_';

/** Re-exported for the transparent destinations, which read CIDRs alongside these rules. */
export { parseCidr, type IpFamily };

/** The two jumps from built-in chains into ours; cleanup deletes exactly these. */
export const JUMPS: readonly { chain: 'PREROUTING' | 'OUTPUT'; rule: string }[] = [
  { chain: 'PREROUTING', rule: `-p tcp -j ${CHAINS.inbound}` },
  { chain: 'OUTPUT', rule: `-p tcp -j ${CHAINS.output}` },
];


/** What to intercept. Every list is of plain numbers/CIDRs; validation happens in `validateInterceptOptions`. */
export interface InterceptOptions {
  proxyUid: number;
  proxyGid: number;
  inboundPort: number;
  outboundPort: number;
  /** '*' redirects every inbound port; a list restricts inbound redirection to those ports. */
  includeInboundPorts: '*' | number[];
  excludeInboundPorts: number[];
  excludeOutboundPorts: number[];
  /** IPv4 and IPv6 CIDRs mixed; each family's rules take only their own. */
  excludeOutboundCidrs: string[];
  /** True when the CA listens in this pod (its port is then never redirected inbound). */
  localCa: boolean;
}

/** The defaults of `ztmesh iptables` with no flags. */
export function defaultInterceptOptions(): InterceptOptions {
  return {
    proxyUid: PROXY_UID,
    proxyGid: PROXY_UID,
    inboundPort: PORTS.inbound,
    outboundPort: PORTS.outbound,
    includeInboundPorts: '*',
    excludeInboundPorts: [],
    excludeOutboundPorts: [],
    excludeOutboundCidrs: [],
    localCa: false,
  };
}

const isPort = (p: number) => Number.isInteger(p) && p >= 1 && p <= 65535;
const isId = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffff_fffe;

/** Throws ConfigError naming the first bad option; returns the options unchanged otherwise. */
export function validateInterceptOptions(o: InterceptOptions): InterceptOptions {
  if (!isId(o.proxyUid)) throw new ConfigError('invalid_proxy_uid', `--proxy-uid: "${o.proxyUid}" is not a uid`);
  if (!isId(o.proxyGid)) throw new ConfigError('invalid_proxy_gid', `--proxy-gid: "${o.proxyGid}" is not a gid`);
  if (!isPort(o.inboundPort)) throw new ConfigError('invalid_port', `--inbound-port: "${o.inboundPort}" is not a port`);
  if (!isPort(o.outboundPort)) throw new ConfigError('invalid_port', `--outbound-port: "${o.outboundPort}" is not a port`);
  if (o.inboundPort === o.outboundPort) {
    throw new ConfigError('port_conflict', `--inbound-port and --outbound-port are both ${o.inboundPort}`);
  }
  const lists: [string, number[]][] = [
    ['--exclude-inbound-ports', o.excludeInboundPorts],
    ['--exclude-outbound-ports', o.excludeOutboundPorts],
  ];
  if (o.includeInboundPorts !== '*') lists.push(['--include-inbound-ports', o.includeInboundPorts]);
  for (const [flag, ports] of lists) {
    const bad = ports.find((p) => !isPort(p));
    if (bad !== undefined) throw new ConfigError('invalid_port', `${flag}: "${bad}" is not a port (1-65535)`);
  }
  for (const c of o.excludeOutboundCidrs) {
    if (!parseCidr(c)) throw new ConfigError('invalid_cidr', `--exclude-outbound-cidrs: "${c}" is not an IPv4 or IPv6 CIDR`);
  }
  return o;
}

/** Ports whose inbound traffic is never redirected: the sidecar's own, the redirect targets, and the user's. */
export function inboundExcludedPorts(o: InterceptOptions): number[] {
  const ports = [...SIDECAR_OWN_PORTS, o.inboundPort, o.outboundPort, ...(o.localCa ? [PORTS.caGrpc] : []), ...o.excludeInboundPorts];
  return [...new Set(ports)].sort((a, b) => a - b);
}

const uniq = <T>(xs: T[]) => [...new Set(xs)];

/**
 * The iptables-restore input (nat table) for one family, for use with `--noflush`.
 * Our chains are declared with ":CHAIN - [0:0]", which creates or flushes them, so applying twice
 * leaves one copy of every rule; the jumps from PREROUTING/OUTPUT are left to the applier, which
 * adds them only when missing (see iptables-apply.ts).
 */
export function buildRules(o: InterceptOptions, family: IpFamily): string {
  validateInterceptOptions(o);
  const host = family === 4 ? 32 : 128;
  const loopback = family === 4 ? '127.0.0.1' : '::1';
  const inboundSource = family === 4 ? INBOUND_SOURCE_V4 : INBOUND_SOURCE_V6;
  const lines: string[] = ['*nat'];
  for (const c of Object.values(CHAINS)) lines.push(`:${c} - [0:0]`);

  // Targets: one REDIRECT each, so every decision below is a jump or a RETURN.
  lines.push(`-A ${CHAINS.redirect} -p tcp -j REDIRECT --to-ports ${o.outboundPort}`);
  lines.push(`-A ${CHAINS.inRedirect} -p tcp -j REDIRECT --to-ports ${o.inboundPort}`);

  // Inbound (PREROUTING → ZTMESH_INBOUND): traffic arriving from the network.
  if (o.includeInboundPorts === '*') {
    for (const p of inboundExcludedPorts(o)) lines.push(`-A ${CHAINS.inbound} -p tcp --dport ${p} -j RETURN`);
    lines.push(`-A ${CHAINS.inbound} -p tcp -j ${CHAINS.inRedirect}`);
  } else {
    const excluded = new Set(inboundExcludedPorts(o));
    for (const p of uniq(o.includeInboundPorts).sort((a, b) => a - b)) {
      if (!excluded.has(p)) lines.push(`-A ${CHAINS.inbound} -p tcp --dport ${p} -j ${CHAINS.inRedirect}`);
    }
  }

  // Outbound (OUTPUT → ZTMESH_OUTPUT): connections made inside the pod. Order matters; first match wins.
  const out = (rule: string) => lines.push(`-A ${CHAINS.output} ${rule}`);
  // The sidecar's inbound forward to the app (sourced from 127.0.0.6 / ::6) must not be captured again.
  out(`-s ${inboundSource}/${host} -o lo -j RETURN`);
  for (const [flag, id] of [['--uid-owner', o.proxyUid], ['--gid-owner', o.proxyGid]] as const) {
    // The sidecar dialling this pod's own address (an app calling its own service) goes to inbound.
    out(`! -d ${loopback}/${host} -o lo -p tcp -m owner ${flag} ${id} -j ${CHAINS.inRedirect}`);
    // The app's own loopback traffic stays local.
    out(`-o lo -m owner ! ${flag} ${id} -j RETURN`);
    // Everything else the sidecar sends leaves as is: without this, its upstream dials loop back to 15001.
    out(`-m owner ${flag} ${id} -j RETURN`);
  }
  out(`-d ${loopback}/${host} -j RETURN`);
  for (const p of uniq(o.excludeOutboundPorts).sort((a, b) => a - b)) out(`-p tcp --dport ${p} -j RETURN`);
  for (const c of uniq(o.excludeOutboundCidrs)) {
    const cidr = parseCidr(c)!;
    if (cidr.family === family) out(`-d ${cidr.address}/${cidr.prefix} -j RETURN`);
  }
  out(`-j ${CHAINS.redirect}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** The iptables argument lists (after `-t nat`) that remove our jumps and chains; each may fail if absent. */
export function cleanupCommands(): string[][] {
  const cmds: string[][] = JUMPS.map((j) => ['-D', j.chain, ...j.rule.split(' ')]);
  for (const c of Object.values(CHAINS)) cmds.push(['-F', c]);
  for (const c of Object.values(CHAINS)) cmds.push(['-X', c]);
  return cmds;
}

/** Human-readable dry-run output: both families' restore input plus the jumps the applier adds. */
export function describeRules(o: InterceptOptions, families: IpFamily[]): string {
  return families.map((f) => {
    const tool = f === 4 ? 'iptables' : 'ip6tables';
    const jumps = JUMPS.map((j) => `# ${tool} -t nat -A ${j.chain} ${j.rule}   (added once, if missing)`).join('\n');
    return `# ${tool}-restore --noflush\n${buildRules(o, f)}${jumps}\n`;
  }).join('\n');
}
