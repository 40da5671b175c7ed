/**
 * Real servers for the connector tests, started once per mocha run on first use and stopped by a
 * root-level `after` hook: MinIO and two Elasticsearch nodes (7.17 with the reindex module, 8.19 without
 * it), and the run's one PostgreSQL, which test/harness/postgres.ts starts and stops for every suite.
 * Nothing is skipped: a server that cannot start fails the tests that need it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { S3Client } from '@aws-sdk/client-s3';
import { Client as EsClient } from '@elastic/elasticsearch';
import { startMinio, type MinioServer, type PostgresServer } from '../../src/dev/servers';
import { startElasticsearch, type ElasticsearchMajor, type ElasticsearchServer } from '../../src/dev/elasticsearch';
import { freshDatabase as createFreshDatabase, sharedPostgres } from '../harness/postgres';

const started: Array<{ stop(): Promise<void> }> = [];
const cache = new Map<string, Promise<unknown>>();

function once<T extends { stop(): Promise<void> }>(key: string, start: () => Promise<T>): Promise<T> {
  let p = cache.get(key) as Promise<T> | undefined;
  if (!p) {
    p = start().then((s) => {
      started.push(s);
      return s;
    });
    cache.set(key, p);
  }
  return p;
}

/** The run's PostgreSQL (shared with every other suite); each test file creates its own database on it. */
export function postgres(): Promise<PostgresServer> {
  return sharedPostgres();
}

/** Stops a server, then deletes its data folder. */
function removingDataDir<T extends { stop(): Promise<void> }>(server: T, dataDir: string): T {
  return {
    ...server,
    async stop() {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** MinIO, its data in memory (/dev/shm) when the machine has it: the tests write thousands of objects. */
export function minio(): Promise<MinioServer> {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  return once('minio', async () => {
    const dataDir = fs.mkdtempSync(path.join(base, 'erasure-conn-minio-'));
    return removingDataDir(await startMinio({ dataDir }), dataDir);
  });
}

export function elasticsearch(major: ElasticsearchMajor): Promise<ElasticsearchServer> {
  return once(`es${major}`, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `erasure-conn-es${major}-`));
    return removingDataDir(await startElasticsearch({ major, dataDir }), dataDir);
  });
}

/**
 * A database no other suite uses (named `prefix_<pid>_<n>`) on the shared server, and a client connected to it.
 * @example const { url, client } = await freshDatabase('connector_pg');
 */
export async function freshDatabase(prefix: string): Promise<{ url: string; client: pg.Client }> {
  const server = await postgres();
  const url = server.urlFor(await createFreshDatabase(server, prefix));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return { url, client };
}

export function s3ClientFor(m: MinioServer): S3Client {
  return new S3Client({
    endpoint: m.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: m.accessKeyId, secretAccessKey: m.secretAccessKey },
  });
}

export function esClientFor(es: ElasticsearchServer): EsClient {
  return new EsClient({ node: es.url });
}

type ServerName = 'postgres' | 'minio' | 'es7' | 'es8';
const starters: Record<ServerName, () => Promise<unknown>> = {
  postgres,
  minio,
  es7: () => elasticsearch(7),
  es8: () => elasticsearch(8),
};

/**
 * Starts the servers a test file needs in the background as soon as the file is loaded: mocha loads every
 * file before running any, so all servers of a run boot in parallel and no file pays a cold start in series.
 */
export function warmUp(...names: ServerName[]): void {
  for (const name of names) starters[name]().catch(() => undefined);
}

// Root-level hook: runs once after every test file, whichever imported this module first. Servers still
// booting (warmed up but never awaited) are waited for, so that none is left running. PostgreSQL is not
// among them: test/harness/postgres.ts stops it, and signals its postmaster on an abrupt exit.
after(async function () {
  this.timeout(120_000);
  await Promise.allSettled([...cache.values()]);
  await Promise.all(started.splice(0).map((s) => s.stop().catch(() => undefined)));
});

// mocha --exit ends the process without waiting; make sure no server outlives it.
process.once('exit', () => {
  for (const s of started as Array<{ process?: { kill(sig: string): void } }>) s.process?.kill('SIGKILL');
});
