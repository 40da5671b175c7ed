/** A request handler listening on a free loopback port, for tests that call it over real HTTP. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Served {
  server: http.Server;
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `handler` (an Express app or a plain listener) on 127.0.0.1, port 0.
 * @example const codec = await serve(createCodecServer(opts)); … await codec.close();
 */
export async function serve(handler: http.RequestListener): Promise<Served> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // fetch keeps idle connections open for seconds; the test is done with them.
        server.closeAllConnections();
      }),
  };
}
