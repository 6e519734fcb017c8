// `ztmesh iptables` flag parsing: lists, defaults (gid follows uid), --ipv6 and errors naming the flag.
import { describe, expect, it } from 'vitest';
import { optionsFromFlags } from '../../../../src/cli/iptables.js';

const base = {
  proxyUid: '1337', inboundPort: '15006', outboundPort: '15001', includeInboundPorts: '*',
  excludeInboundPorts: '', excludeOutboundPorts: '', excludeOutboundCidrs: '', ipv6: 'false',
};

describe('ztmesh iptables flags', () => {
  it('defaults: uid/gid 1337, every inbound port, IPv4 only with --ipv6 false', () => {
    expect(optionsFromFlags(base)).toEqual({
      options: {
        proxyUid: 1337, proxyGid: 1337, inboundPort: 15006, outboundPort: 15001, includeInboundPorts: '*',
        excludeInboundPorts: [], excludeOutboundPorts: [], excludeOutboundCidrs: [], localCa: false,
      },
      families: [4],
    });
  });

  it('parses comma lists with spaces, gid follows a custom uid, --ipv6 true adds IPv6', () => {
    const { options, families } = optionsFromFlags({
      ...base, proxyUid: '2000', includeInboundPorts: '8080, 9090', excludeOutboundPorts: '53,5432',
      excludeOutboundCidrs: '10.0.0.0/8, fd00::/8', localCa: true, ipv6: 'TRUE',
    });
    expect(options).toMatchObject({
      proxyUid: 2000, proxyGid: 2000, includeInboundPorts: [8080, 9090], excludeOutboundPorts: [53, 5432],
      excludeOutboundCidrs: ['10.0.0.0/8', 'fd00::/8'], localCa: true,
    });
    expect(families).toEqual([4, 6]);
    expect(optionsFromFlags({ ...base, proxyGid: '3000' }).options.proxyGid).toBe(3000);
  });

  it.each([
    [{ proxyUid: 'root' }, '--proxy-uid: "root" is not a number'],
    [{ excludeInboundPorts: '22,ssh' }, '--exclude-inbound-ports: "ssh"'],
    [{ inboundPort: '15001' }, 'both 15001'],
    [{ ipv6: 'maybe' }, '--ipv6: "maybe"'],
    [{ excludeOutboundCidrs: '10.0.0.0/8;rm' }, '--exclude-outbound-cidrs'],
  ])('refuses %o', (flags, message) => {
    expect(() => optionsFromFlags({ ...base, ...flags })).toThrow(message);
  });
});
