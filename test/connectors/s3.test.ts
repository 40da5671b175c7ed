import assert from 'node:assert/strict';
import {
  CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectVersionsCommand, ListObjectsV2Command, PutBucketVersioningCommand,
  PutObjectCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { s3Connector, expandTemplate } from '../../src/systems/s3/connector';
import type { S3System } from '../../src/systems/s3';
import { freePort, type MinioServer } from '../../src/dev/servers';
import { minio, s3ClientFor, warmUp } from './servers';
import { tarOf } from './tar';
import {
  alice, assertErasedAsToday, assertNoPii, assertNonRetryable, assertRetryable, derivedTaskFor, failure, inActivity, oldStyleTaskFor, system, taskFor,
} from './helpers';
import type { SubjectIdentifiers } from '../../src/domain';

warmUp('minio');

/** Bob's user id starts with Alice's: prefixes must still keep them apart. */
const bobS3: SubjectIdentifiers = { email: 'bob@example.com', userId: 'u-alice2' };

async function putMany(client: S3Client, bucket: string, keys: string[], body: (key: string) => string, concurrency = 32): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keys.length) {
        const key = keys[next++];
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body(key) }));
      }
    }),
  );
}

/** Every version and delete marker under a prefix, with the bytes of each version: a full fingerprint. */
async function fingerprint(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  do {
    const res = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionMarker }));
    for (const v of res.Versions ?? []) {
      const obj = await client.send(new GetObjectCommand({ Bucket: bucket, Key: v.Key, VersionId: v.VersionId }));
      out.push(`version ${v.Key} ${v.VersionId} ${v.IsLatest} ${v.ETag} ${await obj.Body!.transformToString('base64')}`);
    }
    for (const m of res.DeleteMarkers ?? []) out.push(`marker ${m.Key} ${m.VersionId} ${m.IsLatest}`);
    keyMarker = res.IsTruncated ? res.NextKeyMarker : undefined;
    versionMarker = res.IsTruncated ? res.NextVersionIdMarker : undefined;
  } while (keyMarker);
  return out.sort();
}

async function listAll(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (res.Contents ?? []).map((o) => o.Key!);
}

/** Objects with several versions, a deleted-then-recreated key, a key whose latest version is a delete marker. */
async function seedSubject(client: S3Client, bucket: string, s: SubjectIdentifiers): Promise<number> {
  const user = encodeURIComponent(s.userId!);
  const mail = encodeURIComponent(s.email!);
  const keys = [`users/${user}/photo 1.jpg`, `users/${user}/résumé ✓ 2024.pdf`, `users/${user}/nested/deep/Ünïcode 日本.txt`, `mail/${mail}/inbox 1.eml`, `exports/${user}.zip`];
  let count = 0;
  for (const key of keys) {
    for (let v = 1; v <= 3; v++) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `${key} v${v}` }));
      count++;
    }
  }
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keys[0] })); // marker, then a new version
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: keys[0], Body: 'recreated' }));
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keys[1] })); // latest is a marker
  return count + 3;
}

function entry(m: MinioServer, bucket: string, extra: Record<string, unknown> = {}): S3System {
  return system({
    id: 'documents',
    kind: 's3',
    bucket,
    endpoint: m.endpoint,
    accessKeyId: m.accessKeyId,
    secretAccessKey: m.secretAccessKey,
    prefixes: ['users/{userId}/', 'mail/{email}/'],
    keys: ['exports/{userId}.zip'],
    ...extra,
  });
}

