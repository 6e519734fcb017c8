// The sanity step: proxy B must refuse a TLS client without a certificate, and (where we hold a client
// certificate of its trust domain) serve one with a certificate. Uses `openssl s_client` as the foreign peer.
import { run } from './sys.mjs';

const REQUEST = 'GET / HTTP/1.0\r\nHost: app\r\n\r\n';

async function sClient(port, ca, cert, key) {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-CAfile', ca, '-ign_eof'];
  if (cert) args.push('-cert', cert, '-key', key);
  const r = await run('openssl', args, { input: REQUEST, timeoutMs: 15_000 });
  const text = `${r.stdout}\n${r.stderr}`;
  return {
    code: r.code,
    served: /HTTP\/1\.[01] 200/.test(r.stdout),
    protocol: (text.match(/Protocol\s*:\s*(\S+)/) ?? text.match(/New, (TLSv[\d.]+)/) ?? [])[1] ?? '?',
    serverKey: (text.match(/Server public key is (\d+) bit/) ?? [])[1] ?? '?',
    peerSig: (text.match(/Peer signature type: (\S+)/) ?? [])[1] ?? '?',
    // How the refusal looked from the client: a TLS alert, an RST, or a close without a response.
    alert: (text.match(/alert ([a-z ]+)/) ?? [])[1]?.trim()
      ?? (/errno=104/.test(text) ? 'connection reset (RST)' : /^closed$/m.test(text) ? 'closed without a response' : ''),
    tail: text.split('\n').filter((l) => /error|alert|HTTP\//i.test(l)).slice(0, 3).join(' | '),
  };
}

/** Runs the checks against B; `client` is {cert,key} of an identity B accepts, or undefined. */
export async function sanityCheck(pair, ca, client) {
  const without = await sClient(pair.bPort, ca);
  const res = {
    refusedWithoutCert: !without.served,
    withoutCert: without,
  };
  if (client) {
    const withCert = await sClient(pair.bPort, ca, client.cert, client.key);
    res.servedWithCert = withCert.served;
    res.withCert = withCert;
  }
  res.ok = res.refusedWithoutCert && res.servedWithCert !== false && without.protocol === 'TLSv1.3';
  return res;
}
