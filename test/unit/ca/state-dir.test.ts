// State dir: init refuses to overwrite, key 0600; load names the file at fault; plug-in CA chains.
import { statSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initCaDir, loadCaState } from '../../../src/ca/state-dir.js';
import { makeCa, makeIntermediate } from '../../helpers/pki.js';
import { tempDir } from '../../helpers/temp-dir.js';

const T0 = Date.now();
const tmp = () => join(tempDir('ztmesh-sd-'), 'ca');

describe('CA state dir', () => {
  it('init creates ca.pem, ca.key (0600), bundle.pem; load reads the trust domain from ca.pem', async () => {
    const dir = tmp();
    await initCaDir(dir, 'example.org', T0);
    expect(statSync(join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    const state = await loadCaState(dir);
    expect(state.trustDomain).toBe('example.org');
    expect(state.keyMode).toBe(0o600);
    expect(state.intermediatesDer).toEqual([]);
    await expect(initCaDir(dir, 'example.org', T0)).rejects.toMatchObject({ code: 'ca_exists' });
    await expect(loadCaState(dir, 'other.org')).rejects.toMatchObject({ code: 'trust_domain_mismatch' });
  });

  it('names the file at fault', async () => {
    await expect(loadCaState('/nonexistent/ztmesh')).rejects.toMatchObject({ code: 'ca_dir_missing', message: expect.stringContaining('/nonexistent/ztmesh') });
    const dir = tmp();
    await initCaDir(dir, 'example.org', T0);
    rmSync(join(dir, 'bundle.pem'));
    await expect(loadCaState(dir)).rejects.toMatchObject({ code: 'bundle_missing', message: expect.stringContaining('bundle.pem') });
    writeFileSync(join(dir, 'ca.key'), 'x');
    await expect(loadCaState(dir)).rejects.toMatchObject({ code: 'ca_key_unreadable', message: expect.stringContaining('ca.key') });
    rmSync(join(dir, 'ca.pem'));
    await expect(loadCaState(dir)).rejects.toMatchObject({ code: 'ca_cert_missing', message: expect.stringContaining('ca.pem') });
  });

  it('loads a plug-in intermediate: sends ca.pem and chain.pem minus roots after the leaf', async () => {
    const root = makeCa('corp.example', T0);
    const mid = makeIntermediate(root, T0);
    const issuing = makeIntermediate(mid, T0);
    const dir = tempDir('ztmesh-sd-');
    writeFileSync(join(dir, 'ca.pem'), issuing.certPem);
    writeFileSync(join(dir, 'ca.key'), issuing.keyPem);
    writeFileSync(join(dir, 'chain.pem'), mid.certPem + root.certPem);
    writeFileSync(join(dir, 'bundle.pem'), root.certPem);
    const state = await loadCaState(dir);
    expect(state.trustDomain).toBe('corp.example');
    expect(state.intermediatesDer.map((d) => d.equals(issuing.certDer) || d.equals(mid.certDer))).toEqual([true, true]);
    expect(state.intermediatesDer).toHaveLength(2);
  });
});
