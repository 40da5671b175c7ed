/**
 * Real servers for the connector tests, started once per mocha run on first use and stopped by a
 * root-level `after` hook: PostgreSQL, MinIO and two Elasticsearch nodes (7.17 with the reindex module,
 * 8.19 without it). Nothing is skipped: a server that cannot start fails the tests that need it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { S3Client } from '@aws-sdk/client-s3';
import { Client as EsClient } from '@elastic/elasticsearch';
import { startMinio, startPostgres, type MinioServer, type PostgresServer } from '../../src/dev/servers';
import { startElasticsearch, type ElasticsearchMajor, type ElasticsearchServer } from '../../src/dev/elasticsearch';

export interface TestPostgres extends PostgresServer {
  dataDir: string;
}

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

/** PostgreSQL; each test file creates its own database on it. */
export function postgres(): Promise<TestPostgres> {
  return once('postgres', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-conn-pg-'));
    const server = await startPostgres({ dataDir });
    return { ...removingDataDir(server, dataDir), dataDir };
  });
}

/** Last resort when the process exits abruptly: signal the postmaster itself (runuser does not pass signals on). */
function stopPostmaster(dataDir: string): void {
  try {
    const pid = parseInt(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0], 10);
    if (pid > 0) process.kill(pid, 'SIGINT');
  } catch {
    // not running
  }
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

/** A fresh database on the shared server, and a client connected to it. */
export async function freshDatabase(name: string): Promise<{ url: string; client: pg.Client }> {
  const server = await postgres();
  await server.createDatabase(name);
  const url = server.urlFor(name);
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
// booting (warmed up but never awaited) are waited for, so that none is left running.
after(async function () {
  this.timeout(120_000);
  await Promise.allSettled([...cache.values()]);
  await Promise.all(started.splice(0).map((s) => s.stop().catch(() => undefined)));
});

// mocha --exit ends the process without waiting; make sure no server outlives it.
process.once('exit', () => {
  for (const s of started as Array<{ process?: { kill(sig: string): void }; dataDir?: string }>) {
    if (s.dataDir) stopPostmaster(s.dataDir);
    s.process?.kill('SIGKILL');
  }
});
