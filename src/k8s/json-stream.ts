// A stream of concatenated JSON values (what `kubectl create --dry-run=client -o json` prints for several resources:
// `{…}{…}` or `{…}\n{…}`), split into its values. Pure; a stream that does not parse names the value and the offset.
import { ConfigError } from '../common/errors.js';

/**
 * Every JSON value of `text`, in order: one value as JSON.parse reads it, or several separated by nothing or by
 * whitespace. Throws ConfigError `invalid_manifest` naming the value (1-based) and its byte offset.
 */
export function parseJsonStream(text: string): unknown[] {
  const values: unknown[] = [];
  let i = skipSpace(text, 0);
  while (i < text.length) {
    const end = valueEnd(text, i);
    const piece = text.slice(i, end);
    try {
      values.push(JSON.parse(piece));
    } catch (e) {
      throw new ConfigError('invalid_manifest', `not valid JSON: value ${values.length + 1} (at offset ${i}): ${(e as Error).message}`);
    }
    i = skipSpace(text, end);
  }
  return values;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && /\s/.test(text[i]!)) i++;
  return i;
}

/**
 * Where the value starting at `i` ends: after its closing bracket for an object or array (strings skipped, escapes
 * honoured), else at the next whitespace or bracket. JSON.parse then judges the piece.
 */
function valueEnd(text: string, i: number): number {
  const open = text[i];
  if (open !== '{' && open !== '[') {
    if (open === '"') return stringEnd(text, i);
    let j = i;
    while (j < text.length && !/[\s{}[\]"]/.test(text[j]!)) j++;
    return Math.max(j, i + 1);
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text[j];
    if (c === '"') j = stringEnd(text, j) - 1;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return text.length;
}

function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j + 1;
  }
  return text.length;
}
