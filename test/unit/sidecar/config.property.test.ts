// Property-based fuzzing of the sidecar config loader: any YAML file, ZTMESH_* environment and flags give either a
// frozen valid config or a ConfigError with one of the stable codes, never another exception.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/common/errors.js';
import { CONFIG_KEYS, loadSidecarConfig } from '../../../src/sidecar/config.js';
import { tempDir } from '../../helpers/temp-dir.js';

/** Every code the loader may fail with; operators and tests match on these. */
const STABLE_CODES = ['invalid_config', 'config_unreadable', 'config_invalid_yaml', 'admin_remote_not_allowed'];

const file = join(tempDir('ztmesh-config-fuzz-'), 'sidecar.yaml');

/** Values that mean something to some key, and values that mean nothing to any. */
const interesting = fc.constantFrom(
  'true', 'false', 'yes', '1', '0', '', ' ', 'example.org', 'Bad Domain', '127.0.0.1:0', '0.0.0.0:15000', '[::1]:15000', '[::]:1', ':15000',
  'localhost', '10.1.2.3:15000', 'host:99999', '1h', '500ms', '-1s', '1e400', '.inf', '-.nan', '99999999999999999999999h', 'ec-p256', 'rsa-1024',
  'spiffe://example.org/ns/a/sa/b', 'spiffe://example.org/*', 'spiffe://', '[]', '{}', '[1,2]', '&a [*a]', '&a {x: *a}', '!!binary aGVsbG8=',
  '[{name: a, listen: "127.0.0.1:1", forward: "127.0.0.1:2"}]', '[{name: a}]', '{cidrs: [10.0.0.0/8], ports: [0, 70000]}', '__proto__', 'constructor',
);
const scalar = fc.oneof(interesting, fc.string({ maxLength: 40 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const keyPaths = CONFIG_KEYS.map((k) => k.path);

/** A YAML document: config-shaped objects with odd values, raw text, or YAML features (anchors, tags, merges). */
const yamlText = fc.oneof(
  fc.dictionary(fc.oneof(fc.constantFrom(...keyPaths.map((p) => p.split('.')[0]!), 'ca', 'identity', 'transparent', 'inbound', '__proto__', 'extra'), fc.string({ maxLength: 8 })),
    fc.oneof(scalar, fc.dictionary(fc.string({ maxLength: 12 }), scalar, { maxKeys: 4 }), fc.array(fc.oneof(scalar, fc.dictionary(fc.constantFrom('name', 'listen', 'forward', 'allow', 'upstream', 'expect', 'maxConnections', 'handshakeTimeout', 'x'), scalar)), { maxLength: 3 })),
    { maxKeys: 6 }).map((o) => stringify(o)),
  fc.array(fc.constantFrom('inbound: &a [*a]', 'ca: &c {address: *c}', 'base: &b {address: x}', 'ca: {<<: *b}', 'trustDomain: !!binary aGVsbG8=',
    'identity: {ttl: !!float .inf}', 'transparent: !!set {a, b}', 'admin: !!str 0.0.0.0:1', 'adminAllowRemote: !!bool yes', 'logLevel: &l [*l]',
    '? [complex, key]\n: v', '---\n- list', 'a: *undefined', '%YAML 1.1\n---', 'x: !!timestamp 2001-12-14', 'inbound: [{name: a, listen: *a}]'), { maxLength: 4 }).map((l) => l.join('\n')),
  fc.string({ maxLength: 200 }),
);
const env = fc.dictionary(fc.constantFrom(...CONFIG_KEYS.map((k) => k.env), 'ZTMESH_UNKNOWN', 'HOME'), fc.oneof(interesting, fc.string({ maxLength: 40 })), { maxKeys: 5 });
const flags = fc.dictionary(fc.constantFrom(...CONFIG_KEYS.map((k) => k.flag), 'adminAllowRemote', 'caAddress', 'config'),
  fc.oneof(interesting, fc.string({ maxLength: 40 }), fc.boolean()), { maxKeys: 5 });

describe('loadSidecarConfig under arbitrary input', () => {
  it('returns a frozen config or throws a ConfigError with a stable code, and nothing else', () => {
    const seen = new Set<string>();
    fc.assert(fc.property(fc.option(yamlText, { freq: 3 }), env, flags, (text, e, f) => {
      if (text !== null) writeFileSync(file, text);
      try {
        const config = loadSidecarConfig({ ...(text !== null ? { file } : {}), env: e, flags: f });
        expect(Object.isFrozen(config)).toBe(true);
        seen.add('ok');
      } catch (err) {
        if (!(err instanceof ConfigError)) throw new Error(`not a ConfigError: ${String(err)}`, { cause: err });
        expect(STABLE_CODES).toContain(err.code);
        expect(err.message.length).toBeGreaterThan(0);
        seen.add(err.code);
      }
    }), { numRuns: 600, examples: [
      ['inbound: &a [*a]\n', {}, {}], [null, { ZTMESH_TRANSPARENT_EXPECT: '&a {x: *a}' }, {}], [null, { ZTMESH_ADMIN: '0.0.0.0:15000' }, {}],
    ] });
    // Not vacuous: valid configs and each kind of refusal turned up.
    for (const outcome of ['ok', 'invalid_config', 'config_invalid_yaml', 'admin_remote_not_allowed']) expect(seen).toContain(outcome);
  });
});