describe('S3 connector (real MinIO)', function () {
  let m: MinioServer;
  let client: S3Client;
  const versioned = 'documents-versioned';
  const plain = 'avatars-plain';
  let aliceObjects = 0;

  before(async function () {
    m = await minio();
    client = s3ClientFor(m);
    await client.send(new CreateBucketCommand({ Bucket: versioned }));
    await client.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
    await client.send(new CreateBucketCommand({ Bucket: plain }));
    aliceObjects = await seedSubject(client, versioned, alice);
    await seedSubject(client, versioned, bobS3);
    // A key next to Alice's export that the catalog does not name: exact keys must stay exact.
    await client.send(new PutObjectCommand({ Bucket: versioned, Key: 'exports/u-alice.zip.sha256', Body: 'checksum' }));
  });
  after(() => client?.destroy());

  it('expands placeholders with URL-safe values, once per combination of values, and refuses to expand a missing identifier', () => {
    assert.deepEqual(expandTemplate('mail/{email}/', { email: 'a b+c@x.com' }, 'url'), ['mail/a%20b%2Bc%40x.com/']);
    assert.deepEqual(expandTemplate('u/{custom.tenant}/{userId}/', { userId: 'é', custom: { tenant: 't/1' } }, 'url'), ['u/t%2F1/%C3%A9/']);
    assert.deepEqual(expandTemplate('u/{userId}/', { email: 'a@b.c' }, 'url'), []);
    assert.deepEqual(expandTemplate('raw/{userId}/', { userId: 'a b' }, 'raw'), ['raw/a b/']);
    assert.deepEqual(expandTemplate('u/{userId}/{phone}/', { email: 'a@b.c', phone: '+491511234' }, 'url', { userId: ['17', '18', '17'] }), ['u/17/%2B491511234/', 'u/18/%2B491511234/']);
    assert.deepEqual(expandTemplate('u/{userId}/', { userId: '19' }, 'url', { userId: ['17'] }), ['u/19/'], 'the request\'s own value wins');
    assert.deepEqual(expandTemplate('u/{userId}/', { email: 'a@b.c' }, 'url', { userId: [] }), []);
    assert.deepEqual(expandTemplate('u/{userId}/', {}, 'raw', { userId: ['a/b', 'c'] }, true), ['u/c/'], 'verification skips a raw value leaving its segment');
  });

  it('erases every version and delete marker of the subject in a versioned bucket; another subject keeps every byte', async () => {
    const bobBefore = [
      ...(await fingerprint(client, versioned, 'users/u-alice2/')),
      ...(await fingerprint(client, versioned, 'mail/bob%40example.com/')),
      ...(await fingerprint(client, versioned, 'exports/u-alice2')),
    ];
    assert.ok(bobBefore.some((l) => l.startsWith('marker')), 'the fixture has delete markers');
    const sys = entry(m, versioned);
    const conn = s3Connector(sys);
    try {
      const { result, heartbeats } = await inActivity(() => conn.erase(taskFor(sys, alice)));
      assert.equal(result.found, aliceObjects);
      assert.equal(result.erased, aliceObjects);
      assert.equal(result.details?.versioned, 1);
      assert.ok(heartbeats.length >= 3);
      for (const prefix of ['users/u-alice/', 'mail/alice%40example.com/']) assert.deepEqual(await fingerprint(client, versioned, prefix), [], prefix);
      assert.deepEqual(await fingerprint(client, versioned, 'exports/u-alice.zip'), [
        (await fingerprint(client, versioned, 'exports/u-alice.zip.sha256'))[0],
      ], 'only the undeclared neighbour key is left');
      const bobAfter = [
        ...(await fingerprint(client, versioned, 'users/u-alice2/')),
        ...(await fingerprint(client, versioned, 'mail/bob%40example.com/')),
        ...(await fingerprint(client, versioned, 'exports/u-alice2')),
      ];
      assert.deepEqual(bobAfter, bobBefore);

      const again = await conn.erase(taskFor(sys, alice));
      assert.equal(again.found, 0);
      assert.equal(again.erased, 0);
      assert.equal(again.evidenceHash.length, 64);
      assert.deepEqual(await conn.verify(taskFor(sys, alice)), { remaining: 0 });
      assert.equal((await conn.verify(taskFor(sys, bobS3))).remaining, bobBefore.length);
    } finally {
      await conn.close();
    }
  });

  it('erases with a plan recorded before the allow-list (the whole entry minus the old deny-list), as with one of today', async () => {
    const carol: SubjectIdentifiers = { email: 'carol@example.com', userId: 'u-carol' };
    const carolObjects = await seedSubject(client, versioned, carol);
    const bobPrefixes = ['users/u-alice2/', 'mail/bob%40example.com/', 'exports/u-alice2'];
    const bobBefore = (await Promise.all(bobPrefixes.map((p) => fingerprint(client, versioned, p)))).flat();
    const sys = entry(m, versioned);
    const conn = s3Connector(sys);
    try {
      const task = oldStyleTaskFor(sys, carol);
      assert.equal(task.system.spec.endpoint, m.endpoint, 'the old spec carries the endpoint the allow-list leaves out');
      const r = await conn.erase(task);
      assert.equal(r.found, carolObjects);
      assert.equal(r.erased, carolObjects);
      for (const prefix of ['users/u-carol/', 'mail/carol%40example.com/', 'exports/u-carol.zip']) assert.deepEqual(await fingerprint(client, versioned, prefix), [], prefix);
      await assertErasedAsToday(conn, sys, task, r);
      assert.deepEqual((await Promise.all(bobPrefixes.map((p) => fingerprint(client, versioned, p)))).flat(), bobBefore);
    } finally {
      await conn.close();
    }
  });

  it('pages through ListObjectsV2 and deletes in batches of at most 1,000 in an unversioned bucket', async () => {
    const files = Array.from({ length: 1500 }, (_, i) => ({ name: `avatars/u-alice/${String(i).padStart(4, '0')} size ✓.png`, body: `png ${i}` }));
    // MinIO unpacks a tar sent with snowball-auto-extract into one object per entry: far faster than 1,500 PUTs.
    await client.send(new PutObjectCommand({ Bucket: plain, Key: 'seed.tar', Body: tarOf(files), Metadata: { 'snowball-auto-extract': 'true' } }));
    await putMany(client, plain, ['avatars/u-alice2/a.png', 'avatars/u-alice2/b.png'], (k) => k);
    const sys = entry(m, plain, { prefixes: ['avatars/{userId}/'], keys: [] });
    const batches: number[] = [];
    const conn = s3Connector(sys, { onBatch: (b) => batches.push(b.objects) });
    try {
      const r = await conn.erase(taskFor(sys, alice));
      assert.equal(r.found, 1500);
      assert.equal(r.erased, 1500);
      assert.equal(r.details?.versioned, 0);
      assert.deepEqual(batches, [1000, 500]);
      assert.deepEqual(await listAll(client, plain, 'avatars/u-alice/'), []);
      assert.deepEqual(await listAll(client, plain, 'avatars/u-alice2/'), ['avatars/u-alice2/a.png', 'avatars/u-alice2/b.png']);
      assert.deepEqual(await conn.verify(taskFor(sys, alice)), { remaining: 0 });
    } finally {
      await conn.close();
    }
  });

  it('skips a template whose identifier the subject lacks instead of widening it', async () => {
    await putMany(client, plain, ['avatars/keep-me.png'], (k) => k);
    const sys = entry(m, plain, { prefixes: ['avatars/{phone}/'], keys: [] });
    const conn = s3Connector(sys);
    const r = await conn.erase(taskFor(sys, { email: 'nobody@example.com' }));
    await conn.close();
    assert.equal(r.found, 0);
    assert.ok((await listAll(client, plain, 'avatars/')).includes('avatars/keep-me.png'));
  });

  describe('never another subject\'s objects', () => {
    const bucket = 'subjects-apart';
    /** The result of a call, or the error it failed with: the other subject's bytes are checked first. */
    const outcome = (p: Promise<unknown>) => p.then(() => undefined, (err: Error) => err);
    /** A plan as a workflow started by hand could carry it: not checked by the catalog. */
    const handBuilt = (sys: S3System, subject: SubjectIdentifiers, spec: Record<string, unknown>) => {
      const task = taskFor(sys, subject);
      return { ...task, system: { ...task.system, spec: { ...task.system.spec, ...spec } } };
    };
    before(async () => {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      const keys = ['users/42-avatar.png', 'users/42-1/photo.jpg', 'users/42-1-avatar.png', 'users/u-raw/photo.jpg', 'users/u-raw/b/notes.txt', 'users/u-raw%2Fb/own.txt'];
      await putMany(client, bucket, keys, (k) => `bytes of ${k}`, 1);
    });

    it('refuses a hand-built plan whose prefix placeholder is not closed by "/", deleting nothing', async () => {
      const sys = entry(m, bucket, { prefixes: ['users/{userId}/'], keys: [] });
      const everything = await fingerprint(client, bucket, 'users/');
      const conn = s3Connector(sys);
      try {
        // users/{userId}- for 42 is users/42-, which also holds users/42-1/… and users/42-1-… of subject 42-1.
        const err = await outcome(conn.erase(handBuilt(sys, { userId: '42' }, { prefixes: ['users/{userId}-'] })));
        assert.deepEqual(await fingerprint(client, bucket, 'users/'), everything, 'subject 42-1 (and 42) keep every byte');
        assert.ok(err, 'the erase must be refused');
        assertNonRetryable(err, 'documents', 'prefixes[0] "users/{userId}-" is refused: placeholder {userId} must be followed directly by "/"');
        assertNoPii(err.message, { userId: '42' });
        for (const spec of [{ prefixes: ['users/'] }, { prefixes: [], keys: ['users/{userId}-{phone}.png'] }]) {
          const refused = await failure(conn.verify(handBuilt(sys, { userId: '42', phone: 'avatar' }, spec)));
          assertNonRetryable(refused, 'documents', 'is refused');
        }
        assert.deepEqual(await fingerprint(client, bucket, 'users/'), everything);
        // Refused before the first request: not even a listing is sent.
        let sent = 0;
        const counting = s3Connector(sys, { client: { send: async () => { sent++; throw new Error('no call expected'); } } as unknown as S3Client });
        const refused = await failure(counting.erase(handBuilt(sys, { userId: '42' }, { prefixes: ['users/{userId}-'] })));
        assertNonRetryable(refused, 'documents', 'is refused');
        assertNonRetryable(await failure(counting.verify(taskFor(entry(m, bucket, { encoding: 'raw' }), { userId: 'a/b' }))), 'documents', 'encoding: raw');
        assert.equal(sent, 0);
      } finally {
        await conn.close();
      }
    });

    it('with encoding: raw refuses a value holding "/", ".", ".." or only spaces; with url encoding "/" is encoded', async () => {
      const raw = entry(m, bucket, { prefixes: ['users/{userId}/'], keys: [], encoding: 'raw' });
      const owner = await fingerprint(client, bucket, 'users/u-raw/');
      const conn = s3Connector(raw);
      try {
        // Raw, subject u-raw/b would be users/u-raw/b/: the b/ folder of subject u-raw.
        const slash = { userId: 'u-raw/b', email: 'slash@example.com' };
        const err = await outcome(conn.erase(taskFor(raw, slash)));
        assert.deepEqual(await fingerprint(client, bucket, 'users/u-raw/'), owner, 'subject u-raw keeps every byte');
        assert.ok(err, 'the erase must be refused');
        assertNonRetryable(err, 'documents', 'encoding: raw');
        assertNoPii(err.message, slash);
        for (const userId of ['.', '..', '  ', 'a/', '/']) {
          assertNonRetryable(await failure(conn.verify(taskFor(raw, { userId }))), 'documents', 'encoding: raw');
        }
        assert.deepEqual(await fingerprint(client, bucket, 'users/u-raw/'), owner);
      } finally {
        await conn.close();
      }
      const url = entry(m, bucket, { prefixes: ['users/{userId}/'], keys: [] });
      const byUrl = s3Connector(url);
      try {
        const r = await byUrl.erase(taskFor(url, { userId: 'u-raw/b' }));
        assert.equal(r.found, 1, 'only users/u-raw%2Fb/own.txt');
        assert.deepEqual(await fingerprint(client, bucket, 'users/u-raw%2Fb/'), []);
        assert.deepEqual(await fingerprint(client, bucket, 'users/u-raw/'), owner);
        // Verification's raw spelling of u-raw/b would be subject u-raw's b/ folder: it is not listed.
        assert.deepEqual(await byUrl.verify(taskFor(url, { userId: 'u-raw/b' })), { remaining: 0 });
      } finally {
        await byUrl.close();
      }
    });
  });

  describe('derived identifiers, preview and both encodings', () => {
    const bucket = 'derived-encodings';
    const everything = () => fingerprint(client, bucket, '');
    before(async () => {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      const keys = [
        'users/17/a.jpg', 'users/17/b/c.txt', 'users/18/a.jpg', 'exports/17.zip', 'exports/18.zip',
        // Other users whose ids start like the derived ones, and a neighbour of an exact key.
        'users/170/a.jpg', 'users/1/a.jpg', 'users/19/a.jpg', 'exports/19.zip', 'exports/17.zip.sha256',
        // Alice's mail under the declared encoding, and a copy a careless writer stored raw; Bob's likewise.
        'mail/alice%40example.com/in.eml', 'mail/alice@example.com/raw.eml', 'mail/bob%40example.com/in.eml', 'mail/bob@example.com/raw.eml',
      ];
      await putMany(client, bucket, keys, (k) => `bytes of ${k}`, 1);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'users/17/a.jpg', Body: 'second version' }));
    });

    it('previews objects per template, summed over derived values, changing nothing', async () => {
      const sys = entry(m, bucket, { prefixes: ['users/{userId}/', 'mail/{email}/'], keys: ['exports/{userId}.zip'] });
      const conn = s3Connector(sys);
      const before = await everything();
      try {
        const preview = await conn.preview!(derivedTaskFor(sys, { email: alice.email }, { userId: ['17', '18'] }));
        assert.deepEqual(preview.entries, [
          { target: `${bucket}/users/{userId}/`, delete: 4, anonymize: 0, shared: 0 },
          { target: `${bucket}/mail/{email}/`, delete: 1, anonymize: 0, shared: 0 },
          { target: `${bucket}/exports/{userId}.zip`, delete: 2, anonymize: 0, shared: 0 },
        ]);
        assert.equal(preview.note, '1 objects lie under the other encoding of the subject\'s keys: erase (encoding: url) leaves them and verify reports them as remaining');
        assertNoPii(JSON.stringify(preview), alice, { userId: '17' });
        assert.deepEqual(await everything(), before, 'nothing changed');
      } finally {
        await conn.close();
      }
    });

    it('erases the prefixes and keys of every derived value (userId 17 and 18); the request\'s own value wins; others keep every byte', async () => {
      const sys = entry(m, bucket, { prefixes: ['users/{userId}/'], keys: ['exports/{userId}.zip'] });
      const conn = s3Connector(sys);
      const theirs = (lines: string[]) => lines.filter((l) => !/ (users\/1[78]\/|exports\/1[78]\.zip )/.test(l));
      const before = await everything();
      try {
        assert.deepEqual(await conn.verify(derivedTaskFor(sys, { userId: '19' }, { userId: ['17', '18'] })), { remaining: 2 }, 'only user 19\'s objects');
        const task = derivedTaskFor(sys, { email: alice.email }, { userId: ['17', '18'] });
        const r = await conn.erase(task);
        assert.deepEqual([r.found, r.erased], [6, 6], 'users/17/ (3 versions), users/18/, exports/17.zip and exports/18.zip');
        assert.deepEqual(await conn.verify(task), { remaining: 0 });
        assert.deepEqual(await everything(), theirs(before), 'users 170, 1 and 19, the neighbour key and the mail untouched');
        assert.equal(theirs(before).length, before.length - 6);
      } finally {
        await conn.close();
      }
    });

    it('verify lists both encodings: a raw copy in a bucket declared url remains (erase stays with the declared one); Bob keeps every byte', async () => {
      const bob = (lines: string[]) => lines.filter((l) => l.includes('bob'));
      const bobBefore = bob(await everything());
      const url = entry(m, bucket, { prefixes: ['mail/{email}/'], keys: [] });
      const conn = s3Connector(url);
      try {
        const r = await conn.erase(taskFor(url, alice));
        assert.deepEqual([r.found, r.erased], [1, 1], 'the declared (url) encoding only');
        assert.deepEqual(await listAll(client, bucket, 'mail/alice@example.com/'), ['mail/alice@example.com/raw.eml']);
        assert.deepEqual(await conn.verify(taskFor(url, alice)), { remaining: 1 }, 'the raw copy is found');
        assert.equal((await conn.erase(taskFor(url, alice))).found, 0);
        assert.deepEqual(await conn.verify(taskFor(url, alice)), { remaining: 1 });
        assert.deepEqual(bob(await everything()), bobBefore);
      } finally {
        await conn.close();
      }
      // Declared raw, the url-encoded copy is the one erase cannot see.
      const raw = entry(m, bucket, { prefixes: ['mail/{email}/'], keys: [], encoding: 'raw' });
      const byRaw = s3Connector(raw);
      try {
        assert.deepEqual(await byRaw.verify(taskFor(raw, { email: 'bob@example.com' })), { remaining: 2 });
        const r = await byRaw.erase(taskFor(raw, { email: 'bob@example.com' }));
        assert.deepEqual([r.found, r.erased], [1, 1]);
        assert.deepEqual(await byRaw.verify(taskFor(raw, { email: 'bob@example.com' })), { remaining: 1 }, 'the url-encoded copy is found');
        assert.deepEqual(await listAll(client, bucket, 'mail/alice@example.com/'), ['mail/alice@example.com/raw.eml'], 'Alice\'s raw copy untouched');
      } finally {
        await byRaw.close();
      }
    });
  });

  describe('failures', () => {
    it('a missing bucket is permanent and named', async () => {
      const sys = entry(m, 'no-such-bucket');
      const conn = s3Connector(sys);
      const err = await failure(conn.erase(taskFor(sys, alice)));
      await conn.close();
      assertNonRetryable(err, 'documents', 'bucket "no-such-bucket" does not exist');
      assertNoPii(err.message, alice);
    });

    it('bad credentials are permanent', async () => {
      const sys = entry(m, versioned, { secretAccessKey: 'not-the-secret' });
      const conn = s3Connector(sys);
      const err = await failure(conn.verify(taskFor(sys, alice)));
      await conn.close();
      assertNonRetryable(err, 'documents', 'SignatureDoesNotMatch');
    });

    it('a refused connection is retryable', async () => {
      const sys = entry(m, versioned, { endpoint: `http://127.0.0.1:${await freePort()}` });
      const conn = s3Connector(sys);
      const err = await failure(conn.erase(taskFor(sys, alice)));
      await conn.close();
      assertRetryable(err, 'documents');
    });

    it('check() names a missing bucket and reports a versioned one', async () => {
      const missing = s3Connector(entry(m, 'no-such-bucket'));
      assertNonRetryable(await failure(missing.check()), 'documents', 'no-such-bucket');
      await missing.close();
      const ok = s3Connector(entry(m, versioned));
      assert.match(await ok.check(), /versioned/);
      await ok.close();
    });
  });
});
