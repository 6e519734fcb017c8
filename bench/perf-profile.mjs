#!/usr/bin/env node
// CPU profile of one contender's proxies with `perf record` (real on-CPU samples: kernel, OpenSSL, V8/JS, libc),
// summarised by area. Complements the `node --cpu-prof` profiles in the report, which sample wall time.
// Usage: node bench/perf-profile.mjs [ztmesh|stunnel|haproxy|nginx] [rr32|conn16|bulk-ish: rrN|connN] [--ztmesh-root DIR]
import { mkdtempSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { makeBenchCerts } from './lib/certs.mjs';
import { startHttpApp } from './lib/apps.mjs';
import { makeZtmesh } from './lib/contenders/ztmesh.mjs';
import { stunnel } from './lib/contenders/stunnel.mjs';
import { haproxy } from './lib/contenders/haproxy.mjs';
import { nginx } from './lib/contenders/nginx.mjs';
import { killAllStarted, run, startProcess, nofileLimit } from './lib/sys.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Areas by symbol/DSO, first match wins. */
const AREAS = [
  ['kernel: scheduler / wake-ups', (dso, sym) => dso.includes('kernel') && /finish_task_switch|__schedule|_raw_spin_unlock_irqrestore|try_to_wake_up|pv_queued|ttwu|schedule/.test(sym)],
  ['kernel: TCP/IP, syscalls, epoll', (dso) => dso.includes('kernel')],
  ['OpenSSL 3 lookups and locks (fetch by name, property/algorithm caches)', (dso, sym) => /pthread_rwlock|ossl_sa_|OPENSSL_LH|OPENSSL_strcasecmp|ossl_tolower|ossl_lh_strcasehash|do_name|CRYPTO_THREAD|ossl_method|ossl_property|ossl_namemap|ossl_decoder|ossl_provider|evp_generic_fetch|ossl_lib_ctx|OSSL_DECODER|ossl_algorithm/.test(sym)],
  ['crypto math (x25519, ECDSA, AES-GCM, SHA)', (dso, sym) => /x25519|fe_|fe64|ecp_nistz256|bn_|BN_|aesni|gcm|ghash|sha256|sha512|sha1|chacha|poly1305|cmov/.test(sym)],
  ['other OpenSSL (TLS state machine, X509/ASN.1 parsing)', (dso, sym) => /libssl|libcrypto/.test(dso) || /^(ssl|tls|SSL|X509|x509|ASN1|asn1|d2i|i2d|EVP|evp|OPENSSL|ossl|CRYPTO|ec_|EC_|PEM|OBJ_|ERR_|BIO|WPACKET|PACKET|c2i|ASN1_)/.test(sym) || /OPENSSL|ossl_/.test(sym)],
  ['libc malloc/free', (dso, sym) => /^libc\.so/.test(dso) && /malloc|free|_int_|unlink_chunk|consolidate|tcache/.test(sym)],
  ['V8 JIT compiler (TurboFan/Maglev)', (dso, sym) => /v8::internal::(compiler|maglev)|Turbofan|Maglev/.test(sym)],
  ['V8 GC', (dso, sym) => /Scavenger|MarkCompact|Heap::|GC|Sweeper|Evacuat|ConcurrentMarking/.test(sym)],
  ['JavaScript (JIT code, V8 builtins and ICs)', (dso, sym) => dso.startsWith('[JIT]') || /^Builtins_|^JS:|v8::internal::Runtime|LookupIterator|StubCache|v8::internal::(Object|JSObject|Map)/.test(sym)],
  ['node C++ / libuv / other V8', (dso) => dso === 'node' || dso.startsWith('libstdc')],
  ['libc other', (dso) => /^libc\.so/.test(dso)],
  ['other', () => true],
];

async function summarize(file) {
  const r = await run('perf', ['report', '-i', file, '--no-children', '--sort', 'dso,symbol', '--stdio', '-g', 'none', '--percent-limit', '0'], { timeoutMs: 120_000 });
  const areas = new Map();
  const top = [];
  for (const line of r.stdout.split('\n')) {
    const m = line.match(/^\s+([\d.]+)%\s+(\S+(?: tid \d+)?)\s+\[[.k]\]\s+(.*)$/);
    if (!m) continue;
    const pct = Number(m[1]);
    const dso = m[2].replace(/^\[kernel\.kallsyms\]$/, 'kernel');
    const sym = m[3].replace(/\s{2,}.*$/, '').trim();
    const area = AREAS.find(([, t]) => t(dso, sym))[0];
    areas.set(area, (areas.get(area) ?? 0) + pct);
    if (top.length < 12) top.push(`${pct.toFixed(1)}% ${dso} ${sym.slice(0, 90)}`);
  }
  return { areas: [...areas.entries()].sort((a, b) => b[1] - a[1]), top };
}

async function main() {
  const args = process.argv.slice(2);
  const name = args[0] ?? 'ztmesh';
  const workload = args[1] ?? 'rr32';
  const rootIdx = args.indexOf('--ztmesh-root');
  const zroot = rootIdx >= 0 ? args[rootIdx + 1] : ROOT;
  const conns = Number(workload.replace(/\D/g, '')) || 32;
  const close = workload.startsWith('conn');
  const dir = mkdtempSync(join(tmpdir(), 'ztmesh-perf-'));
  process.on('exit', () => { killAllStarted(); rmSync(dir, { recursive: true, force: true }); });
  const ctx = { dir, certs: makeBenchCerts(dir), nofile: nofileLimit(), root: ROOT, ztmeshRoot: zroot, log: () => {} };
  const contender = { stunnel, haproxy, nginx }[name] ?? makeZtmesh('ztmesh', zroot, ['--perf-basic-prof']);
  const app = await startHttpApp(dir);
  if (contender.setup) await contender.setup(ctx);
  const pair = await contender.start(ctx, { upstreamPort: app.port, tag: 'perf' });
  const url = `http://127.0.0.1:${pair.entryPort}/`;
  const wrkArgs = (secs) => ['-t', conns > 1 ? '2' : '1', '-c', String(conns), '-d', `${secs}s`, ...(close ? ['-H', 'Connection: close'] : []), url];
  await run('wrk', wrkArgs(Number(process.env.WARMUP ?? 1)));
  const rec = (side, pids) => startProcess('perf', ['record', '-F', '1999', '-g', '-o', join(dir, `${side}.data`), '-p', pids.join(','), '--', 'sleep', '4']);
  const pa = rec('A', pair.pidsA());
  const pb = rec('B', pair.pidsB());
  const w = await run('wrk', wrkArgs(5));
  await Promise.all([pa.exited, pb.exited]);
  process.stdout.write(`${name} ${workload}: ${(w.stdout.match(/Requests\/sec:\s+(\S+)/) ?? [])[1]} per second\n`);
  for (const side of ['A', 'B']) {
    const s = await summarize(join(dir, `${side}.data`));
    process.stdout.write(`\n${side}: share of on-CPU samples\n${s.areas.map(([a, p]) => `  ${p.toFixed(1).padStart(5)} %  ${a}`).join('\n')}\n  top symbols:\n${s.top.map((t) => `    ${t}`).join('\n')}\n`);
  }
  await pair.stop();
  if (contender.teardown) await contender.teardown(ctx);
  await app.proc.stop();
}

main().catch((e) => { process.stderr.write(`${e.stack ?? e}\n`); killAllStarted(); process.exit(1); });
