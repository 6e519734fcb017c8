// The idle workload's app: accepts connections on a kernel-chosen port and echoes what it gets.
import net from 'node:net';

const server = net.createServer({ noDelay: true }, (s) => {
  s.on('data', (d) => s.write(d));
  s.on('error', () => s.destroy());
});
server.maxConnections = 1_000_000;
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
