// Where an admin may listen: loopback freely; anything else only with the named opt-in.
import { describe, expect, it } from 'vitest';
import { checkAdminBind } from '../../../src/admin/admin-bind.js';
import { ConfigError } from '../../../src/common/errors.js';

describe('checkAdminBind', () => {
  it('allows loopback without the opt-in and reports it is not remote', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost']) expect(checkAdminBind('--admin', host, 15010, { allowed: false, key: '--admin-allow-remote' })).toBe(false);
  });

  it('refuses any other address without the opt-in, naming the flag, the address and the key', () => {
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'admin.internal']) {
      let err: unknown;
      try {
        checkAdminBind('--admin', host, 15010, { allowed: false, key: '--admin-allow-remote' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).code).toBe('admin_remote_not_allowed');
      expect((err as ConfigError).message).toMatch(/^--admin ".+:15010" is not a loopback address.*set --admin-allow-remote/);
    }
  });

  it('with the opt-in it allows the address and tells the caller to warn', () => {
    expect(checkAdminBind('--admin', '0.0.0.0', 15010, { allowed: true, key: '--admin-allow-remote' })).toBe(true);
  });
});
