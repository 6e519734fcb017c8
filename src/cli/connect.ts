// `ztmesh connect`: a plain TCP client for trying a mesh by hand, like `nc` (which a fresh Debian lacks):
// stdin goes to host:port, what comes back goes to stdout; stdin's end half-closes the connection.
import net from 'node:net';
import type { Command } from 'commander';
import { parseHostPort } from '../common/address.js';
import { ProxyError } from '../common/errors.js';

/** How long to wait for the TCP connection. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Pipes stdin to `target` and the reply to stdout; resolves when the server closes its side. */
export function connect(target: string, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
  const { host, port } = parseHostPort(target, 'host:port', '127.0.0.1');
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, allowHalfOpen: true });
    s.setTimeout(CONNECT_TIMEOUT_MS, () => s.destroy(new ProxyError('timeout', `no connection to ${target} within ${CONNECT_TIMEOUT_MS / 1000}s`)));
    s.once('connect', () => {
      s.setTimeout(0);
      input.pipe(s);
    });
    s.pipe(output, { end: false });
    s.on('error', (e: NodeJS.ErrnoException) => reject(e instanceof ProxyError ? e : new ProxyError(e.code ?? 'connect_failed', `${target}: ${e.message}`)));
    s.on('end', () => resolve());
  });
}

/** Registers the `connect` command. */
export function register(program: Command): void {
  program.command('connect')
    .description('send stdin to host:port over plain TCP and print the reply (like nc), e.g. through an outbound listener')
    .argument('<host:port>', 'where to connect; a bare :port means 127.0.0.1')
    .action(async (target: string) => {
      await connect(target, process.stdin, process.stdout);
      process.stdin.unref?.();
      (process.stdin as NodeJS.ReadStream).destroy?.();
    });
}
