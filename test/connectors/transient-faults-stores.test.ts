/**
 * A fault is transient until proven permanent (issue 16, point 10), for PostgreSQL and S3: a stopped
 * server, a PostgreSQL in recovery (a standby that rejects connections with SQLSTATE 57P03 until it is
 * promoted), a terminated backend (57P01) and a MinIO restarting are retried; past the transient window the
 * same fault is permanent and says how long it lasted; a column the catalog names that does not exist and
 * refused credentials are permanent at once. Elasticsearch: ./transient-faults.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { CreateBucketCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { postgresConnector } from '../../src/systems/postgres/connector';
import { classify as classifyPostgres } from '../../src/systems/postgres/errors';
import type { PostgresSystem } from '../../src/systems/postgres';
import { s3Connector } from '../../src/systems/s3/connector';
import { classify as classifyS3 } from '../../src/systems/s3/failures';
import type { S3System } from '../../src/systems/s3';
import { withTransientWindow } from '../../src/systems/connector-kit';
import { freePort, startMinio, startPostgres, toolPaths, waitForPort, type MinioServer, type PostgresServer } from '../../src/dev/servers';
import { freshDatabase, postgres, s3ClientFor, warmUp } from './servers';
import { alice, assertNoPii, assertNonRetryable, assertRetryable, bob, failure, system, taskFor } from './helpers';
import { MINUTE, scheduledAgo, throughRestart } from './transient';

warmUp('postgres');

const isRoot = process.getuid?.() === 0;
/** PostgreSQL refuses to run as root: as root, its binaries run as the `postgres` user (as src/dev/servers.ts does). */
const pgArgs = (bin: string, args: string[]): [string, string[]] => {
  const file = path.join(toolPaths().pgBindir, bin);
  return isRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
};

function pgEntry(url: string, column = 'email'): PostgresSystem {
  return system({ id: 'shop-db', kind: 'postgres', connection: url, tables: [{ table: 'customers', match: { column, identifier: 'email' }, action: 'delete' }] });
}

