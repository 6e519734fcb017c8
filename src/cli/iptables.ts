// `ztmesh iptables`: installs (or prints, or removes) the nat rules of transparent mode in this network namespace.
// Meant for an init container running as root with NET_ADMIN and NET_RAW; the sidecar itself never needs them.
import type { Command } from 'commander';
import { ConfigError } from '../common/errors.js';
import { PORTS, PROXY_UID } from '../common/mesh.js';
import { describeRules, validateInterceptOptions, type InterceptOptions, type IpFamily } from '../sidecar/intercept/iptables-rules.js';
import { applyRules, cleanupRules, ipv6Enabled } from '../sidecar/intercept/iptables-apply.js';

interface IptablesFlags {
  dryRun?: boolean;
  cleanup?: boolean;
  proxyUid: string;
  proxyGid?: string;
  inboundPort: string;
  outboundPort: string;
  includeInboundPorts: string;
  excludeInboundPorts: string;
  excludeOutboundPorts: string;
  excludeOutboundCidrs: string;
  localCa?: boolean;
  ipv6: string;
}

function int(flag: string, v: string): number {
  if (!/^\d+$/.test(v.trim())) throw new ConfigError('invalid_flag', `${flag}: "${v}" is not a number`);
  return Number(v);
}

function list(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

/** Turns the flags into validated options; exported for argument-parsing tests. */
export function optionsFromFlags(f: IptablesFlags): { options: InterceptOptions; families: IpFamily[] } {
  const uid = int('--proxy-uid', f.proxyUid);
  const include = f.includeInboundPorts.trim();
  const options: InterceptOptions = validateInterceptOptions({
    proxyUid: uid,
    proxyGid: f.proxyGid === undefined ? uid : int('--proxy-gid', f.proxyGid),
    inboundPort: int('--inbound-port', f.inboundPort),
    outboundPort: int('--outbound-port', f.outboundPort),
    includeInboundPorts: include === '*' || include === '' ? '*' : list(include).map((p) => int('--include-inbound-ports', p)),
    excludeInboundPorts: list(f.excludeInboundPorts).map((p) => int('--exclude-inbound-ports', p)),
    excludeOutboundPorts: list(f.excludeOutboundPorts).map((p) => int('--exclude-outbound-ports', p)),
    excludeOutboundCidrs: list(f.excludeOutboundCidrs),
    localCa: !!f.localCa,
  });
  const v6 = f.ipv6.trim().toLowerCase();
  if (!['true', 'false', 'auto'].includes(v6)) throw new ConfigError('invalid_flag', `--ipv6: "${f.ipv6}" is not true, false or auto`);
  const withV6 = v6 === 'true' || (v6 === 'auto' && ipv6Enabled());
  return { options, families: withV6 ? [4, 6] : [4] };
}

/** Registers the `iptables` command. */
export function register(program: Command): void {
  program.command('iptables')
    .description('install the transparent-mode nat rules (ZTMESH_ chains) in this network namespace; needs root/NET_ADMIN')
    .option('--dry-run', 'print the rules instead of applying them (default: off)')
    .option('--cleanup', 'remove every ZTMESH_ rule and chain (default: off)')
    .option('--proxy-uid <uid>', 'uid of the sidecar, whose traffic is never redirected', String(PROXY_UID))
    .option('--proxy-gid <gid>', 'gid of the sidecar, also never redirected (default: the --proxy-uid value)')
    .option('--inbound-port <port>', 'transparent inbound listener', String(PORTS.inbound))
    .option('--outbound-port <port>', 'transparent outbound listener', String(PORTS.outbound))
    .option('--include-inbound-ports <ports>', 'comma-separated ports to redirect inbound, or * for all', '*')
    .option('--exclude-inbound-ports <ports>', 'comma-separated ports never redirected inbound (besides the sidecar\'s own)', '')
    .option('--exclude-outbound-ports <ports>', 'comma-separated destination ports never redirected outbound', '')
    .option('--exclude-outbound-cidrs <cidrs>', 'comma-separated destination CIDRs (IPv4 or IPv6) never redirected outbound', '')
    .option('--local-ca', `the CA listens in this pod: never redirect inbound ${PORTS.caGrpc} (default: off)`)
    .option('--ipv6 <bool>', 'also install ip6tables rules: true, false or auto (when this namespace has a global IPv6 address)', 'auto')
    .action(async (flags: IptablesFlags) => {
      const { options, families } = optionsFromFlags(flags);
      if (flags.dryRun) {
        process.stdout.write(flags.cleanup ? cleanupPlan(families) : describeRules(options, families));
        return;
      }
      if (flags.cleanup) {
        await cleanupRules(families);
        process.stdout.write(`ztmesh iptables: removed ZTMESH_ rules (${families.map((f) => `IPv${f}`).join(', ')})\n`);
        return;
      }
      await applyRules(options, families);
      process.stdout.write(
        `ztmesh iptables: applied (${families.map((f) => `IPv${f}`).join(', ')}): inbound → ${options.inboundPort}, `
        + `outbound → ${options.outboundPort}, uid ${options.proxyUid}/gid ${options.proxyGid} excluded\n`,
      );
    });
}

function cleanupPlan(families: IpFamily[]): string {
  return families.map((f) => `# ${f === 4 ? 'iptables' : 'ip6tables'} -t nat: delete the PREROUTING/OUTPUT jumps, then flush and delete every ZTMESH_ chain\n`).join('');
}
