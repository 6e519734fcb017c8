// A raw HTTP/2 client over mTLS for hostile-peer tests: it writes any frame, well formed or not (node's http2 client
// cannot send a malformed one), and parses what the server sends back. HPACK is literal-only, no Huffman.
//
//   const c = await RawH2Client.connect({ port, key, cert, ca });
//   const id = c.connectStream('127.0.0.1:8080');        // HEADERS (CONNECT) on the next client stream ID
//   await c.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === id);
//   c.send(frame(FRAME.DATA, 0, id, Buffer.alloc(20_000)));   // longer than SETTINGS_MAX_FRAME_SIZE
//   c.destroy();
import tls from 'node:tls';

/** Frame types (RFC 9113 §6). */
export const FRAME = {
  DATA: 0x0, HEADERS: 0x1, PRIORITY: 0x2, RST_STREAM: 0x3, SETTINGS: 0x4, PUSH_PROMISE: 0x5, PING: 0x6, GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8, CONTINUATION: 0x9,
} as const;

/** Frame flags. */
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** One frame on the wire: a 9-byte header, then `payload`. `length` overrides the header's length field. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0), length = payload.length): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(length & 0xffffff, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** A SETTINGS frame with (id, value) pairs. */
export function settingsFrame(entries: [number, number][] = [], ack = false): Buffer {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, v], i) => { p.writeUInt16BE(id, i * 6); p.writeUInt32BE(v >>> 0, i * 6 + 2); });
  return frame(FRAME.SETTINGS, ack ? FLAG.ACK : 0, 0, p);
}

/** A 32-bit payload (RST_STREAM's code, WINDOW_UPDATE's increment). */
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** GOAWAY: last stream ID and an error code. */
export function goawayFrame(lastStreamId: number, code: number): Buffer {
  return frame(FRAME.GOAWAY, 0, 0, Buffer.concat([u32(lastStreamId), u32(code)]));
}

/** An HPACK string literal without Huffman coding (7-bit prefix length). */
function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInt(bytes.length, 7, 0), bytes]);
}

/** An HPACK integer with an n-bit prefix, OR'ed with `high` in its first byte. */
function hpackInt(value: number, prefixBits: number, high: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([high | value]);
  const out = [high | max];
  let v = value - max;
  while (v >= 128) { out.push((v & 0x7f) | 0x80); v >>= 7; }
  out.push(v);
  return Buffer.from(out);
}

/** Static-table indexes (RFC 7541 Appendix A) of the names a CONNECT request uses. */
const STATIC = { ':authority': 1, ':method': 2 } as const;

/** A header block of literal fields without indexing: indexed names where the static table has them. */
export function headerBlock(headers: [string, string][]): Buffer {
  return Buffer.concat(headers.map(([name, value]) => {
    const idx = (STATIC as Record<string, number>)[name];
    return idx
      ? Buffer.concat([hpackInt(idx, 4, 0x00), hpackString(value)])
      : Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
  }));
}

/** The header block of `CONNECT authority`. */
export function connectBlock(authority: string): Buffer {
  return headerBlock([[':method', 'CONNECT'], [':authority', authority]]);
}

/** A frame as the server sent it. */
export interface ParsedFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export interface RawH2Options {
  port: number;
  host?: string;
  /** Source address (any of 127/8 is local on Linux). */
  localAddress?: string;
  key?: string;
  cert?: string;
  ca?: string;
  /** Sent after the preface; default: an empty SETTINGS frame. */
  settings?: [number, number][];
  /** Answer the server's SETTINGS with an ACK (default true). */
  ackSettings?: boolean;
}

/** One raw HTTP/2 connection: write frames, read the server's. */
export class RawH2Client {
  readonly frames: ParsedFrame[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private nextStreamId = 1;
  /** Set once the socket closed. */
  closed = false;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: tls.TLSSocket, private readonly ackSettings: boolean) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => {});
    socket.once('close', () => { this.closed = true; this.wake(); });
  }

  /** Dials with TLS 1.3 and ALPN h2, writes the preface and SETTINGS; resolves once TLS is up. */
  static connect(opts: RawH2Options): Promise<RawH2Client> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: opts.host ?? '127.0.0.1', port: opts.port, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'], ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        ...(opts.key ? { key: opts.key, cert: opts.cert } : {}), ...(opts.ca ? { ca: opts.ca } : {}),
        checkServerIdentity: () => undefined,
      });
      socket.once('error', reject);
      socket.once('secureConnect', () => {
        socket.removeListener('error', reject);
        const c = new RawH2Client(socket, opts.ackSettings ?? true);
        c.send(PREFACE, settingsFrame(opts.settings ?? []));
        resolve(c);
      });
    });
  }

  /** Writes raw bytes (frames) as they are; a no-op once the socket is gone. */
  send(...chunks: Buffer[]): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(Buffer.concat(chunks));
  }

  /** Opens a CONNECT stream to `authority` on the next client stream ID (HEADERS with END_HEADERS); returns the ID. */
  connectStream(authority: string): number {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    this.send(frame(FRAME.HEADERS, FLAG.END_HEADERS, id, connectBlock(authority)));
    return id;
  }

  /** The stream IDs that the server answered with a HEADERS frame. */
  answered(): Set<number> {
    return new Set(this.frames.filter((f) => f.type === FRAME.HEADERS).map((f) => f.streamId));
  }

  /** The GOAWAY the server sent, if any: its error code. */
  goawayCode(): number | undefined {
    const g = this.frames.find((f) => f.type === FRAME.GOAWAY);
    return g ? g.payload.readUInt32BE(4) : undefined;
  }

  /** Resolves once `pred` holds (checked on every frame and on close), or rejects after timeoutMs. */
  async until(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (pred()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { this.waiters.delete(check); reject(new Error(`raw h2: condition not met within ${timeoutMs} ms (${this.frames.length} frames, closed ${this.closed})`)); }, timeoutMs);
      const check = () => {
        if (!pred()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Resolves with the first frame matching `pred`. */
  async waitFor(pred: (f: ParsedFrame) => boolean, timeoutMs = 10_000): Promise<ParsedFrame> {
    await this.until(() => this.frames.some(pred) || this.closed, timeoutMs);
    const f = this.frames.find(pred);
    if (!f) throw new Error('raw h2: the connection closed before the frame came');
    return f;
  }

  /** Sends FIN and forgets the socket. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, d]) : d;
    while (this.pending.length >= 9) {
      const len = this.pending.readUIntBE(0, 3);
      if (this.pending.length < 9 + len) break;
      const f: ParsedFrame = { type: this.pending[3]!, flags: this.pending[4]!, streamId: this.pending.readUInt32BE(5) & 0x7fffffff, payload: this.pending.subarray(9, 9 + len) };
      this.pending = this.pending.subarray(9 + len);
      this.frames.push(f);
      if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK) && this.ackSettings) this.send(settingsFrame([], true));
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
