// The apps behind proxy B: an nginx HTTP app (rr/conn), an iperf3 server (bulk) and a Node echo sink (idle).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep, startProcess, waitForPort } from './sys.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

/** The body the app returns: a small response, as in "small request/response". */
export const APP_BODY = 'ok\n';

function appConfig(prefix, port) {
  return `daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
user root;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log error;
events { worker_connections 30000; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 1000000000;
  keepalive_timeout 600s;
  tcp_nodelay on;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { default_type text/plain; return 200 "${APP_BODY.replace('\n', '\\n')}"; }
  }
}
`;
}

/** Starts the nginx HTTP app once per run; it is the same for every contender. */
export async function startHttpApp(dir) {
  const prefix = join(dir, 'app-nginx');
  mkdirSync(prefix, { recursive: true });
  const port = await freePort();
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, appConfig(prefix, port));
  const proc = startProcess('nginx', ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', conf]);
  await waitForPort(port, 10_000, () => proc.alive);
  return { port, proc, settings: appConfig('PREFIX', 'APP') };
}

/**
 * A one-off iperf3 server for one bulk cell, started only once the proxies are up: their start-up probe
 * travels through A and B, and must find nothing listening rather than take the server's one test.
 */
export async function startIperfServer(port) {
  const proc = startProcess('iperf3', ['-s', '-1', '--forceflush', '-p', String(port), '-B', '127.0.0.1']);
  const deadline = Date.now() + 10_000;
  while (!/Server listening/.test(proc.out.text)) {
    if (!proc.alive || Date.now() > deadline) throw new Error(`iperf3 server did not start: ${proc.out.text}`);
    await sleep(20);
  }
  return { port, proc };
}

/** The echo sink the idle workload holds connections to (one per run). */
export async function startEchoSink() {
  const proc = startProcess(process.execPath, [join(HERE, 'echo-sink.mjs')]);
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`echo sink did not start: ${proc.out.text}`)), 10_000);
    proc.child.stdout.on('data', function onData() {
      const m = proc.out.text.match(/PORT (\d+)/);
      if (m) { clearTimeout(t); proc.child.stdout.off('data', onData); resolve(Number(m[1])); }
    });
  });
  return { port, proc };
}
