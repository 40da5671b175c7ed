/**
 * How every engine process reaches Temporal: the address, TLS (a private CA, a client certificate for mTLS,
 * a server name) and an API key, turned from the validated configuration into the options that both
 * `Connection` (@temporalio/client: the API) and `NativeConnection` (@temporalio/worker) accept.
 * The variables and their rules live in src/config/schema.ts; docs/temporal-connection.md explains them.
 */
import fs from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { ConfigError, type Config } from '../config';
import { unreadable } from '../config/schema';

/** The variables a Temporal connection is built from. */
export type TemporalConnectionConfig = Pick<
  Config,
  'TEMPORAL_ADDRESS' | 'TEMPORAL_TLS' | 'TEMPORAL_TLS_CA_FILE' | 'TEMPORAL_TLS_CERT_FILE' | 'TEMPORAL_TLS_KEY_FILE' | 'TEMPORAL_TLS_SERVER_NAME' | 'TEMPORAL_API_KEY'
>;

/** Options both SDK connections accept: `Connection.lazy(o)`, `Connection.connect(o)`, `NativeConnection.connect(o)`. */
export interface TemporalConnectionOptions {
  address: string;
  /** Absent: plain gRPC (a local dev server). */
  tls?: TLSConfig;
  /** Sent as `authorization: Bearer <key>` on every call. */
  apiKey?: string;
}

/**
 * Whether the connection uses TLS: as configured, else implied by anything that only works over TLS (a TLS
 * file, a server name, an API key). The schema refuses `TEMPORAL_TLS=false` together with any of them.
 */
export function usesTls(config: TemporalConnectionConfig): boolean {
  if (config.TEMPORAL_TLS !== undefined) return config.TEMPORAL_TLS;
  return Boolean(config.TEMPORAL_TLS_CA_FILE || config.TEMPORAL_TLS_CERT_FILE || config.TEMPORAL_TLS_KEY_FILE || config.TEMPORAL_TLS_SERVER_NAME || config.TEMPORAL_API_KEY);
}

/** Reads a file the schema already checked; it can still vanish between the check and the connection. */
function read(variable: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n  ${variable}: ${unreadable(err)}`);
  }
}

/**
 * The connection options of the configuration. Files are read on each call, so a process that reconnects
 * picks up rotated certificates.
 * @example const connection = await NativeConnection.connect(temporalConnectionOptions(engine.config));
 */
export function temporalConnectionOptions(config: TemporalConnectionConfig): TemporalConnectionOptions {
  const options: TemporalConnectionOptions = { address: config.TEMPORAL_ADDRESS };
  if (usesTls(config)) {
    const tls: TLSConfig = {};
    if (config.TEMPORAL_TLS_CA_FILE) tls.serverRootCACertificate = read('TEMPORAL_TLS_CA_FILE', config.TEMPORAL_TLS_CA_FILE);
    if (config.TEMPORAL_TLS_CERT_FILE && config.TEMPORAL_TLS_KEY_FILE) {
      tls.clientCertPair = { crt: read('TEMPORAL_TLS_CERT_FILE', config.TEMPORAL_TLS_CERT_FILE), key: read('TEMPORAL_TLS_KEY_FILE', config.TEMPORAL_TLS_KEY_FILE) };
    }
    if (config.TEMPORAL_TLS_SERVER_NAME) tls.serverNameOverride = config.TEMPORAL_TLS_SERVER_NAME;
    options.tls = tls;
  }
  if (config.TEMPORAL_API_KEY) options.apiKey = config.TEMPORAL_API_KEY;
  return options;
}

/**
 * How the connection is secured, for logs and error messages (names variables, never a key or a path's content).
 * @example describeTemporalConnection(config) // 'TLS (CA from TEMPORAL_TLS_CA_FILE, client certificate)'
 */
export function describeTemporalConnection(config: TemporalConnectionConfig): string {
  if (!usesTls(config)) return 'plain gRPC, no TLS';
  const parts = [
    config.TEMPORAL_TLS_CA_FILE ? 'CA from TEMPORAL_TLS_CA_FILE' : "system's trusted CAs",
    ...(config.TEMPORAL_TLS_CERT_FILE ? ['client certificate'] : []),
    ...(config.TEMPORAL_TLS_SERVER_NAME ? [`server name ${config.TEMPORAL_TLS_SERVER_NAME}`] : []),
    ...(config.TEMPORAL_API_KEY ? ['API key'] : []),
  ];
  return `TLS (${parts.join(', ')})`;
}

/**
 * Connects with the configured options; a failure says where to and how, so a wrong CA, a refused client
 * certificate or a missing API key reads as such rather than as a bare transport error.
 * @example const connection = await connectTemporal(engine.config, (o) => NativeConnection.connect(o));
 */
export async function connectTemporal<C>(config: TemporalConnectionConfig, connect: (options: TemporalConnectionOptions) => Promise<C>): Promise<C> {
  const options = temporalConnectionOptions(config);
  try {
    return await connect(options);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot connect to Temporal at ${config.TEMPORAL_ADDRESS} over ${describeTemporalConnection(config)}: ${reason}`, { cause: err });
  }
}
