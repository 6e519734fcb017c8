// What a sidecar keeps of a mesh kind in identity.stateDir across a restart (membership.json, policy.json): the last
// snapshot it applied, as the wire spells it (the update without its kind and base), written atomically with mode
// 0600 and read back through the one decoder, so a kept file is checked exactly as an update from the CA is.
import { promises as fs } from 'node:fs';
import { describe } from '../../common/errors.js';
import { writeFileAtomic } from '../../common/files.js';
import type { Logger } from '../../common/logger.js';
import { decodeUpdate, encodeUpdate, type MeshUpdate } from '../../mesh/codec.js';
import type { MeshKind } from '../../mesh/kinds.js';

/**
 * The snapshot of `kind` kept in `file`, or undefined (none kept, unreadable or refused: each but the first logged,
 * naming the file, as `what` for people). Never throws.
 */
export async function readKeptUpdate(file: string, kind: MeshKind, log: Logger, what: string): Promise<MeshUpdate | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ file, err: describe(e).message }, `kept ${what} unreadable; waiting for the CA`);
    return undefined;
  }
  let decoded: ReturnType<typeof decodeUpdate>;
  try {
    decoded = decodeUpdate({ ...JSON.parse(text), kind, baseVersion: '' });
  } catch (e) {
    decoded = { ok: false, refusal: { code: 'malformed_update', detail: describe(e).message } };
  }
  if (!decoded.ok || decoded.value.kind !== kind) {
    log.warn({ file, code: decoded.ok ? 'malformed_update' : decoded.refusal.code, err: decoded.ok ? '' : decoded.refusal.detail }, `kept ${what} refused; waiting for the CA`);
    return undefined;
  }
  return decoded.value;
}

/** The document of a kept snapshot: the wire form without kind and base (what readKeptUpdate reads). */
export function keptDocument(u: MeshUpdate): string {
  const { kind: _kind, baseVersion: _base, ...doc } = encodeUpdate(u);
  return `${JSON.stringify(doc)}\n`;
}

/** Writes a snapshot after the writes before it (`after`); a failure is logged, never thrown. Returns the write. */
export function writeKeptUpdate(file: string, u: MeshUpdate, after: Promise<void>, log: Logger, what: string): Promise<void> {
  return after.then(() => writeFileAtomic(file, keptDocument(u), 0o600)).catch((e: unknown) => {
    log.warn({ file, err: describe(e).message }, `could not keep the ${what} in the state directory`);
  });
}
