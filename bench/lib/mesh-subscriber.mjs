// One process of bench/mesh-scale: N sidecars' ends of the mesh stream (dist/identity/mesh-client.js feeding
// dist/sidecar/mesh/sidecar-membership.js, as `ztmesh sidecar --transparent` wires them), each with its own SVID
// (join token → SignCertificate), channel and membership set. Prints JSON lines on stdout:
//   {"ready":i,"entries":n,"version":v}           stream i applied its first membership
//   {"heap":{"perSetBytes":…,"rssBytes":…}}        once every stream is ready: the heap each set retains
//   {"update":i,"t":ms,"version":v,"keys":[…]}     stream i applied a small delta (≤ 16 keys) at epoch ms t
// Usage: node --expose-gc mesh-subscriber.mjs SPEC.json   SPEC: { caAddress, bundlePem, trustDomain, tokens: [{ spiffeId, tokenFile }] }
import { readFileSync } from 'node:fs';

const dist = (p) => new URL(`../../dist/${p}`, import.meta.url).href;
const { GrpcCaClient } = await import(dist('identity/ca-client.js'));
const { MeshClient } = await import(dist('identity/mesh-client.js'));
const { CaReachability } = await import(dist('identity/ca-reachability.js'));
const { makeTrustBundle } = await import(dist('identity/credentials.js'));
const { buildSvid } = await import(dist('identity/svid-material.js'));
const { SidecarMembership } = await import(dist('sidecar/mesh/sidecar-membership.js'));
const { Readiness } = await import(dist('common/readiness.js'));
const { silentLogger } = await import(dist('common/logger.js'));
const { systemClock } = await import(dist('common/clock.js'));
const pki = await import(dist('pki/index.js'));

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const log = silentLogger();
const clock = systemClock;
const pemToDer = (pem) => [...pem.matchAll(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)].map((m) => pki.certsFromPem(m[0], 'bundle')[0]);
const bundle = makeTrustBundle(spec.trustDomain, pemToDer(spec.bundlePem), 0);
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const settle = async () => { for (let i = 0; i < 3; i++) { globalThis.gc?.(); await new Promise((r) => setTimeout(r, 20)); } };

await settle();
const heapBefore = process.memoryUsage().heapUsed;
const clients = [];
let ready = 0;
const allReady = new Promise((resolve) => {
  spec.tokens.forEach(async ({ spiffeId, tokenFile }, i) => {
    const ca = new GrpcCaClient({ addresses: [spec.caAddress], trustDomain: spec.trustDomain, tokenFile, serverName: 'localhost', log });
    const key = pki.generateKeySync('ec-p256');
    const res = await ca.sign(pki.buildCsr(key, { uris: [spiffeId] }), 3600, { method: 'token', roots: bundle });
    const svid = buildSvid({ key, chainDer: res.chainDer, bundle, trustDomain: spec.trustDomain, nowMs: clock.now() });
    const snap = { state: 'available', svid, bundle };
    const identity = { current: () => snap, subscribe: (l) => { l(snap); return () => {}; } };
    const membership = new SidecarMembership({ clock, log, readiness: new Readiness() });
    const apply = membership.apply.bind(membership);
    let first = true;
    membership.apply = (u) => {
      const refusal = apply(u);
      if (refusal) return refusal;
      if (first) {
        first = false;
        out({ ready: i, entries: membership.status().entries, version: u.version });
        if (++ready === spec.tokens.length) resolve();
      } else if (u.upsert.length + u.remove.length <= 16) {
        out({ update: i, t: Date.now(), version: u.version, keys: [...u.upsert.map((d) => d.key), ...u.remove] });
      }
      return undefined;
    };
    const client = new MeshClient({
      source: ca, identity, auth: () => ({ roots: bundle, svid }), consumers: [membership],
      reachability: new CaReachability(clock, spec.caAddress), clock, log,
    });
    client.start();
    clients.push(client);
  });
});
await allReady;
await settle();
out({ heap: { perSetBytes: Math.round((process.memoryUsage().heapUsed - heapBefore) / spec.tokens.length), rssBytes: process.memoryUsage().rss, streams: spec.tokens.length } });
process.on('SIGTERM', () => { for (const c of clients) c.stop(); process.exit(0); });
