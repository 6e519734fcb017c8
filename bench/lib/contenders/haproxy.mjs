// `haproxy`: mode tcp; A terminates plain TCP and connects with `ssl verify required` and a client certificate;
// B binds `ssl ... verify required`. One thread each (like the single-threaded ztmesh sidecar), TLS 1.3 only.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startProcess } from '../sys.mjs';
import { pairOf } from './common.mjs';

/** Enough for the idle workload on both sides of each proxy, within the open-files limit (2 fds per connection). */
const maxconnFor = (nofile) => Math.min(30000, Math.floor((nofile - 64) / 2));

const globalSection = (nofile) => `global
  nbthread 1
  maxconn ${maxconnFor(nofile)}
  log stderr format raw local0 err
  ssl-default-bind-options ssl-min-ver TLSv1.3
  ssl-default-server-options ssl-min-ver TLSv1.3
defaults
  mode tcp
  log global
  timeout connect 10s
  timeout client 1h
  timeout server 1h
`;

function configA(c, nofile, entryPort, bPort) {
  return `${globalSection(nofile)}
frontend a
  bind 127.0.0.1:${entryPort}
  default_backend to_b
backend to_b
  server b 127.0.0.1:${bPort} ssl verify required ca-file ${c.ca} crt ${c.clientCombined} ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3
`;
}

function configB(c, nofile, bPort, upstreamPort) {
  return `${globalSection(nofile)}
frontend b
  bind 127.0.0.1:${bPort} ssl crt ${c.serverCombined} ca-file ${c.ca} verify required ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3
  default_backend app
backend app
  server app 127.0.0.1:${upstreamPort}
`;
}

export const haproxy = {
  name: 'haproxy',
  settings: (ctx) => {
    const c = ctx.certs;
    return `A:\n\`\`\`\n${configA(c, ctx.nofile, 'ENTRY', 'B')}\`\`\`\nB:\n\`\`\`\n${configB(c, ctx.nofile, 'B', 'APP')}\`\`\`\n`
      + 'Run as `haproxy -db -f CONF` (foreground, one process). Backend SSL session reuse is on by default.';
  },
  async start(ctx, { upstreamPort, tag }) {
    const c = ctx.certs;
    const entryPort = await freePort();
    const bPort = await freePort();
    const fa = join(ctx.dir, `haproxy-${tag}-a.cfg`);
    const fb = join(ctx.dir, `haproxy-${tag}-b.cfg`);
    writeFileSync(fa, configA(c, ctx.nofile, entryPort, bPort));
    writeFileSync(fb, configB(c, ctx.nofile, bPort, upstreamPort));
    const b = startProcess('haproxy', ['-db', '-f', fb]);
    const a = startProcess('haproxy', ['-db', '-f', fa]);
    return pairOf({ name: 'haproxy', a, b, entryPort, bPort });
  },
};
