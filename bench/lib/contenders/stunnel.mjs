// `stunnel`: stunnel4 in client mode (A) and server mode (B), TLS 1.3 only, client certificate required and verified.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startProcess } from '../sys.mjs';
import { pairOf } from './common.mjs';

const common = (c) => `foreground = yes
pid =
syslog = no
debug = err
`;

function configA(c, entryPort, bPort) {
  return `${common(c)}
[a]
client = yes
accept = 127.0.0.1:${entryPort}
connect = 127.0.0.1:${bPort}
cert = ${c.clientCert}
key = ${c.clientKey}
CAfile = ${c.ca}
verifyChain = yes
sslVersionMin = TLSv1.3
sslVersionMax = TLSv1.3
socket = l:TCP_NODELAY=1
socket = r:TCP_NODELAY=1
`;
}

function configB(c, bPort, upstreamPort) {
  return `${common(c)}
[b]
accept = 127.0.0.1:${bPort}
connect = 127.0.0.1:${upstreamPort}
cert = ${c.serverCert}
key = ${c.serverKey}
CAfile = ${c.ca}
requireCert = yes
verifyChain = yes
sslVersionMin = TLSv1.3
sslVersionMax = TLSv1.3
socket = l:TCP_NODELAY=1
socket = r:TCP_NODELAY=1
`;
}

export const stunnel = {
  name: 'stunnel',
  settings: (ctx) => {
    const c = ctx.certs;
    return `A (client mode):\n\`\`\`ini\n${configA(c, 'ENTRY', 'B')}\`\`\`\nB (server mode):\n\`\`\`ini\n${configB(c, 'B', 'APP')}\`\`\`\n`
      + 'stunnel uses one thread per connection (Debian build, pthread model) and caches client sessions (resumption) by default.';
  },
  async start(ctx, { upstreamPort, tag }) {
    const c = ctx.certs;
    const entryPort = await freePort();
    const bPort = await freePort();
    const fa = join(ctx.dir, `stunnel-${tag}-a.conf`);
    const fb = join(ctx.dir, `stunnel-${tag}-b.conf`);
    writeFileSync(fa, configA(c, entryPort, bPort));
    writeFileSync(fb, configB(c, bPort, upstreamPort));
    const b = startProcess('stunnel4', [fb]);
    const a = startProcess('stunnel4', [fa]);
    return pairOf({ name: 'stunnel', a, b, entryPort, bPort });
  },
};
