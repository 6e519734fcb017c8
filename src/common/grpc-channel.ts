// What every gRPC client of ztmesh shares: channel options (mesh-internal channels, to the CA or to an app's gRPC
// probe, are direct connections, never routed through a proxy the platform put in the environment) and error text.
import type { ChannelOptions } from '@grpc/grpc-js';

/**
 * grpc-js routes a channel through `grpc_proxy`/`https_proxy`/`http_proxy` unless `no_grpc_proxy`/`no_proxy` names
 * the target, and `NO_PROXY=localhost` does not cover 127.0.0.1. A proxy on the way to the CA would see who renews
 * and could stall it; on the way to an app on loopback it would probe the wrong thing. Channelz bookkeeping costs CPU
 * per call and nothing reads it.
 */
export const DIRECT_CHANNEL_OPTIONS: Readonly<ChannelOptions> = Object.freeze({
  'grpc.enable_http_proxy': 0,
  'grpc.enable_channelz': 0,
});

/** What an operator reads when grpc-js failed to connect and kept no error (it then says "Last error: undefined"). */
export const NO_REASON = 'the connection failed, and grpc-js kept no reason';

/**
 * grpc-js wraps a failed connection as "No connection established. Last error: Error: <why>. Resolution note: ";
 * keep only <why>, the part that means something to an operator, and never the word "undefined" in its place.
 */
export function cleanGrpcDetails(details: string): string {
  let d = details.trim();
  const m = /^No connection established\. Last error: (?:Error: )?([\s\S]*?)\.?\s*(?:Resolution note:\s*([\s\S]*))?$/.exec(d);
  if (m) {
    const why = m[1]!.trim();
    d = `${why === '' || why === 'undefined' || why === 'null' ? NO_REASON : why}${m[2]?.trim() ? ` (${m[2].trim()})` : ''}`;
  }
  const dns = /^Name resolution failed for target dns:(.+)$/.exec(d);
  if (dns) d = `cannot resolve ${dns[1]!.trim()}`;
  return d === '' || d === 'undefined' ? NO_REASON : d;
}
