// `nginx`: the stream module; A proxies plain TCP to B with proxy_ssl (client certificate, server verified),
// B listens with ssl_verify_client on. One worker each, TLS 1.3 only.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startProcess } from '../sys.mjs';
import { pairOf } from './common.mjs';
import { SERVER_DNS } from '../certs.mjs';

const WORKER_CONNECTIONS = 30000;

const head = (prefix, nofile) => `daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile ${nofile};
user root;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log error;
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
events { worker_connections ${Math.min(WORKER_CONNECTIONS, nofile - 64)}; }
`;

function configA(c, nofile, prefix, entryPort, bPort) {
  return `${head(prefix, nofile)}stream {
  server {
    listen 127.0.0.1:${entryPort};
    proxy_pass 127.0.0.1:${bPort};
    proxy_ssl on;
    proxy_ssl_protocols TLSv1.3;
    proxy_ssl_certificate ${c.clientCert};
    proxy_ssl_certificate_key ${c.clientKey};
    proxy_ssl_trusted_certificate ${c.ca};
    proxy_ssl_verify on;
    proxy_ssl_name ${SERVER_DNS};
    proxy_ssl_session_reuse on;
    tcp_nodelay on;
    proxy_timeout 1h;
  }
}
`;
}

function configB(c, nofile, prefix, bPort, upstreamPort) {
  return `${head(prefix, nofile)}stream {
  server {
    listen 127.0.0.1:${bPort} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate ${c.serverCert};
    ssl_certificate_key ${c.serverKey};
    ssl_client_certificate ${c.ca};
    ssl_verify_client on;
    proxy_pass 127.0.0.1:${upstreamPort};
    tcp_nodelay on;
    proxy_timeout 1h;
  }
}
`;
}

export const nginx = {
  name: 'nginx',
  settings: (ctx) => {
    const c = ctx.certs;
    return `A:\n\`\`\`nginx\n${configA(c, ctx.nofile, 'PREFIX', 'ENTRY', 'B')}\`\`\`\nB:\n\`\`\`nginx\n${configB(c, ctx.nofile, 'PREFIX', 'B', 'APP')}\`\`\`\n`
      + 'Run as `nginx -p PREFIX -e PREFIX/error.log -c CONF` (master + 1 worker; both are accounted). '
      + 'A verifies the server certificate against the bundle and its DNS SAN (nginx has no URI SAN check); B requires and verifies the client certificate.';
  },
  async start(ctx, { upstreamPort, tag }) {
    const c = ctx.certs;
    const entryPort = await freePort();
    const bPort = await freePort();
    const procs = {};
    for (const [side, conf] of [['b', configB], ['a', configA]]) {
      const prefix = join(ctx.dir, `nginx-${tag}-${side}`);
      mkdirSync(prefix, { recursive: true });
      const file = join(prefix, 'nginx.conf');
      writeFileSync(file, side === 'a' ? conf(c, ctx.nofile, prefix, entryPort, bPort) : conf(c, ctx.nofile, prefix, bPort, upstreamPort));
      procs[side] = startProcess('nginx', ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', file]);
    }
    return pairOf({ name: 'nginx', a: procs.a, b: procs.b, entryPort, bPort });
  },
};
