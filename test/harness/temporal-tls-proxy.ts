/**
 * A real TLS endpoint in front of the plain Temporal dev server (which has no TLS): an HTTP/2 server that
 * terminates TLS, optionally demands a client certificate signed by the test CA (mTLS) and an API key, and
 * forwards every gRPC stream to the dev server, headers, messages and trailers. Its port speaks only TLS,
 * so a client that ignored its TLS settings cannot get through. Certificates come from the `openssl` CLI.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';

export interface TlsProxyOptions {
  /** host:port of the plain (h2c) gRPC server to forward to. */
  upstream: string;
  /** The proxy's own certificate and key (PEM). */
  cert: Buffer;
  key: Buffer;
  /** Set: a client must present a certificate signed by this CA, or its TLS connection is refused. */
  clientCa?: Buffer;
  /** Set: a call without `authorization: Bearer <apiKey>` is answered with gRPC status 16 UNAUTHENTICATED. */
  apiKey?: string;
}

export interface TlsProxy {
  /** 127.0.0.1:port, to use as TEMPORAL_ADDRESS. */
  address: string;
  /** The gRPC methods forwarded (e.g. `…WorkflowService/PollWorkflowTaskQueue`). */
  forwarded: Set<string>;
  /** The `authorization` headers calls arrived with. */
  authorizations: Set<string>;
  /** Calls refused for a missing or wrong API key. */
  unauthenticated: number;
  /** Common names of the client certificates presented. */
  clientNames: Set<string>;
  close(): Promise<void>;
}

const GRPC_UNAUTHENTICATED = '16';
const GRPC_INTERNAL = '13';
const { NGHTTP2_FLAG_END_STREAM, NGHTTP2_CANCEL } = http2.constants;

/** Starts the proxy on a free loopback port. */
export async function startTlsProxy(opts: TlsProxyOptions): Promise<TlsProxy> {
  let upstream: http2.ClientHttp2Session | undefined;
  const session = () => {
    if (!upstream || upstream.closed || upstream.destroyed) {
      upstream = http2.connect(`http://${opts.upstream}`);
      upstream.on('error', () => undefined); // each stream reports its own failure
    }
    return upstream;
  };
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createSecureServer({
    cert: opts.cert,
    key: opts.key,
    ALPNProtocols: ['h2'],
    ...(opts.clientCa ? { ca: opts.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  });
  const proxy: TlsProxy = {
    address: '',
    forwarded: new Set(),
    authorizations: new Set(),
    unauthenticated: 0,
    clientNames: new Set(),
    async close() {
      for (const s of sessions) s.destroy();
      upstream?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    const peer = (s.socket as TLSSocket).getPeerCertificate?.();
    if (peer?.subject?.CN) proxy.clientNames.add(String(peer.subject.CN));
  });
  server.on('stream', (stream, headers) => {
    const authorization = headers.authorization;
    if (authorization) proxy.authorizations.add(String(authorization));
    if (opts.apiKey !== undefined && authorization !== `Bearer ${opts.apiKey}`) {
      proxy.unauthenticated++;
      // A trailers-only response, as a gRPC server answers a call it refuses.
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': GRPC_UNAUTHENTICATED, 'grpc-message': 'missing or wrong API key' }, { endStream: true });
      return;
    }
    const { ':authority': _authority, ':scheme': _scheme, ...forward } = headers;
    proxy.forwarded.add(String(headers[':path']));
    const up = session().request(forward);
    let trailers: http2.IncomingHttpHeaders | undefined;
    up.on('trailers', (t) => (trailers = t));
    up.on('response', (response, flags) => {
      if ((flags ?? 0) & NGHTTP2_FLAG_END_STREAM) {
        stream.respond(response, { endStream: true });
        return;
      }
      stream.respond(response, { waitForTrailers: true });
      up.pipe(stream);
    });
    // Trailers arrive before the upstream's end, and so before the end of our response that asks for them.
    stream.on('wantTrailers', () => stream.sendTrailers(trailers ?? { 'grpc-status': GRPC_INTERNAL, 'grpc-message': 'proxy: the server sent no trailers' }));
    up.on('error', () => {
      if (!stream.headersSent && !stream.destroyed) stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'proxy: upstream unavailable' }, { endStream: true });
      else stream.close(NGHTTP2_CANCEL);
    });
    stream.on('error', () => up.close(NGHTTP2_CANCEL));
    stream.on('close', () => {
      if (!up.closed) up.close(NGHTTP2_CANCEL);
    });
    stream.pipe(up);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  proxy.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

/** File paths of a test PKI. */
export interface TestPki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: trusting it instead of `caCert` must fail. */
  otherCaCert: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('/usr/bin/openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function makeLeaf(dir: string, name: string, extensions: string): void {
  fs.writeFileSync(path.join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n${extensions}\n`);
  openssl(dir, ['req', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${Date.now().toString(16)}${name.length}`, '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
}

/**
 * A CA, a server certificate for 127.0.0.1 and localhost, a client certificate (CN `erasure-worker`) and an
 * unrelated CA, written into `dir` with the openssl CLI.
 */
export function makeTestPki(dir: string): TestPki {
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth');
  makeLeaf(dir, 'erasure-worker', 'extendedKeyUsage=clientAuth');
  const f = (name: string) => path.join(dir, name);
  return {
    caCert: f('ca.crt'),
    serverCert: f('localhost.crt'),
    serverKey: f('localhost.key'),
    clientCert: f('erasure-worker.crt'),
    clientKey: f('erasure-worker.key'),
    otherCaCert: f('other-ca.crt'),
  };
}
