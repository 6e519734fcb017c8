// Requests to admin and health servers the way hostile and ordinary clients send them: any Host, raw bytes, real curl.
//
//   await adminRequest('http://127.0.0.1:15000', { method: 'POST', path: '/rotate', headers: { Host: 'evil.example' } });
//   await rawExchange(port, 'GET /healthz HTTP/1.0\r\n\r\n');   // half-closes, returns every status line answered
//   await curl(['-s', '-X', 'POST', 'http://127.0.0.1:15000/rotate']);
import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';

export interface AdminAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request over a fresh connection; `headers` may set Host, Origin and anything else. */
export function adminRequest(base: string, opts: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<AdminAnswer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port), method: opts.method ?? 'GET', path: opts.path,
      headers: opts.headers ?? {}, agent: false, setHost: opts.headers?.Host === undefined && opts.headers?.host === undefined,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${opts.method ?? 'GET'} ${opts.path}: no answer in 10 s`)));
    req.end(opts.body);
  });
}

export interface RawAnswer {
  /** Everything the server wrote before it closed. */
  text: string;
  /** The status code of each response in `text`, in order. */
  statuses: number[];
}

/** Writes `bytes`, half-closes and collects the answer until the server closes (or `timeoutMs`, then fails). */
export function rawExchange(port: number, bytes: string | Buffer, timeoutMs = 5_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`server kept the connection open for ${timeoutMs} ms`)); }, timeoutMs);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => { /* a reset after the answer is fine: close follows */ });
    sock.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ text, statuses: [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1])) });
    });
    sock.end(bytes);
  });
}

/** Runs the real curl binary; resolves with its exit code and output (never rejects on a non-zero exit). */
export function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['--silent', '--show-error', '--max-time', '10', ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
