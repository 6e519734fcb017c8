// The CA's connection caps (--max-connections, --max-connections-per-source), fitted under the process's open-file
// limit; its front door (tls-front-door.ts) holds them with the front door's admission (front-door/admission.ts).

/** Connection caps of the CA's gRPC port. */
export interface ConnectionLimits {
  /** Connections held at once, handshaking or established. */
  max: number;
  /** Connections held at once from one source address. */
  maxPerSource: number;
}

/**
 * File descriptors kept back from the connection cap: stdio, signing workers, the admin port and its clients,
 * the watched bundle, token files and the Kubernetes API client.
 */
export const FD_RESERVE = 128;

/** The connection cap that fits `nofile` (the process's open-file limit) with FD_RESERVE to spare. Pure. */
export function fitConnectionCap(max: number, nofile: number | undefined): number {
  return nofile === undefined ? max : Math.max(1, Math.min(max, nofile - FD_RESERVE));
}