describe('PostgreSQL faults (real servers)', () => {
  it('a backend terminated by the server (SQLSTATE 57P01, a shutdown or failover) is transient', async () => {
    const server = await postgres();
    const victim = new pg.Client({ connectionString: server.url });
    const killer = new pg.Client({ connectionString: server.url });
    victim.on('error', () => undefined);
    await Promise.all([victim.connect(), killer.connect()]);
    try {
      const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const sleeping = victim.query('SELECT pg_sleep(30)').then(() => undefined, (err: unknown) => err);
      await new Promise((r) => setTimeout(r, 300));
      await killer.query('SELECT pg_terminate_backend($1)', [pid]);
      const err = (await sleeping) as { code?: string };
      assert.equal(err?.code, '57P01');
      const classified = classifyPostgres('shop-db', err);
      assertRetryable(classified, 'shop-db');
      assert.match(classified.message, /PostgreSQL is shutting down \(administrator command\) \(SQLSTATE 57P01\)/);
    } finally {
      await killer.end();
      await victim.end().catch(() => undefined);
    }
  });

  it('a column the catalog names that does not exist is permanent at once, inside the window', async () => {
    const { url, client } = await freshDatabase('transient_pg');
    try {
      await client.query('CREATE TABLE customers (id int PRIMARY KEY, email text)');
      const conn = withTransientWindow(postgresConnector(pgEntry(url, 'e_mail')), 15 * MINUTE);
      try {
        assertNonRetryable(await failure(scheduledAgo(MINUTE, () => conn.erase(taskFor(pgEntry(url, 'e_mail'), alice)))), 'shop-db', 'e_mail');
      } finally {
        await conn.close();
      }
    } finally {
      await client.end();
    }
  });

  describe('a server stopped, started again in recovery, then promoted (its own server)', () => {
    let dataDir: string;
    let server: PostgresServer | undefined;
    let standby: ChildProcess | undefined;

    before(async () => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-transient-pg-'));
      server = await startPostgres({ dataDir });
      const db = new pg.Client({ connectionString: server.url });
      await db.connect();
      await db.query('CREATE TABLE customers (id int PRIMARY KEY, email text)');
      await db.query('INSERT INTO customers SELECT g, CASE WHEN g % 2 = 0 THEN $1 ELSE $2 END FROM generate_series(1, 20) g', [alice.email, bob.email]);
      await db.end();
    });
    after(async () => {
      if (standby && standby.exitCode === null) {
        const [cmd, args] = pgArgs('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
        try {
          execFileSync(cmd, args, { stdio: 'pipe', timeout: 30_000 });
        } catch {
          standby.kill('SIGKILL');
        }
      }
      await server?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('refused connections and "not accepting connections" (SQLSTATE 57P03) are retried until past the window; once promoted, the erasure completes', async () => {
      const sys = pgEntry(server!.url);
      const raw = postgresConnector(sys);
      const conn = withTransientWindow(raw, 15 * MINUTE);
      try {
        await server!.stop();
        const down = await failure(raw.erase(taskFor(sys, alice)));
        assertRetryable(down, 'shop-db');
        assert.match(down.message, /cannot reach PostgreSQL \(ECONNREFUSED\)/);

        // Started again as a standby that replays no WAL and refuses connections: a server in recovery.
        fs.writeFileSync(path.join(dataDir, 'standby.signal'), '');
        fs.appendFileSync(path.join(dataDir, 'postgresql.auto.conf'), '\nhot_standby = off\n');
        if (isRoot) execFileSync('chown', ['postgres:postgres', path.join(dataDir, 'standby.signal')]);
        const [cmd, args] = pgArgs('postgres', ['-D', dataDir, '-p', String(server!.port), '-h', '127.0.0.1', '-k', dataDir, '-c', 'fsync=off']);
        standby = spawn(cmd, args, { stdio: 'ignore' });
        await waitForPort(server!.port, 30_000, 'PostgreSQL standby');
        let recovering: Error | undefined;
        for (let i = 0; i < 100 && !/57P03/.test(recovering?.message ?? ''); i++) {
          recovering = await failure(raw.erase(taskFor(sys, alice)));
          await new Promise((r) => setTimeout(r, 100));
        }
        assertRetryable(recovering!, 'shop-db');
        assert.match(recovering!.message, /PostgreSQL is not accepting connections yet \(starting up, in recovery or shutting down\) \(SQLSTATE 57P03\)/);
        assertRetryable(await failure(scheduledAgo(14 * MINUTE, () => conn.erase(taskFor(sys, alice)))), 'shop-db');
        const past = await failure(scheduledAgo(25 * MINUTE, () => conn.verify(taskFor(sys, alice))));
        assertNonRetryable(past, 'shop-db', /SQLSTATE 57P03.*; still failing 25 minutes after this step was first scheduled \(transient window 15 minutes\)/);
        assertNoPii(past.message, alice, bob);

        // Failover complete: the standby is promoted, and the same connector erases Alice's rows, and only hers.
        const { errors } = await throughRestart(
          () => scheduledAgo(MINUTE, () => conn.erase(taskFor(sys, alice))),
          async () => {
            const [ctl, ctlArgs] = pgArgs('pg_ctl', ['-D', dataDir, '-w', 'promote']);
            execFileSync(ctl, ctlArgs, { stdio: 'pipe', timeout: 60_000 });
          },
        );
        for (const err of errors) assertRetryable(err, 'shop-db');
        assert.deepEqual(await conn.verify(taskFor(sys, alice)), { remaining: 0 });
        const db = new pg.Client({ connectionString: server!.url });
        await db.connect();
        const left = await db.query<{ email: string; n: number }>('SELECT email, count(*)::int AS n FROM customers GROUP BY email');
        await db.end();
        assert.deepEqual(left.rows, [{ email: bob.email, n: 10 }]);
      } finally {
        await raw.close();
      }
    });
  });
});

describe('S3 faults (its own MinIO)', () => {
  let dataDir: string;
  let minio: MinioServer | undefined;
  const bucket = 'transient';

  function s3Entry(m: MinioServer, extra: Record<string, unknown> = {}): S3System {
    return system({
      id: 'documents', kind: 's3', bucket, endpoint: m.endpoint, accessKeyId: m.accessKeyId, secretAccessKey: m.secretAccessKey, prefixes: ['users/{userId}/'], ...extra,
    });
  }

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-transient-minio-'));
    minio = await startMinio({ dataDir, port: await freePort() });
    const client = s3ClientFor(minio);
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const user of [alice.userId!, bob.userId!]) {
      for (let i = 0; i < 3; i++) await client.send(new PutObjectCommand({ Bucket: bucket, Key: `users/${user}/${i}.txt`, Body: 'x' }));
    }
    client.destroy();
  });
  after(async () => {
    await minio?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('a stopped MinIO is transient, past the window permanent; restarted, the erasure completes', async () => {
    const sys = s3Entry(minio!);
    const conn = withTransientWindow(s3Connector(sys), 15 * MINUTE);
    const port = Number(new URL(minio!.endpoint).port);
    try {
      await minio!.stop();
      assertRetryable(await failure(conn.erase(taskFor(sys, alice))), 'documents');
      assertRetryable(await failure(scheduledAgo(10 * MINUTE, () => conn.erase(taskFor(sys, alice)))), 'documents');
      const past = await failure(scheduledAgo(16 * MINUTE, () => conn.erase(taskFor(sys, alice))));
      assertNonRetryable(past, 'documents', /cannot reach S3 .*; still failing 16 minutes/);
      assertNoPii(past.message, alice);
      const { result, errors } = await throughRestart(
        () => scheduledAgo(MINUTE, () => conn.erase(taskFor(sys, alice))),
        async () => {
          minio = await startMinio({ dataDir, port });
        },
      );
      for (const err of errors) assertRetryable(err, 'documents');
      assert.equal(result.erased, 3);
      assert.deepEqual(await conn.verify(taskFor(sys, bob)), { remaining: 3 }, "Bob's objects untouched");
    } finally {
      await conn.close();
    }
  });

  it('refused credentials are permanent at once, inside the window', async () => {
    const sys = s3Entry(minio!, { secretAccessKey: 'not-the-secret' });
    const conn = withTransientWindow(s3Connector(sys), 15 * MINUTE);
    try {
      assertNonRetryable(await failure(scheduledAgo(MINUTE, () => conn.erase(taskFor(sys, alice)))), 'documents', 'SignatureDoesNotMatch');
    } finally {
      await conn.close();
    }
  });

  it("S3's throttling and server errors are transient (SlowDown, InternalError, ServiceUnavailable, RequestTimeout)", () => {
    // MinIO does not throttle on demand: the errors as the SDK raises them, status and code as S3 sends them.
    for (const [name, status] of [['SlowDown', 503], ['InternalError', 500], ['ServiceUnavailable', 503], ['RequestTimeout', 400], ['SlowDown', undefined]] as const) {
      const err = new S3ServiceException({ name, $fault: 'server', $metadata: { httpStatusCode: status } });
      const classified = classifyS3('documents', bucket, err);
      assertRetryable(classified, 'documents');
      assert.match(classified.message, new RegExp(name));
    }
    assertNonRetryable(classifyS3('documents', bucket, new S3ServiceException({ name: 'NoSuchBucket', $fault: 'client', $metadata: { httpStatusCode: 404 } })), 'documents', 'does not exist');
  });
});
