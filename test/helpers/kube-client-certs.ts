// Client certificates as a kubeconfig holds them (CN = user name, O = groups), issued by the stand-in API server's
// client CA with the real `openssl`, and read back from a TLS connection as the API server does.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { KubeUser } from './fake-rbac.js';

export interface ClientCertAuthority {
  caPem: string;
  issue(username: string, groups: string[]): { certPem: string; keyPem: string };
  /** The user a verified client certificate names, or undefined. */
  userOf(socket: TLSSocket): KubeUser | undefined;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A client CA in a fresh directory under `parent`. */
export function clientCertAuthority(parent: string): ClientCertAuthority {
  const dir = mkdtempSync(join(parent, 'client-ca-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  ssl('req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=stand-in-apiserver-client-ca', '-days', '2');
  const caPem = readFileSync(join(dir, 'ca.pem'), 'utf8');
  let n = 0;
  return {
    caPem,
    issue(username, groups) {
      const name = `client-${++n}`;
      const subject = `${groups.map((g) => `/O=${g}`).join('')}/CN=${username}`;
      ssl('req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
      ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2');
      return { certPem: readFileSync(join(dir, `${name}.pem`), 'utf8'), keyPem: readFileSync(join(dir, `${name}.key`), 'utf8') };
    },
    userOf(socket) {
      if (!socket.authorized) return undefined;
      const subject = socket.getPeerCertificate()?.subject as unknown as { CN?: string; O?: string | string[] } | undefined;
      if (!subject?.CN) return undefined;
      const groups = subject.O === undefined ? [] : Array.isArray(subject.O) ? subject.O : [subject.O];
      return { username: subject.CN, groups: [...groups, 'system:authenticated'] };
    },
  };
}
