// `direct`: no proxies, the load client talks to the app. The ceiling every proxied run is measured against.

export const direct = {
  name: 'direct',
  settings: () => 'no proxies: the load client connects to the app directly (plain TCP).',
  async start(_ctx, { upstreamPort }) {
    return {
      entryPort: upstreamPort, bPort: undefined, files: {},
      pidsA: () => [], pidsB: () => [], logs: () => ({}),
      async stop() {},
    };
  },
};
