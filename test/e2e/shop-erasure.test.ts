/**
 * Issue 15 end to end through the API: the Temporal dev server, the engine's worker and API as the harness
 * starts them, the shop fixture on real PostgreSQL and a media bucket on real MinIO keyed `users/{userId}/`.
 * The request carries only alice's e-mail, so the bucket can be erased only with the user ids the shop
 * database derives for her (customers 17 and 18). Every shop row is held to expected.ts, every other object
 * must stay byte-identical, and the certificate must verify, commit to the derived ids marked derived, and
 * stop verifying once one receipt count is changed. No identifier may reach the logs or search attributes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { matchSubject, publicKeysFromJwks, verifyCertificate, type ErasureCertificate } from '../../src/certificate';
import { toolPaths } from '../../src/dev/servers';
import { defaultConnectors } from '../../src/systems/registry';
import { findIdentifiers, describeHits, payloadsOf, unencryptedPayloads } from '../codec/pii-scan';
import { freshDatabase, minio, s3ClientFor, warmUp } from '../connectors/servers';
import { aliceErased, catalogTargets, dumpShop, loadShop, receiptCounts, shopCatalogFile, stepProblems, subjects, type ShopDump } from '../fixtures/shop';
import { mediaDigest, mediaObjects, seedMedia, type MediaDigest } from '../fixtures/shop/media';
import { http, keys, startStack, type Stack } from '../harness/stack';

warmUp('minio', 'postgres');

const run = promisify(execFile);
const BUCKET = 'shop-media';
const email = subjects.alice.email;
/** Alice's derived ids: never to be seen as a whole value outside encrypted payloads. */
const derivedIds = aliceErased.userIds;

/** The shop's catalog plus the media bucket, which only a derived userId can reach. */
function catalogText(): string {
  return `${fs.readFileSync(shopCatalogFile, 'utf8')}
  - id: media
    kind: s3
    description: Avatars and documents by customer id (test fixture)
    bucket: ${BUCKET}
    endpoint: \${MEDIA_ENDPOINT}
    accessKeyId: \${MEDIA_ACCESS_KEY}
    secretAccessKey: \${MEDIA_SECRET_KEY}
    prefixes: ['users/{userId}/']
`;
}

/** Keys of counts and timings (a receipt's per-table `rows:…` counts too): they may equal 17 by chance, an id may not. */
const measurements = /^(ms|durationMs|time|pid|level|attempt|attempts|batches|found|erased|remaining|status|dropped|resumed|versioned|started|payloads|maxCachedWorkflows|remindersSent|sequence|verifyRounds)$|:/;

/**
 * Where a derived id shows up as a whole value in parsed JSON: a string equal to it (or naming its prefix
 * `users/<id>/`), or a number equal to it under a key that is not a measurement. Returns the paths.
 */
function wholeValueHits(doc: unknown, values: readonly string[], path = '$', key = ''): string[] {
  if (typeof doc === 'string') return values.some((v) => doc.trim() === v || doc.includes(`users/${v}/`)) ? [path] : [];
  if (typeof doc === 'number') return values.includes(String(doc)) && !measurements.test(key) ? [path] : [];
  if (Array.isArray(doc)) return doc.flatMap((x, i) => wholeValueHits(x, values, `${path}[${i}]`, key));
  if (doc && typeof doc === 'object') return Object.entries(doc).flatMap(([k, x]) => wholeValueHits(x, values, `${path}.${k}`, k));
  return [];
}

describe('shop erasure end to end: API, workflow, PostgreSQL shop and MinIO by derived userId', function () {
  this.timeout(600_000);
  let stack: Stack;
  let api: ReturnType<typeof http>;
  let db: pg.Client;
  let s3: S3Client;
  let shopBefore: ShopDump;
  let mediaBefore: MediaDigest[];
  let requestId: string;
  let certificate: ErasureCertificate;
  let certificateText: string;
  /** Every answer of GET /erasures/:id while waiting (from the workflow while it runs, then the ledger). */
  const statusAnswers: string[] = [];

  before(async function () {
    const shop = await freshDatabase('e2e_shop');
    db = shop.client;
    await loadShop(db);
    const m = await minio();
    s3 = s3ClientFor(m);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await seedMedia(s3, BUCKET);
    shopBefore = await dumpShop(db);
    mediaBefore = await mediaDigest(s3, BUCKET);
    stack = await startStack({
      catalog: catalogText(),
      connectors: defaultConnectors,
      env: { SHOP_DATABASE_URL: shop.url, MEDIA_ENDPOINT: m.endpoint, MEDIA_ACCESS_KEY: m.accessKeyId, MEDIA_SECRET_KEY: m.secretAccessKey },
    });
    api = http(stack, keys.all);
  });
  after(async () => {
    await stack?.stop();
    await db?.end();
    s3?.destroy();
  });

  it('POST /erasures with only alice\'s e-mail runs to a certificate (no grace period under GDPR)', async () => {
    const res = await api('POST', '/erasures', { subject: { email }, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    requestId = res.json.requestId;
    const until = Date.now() + 240_000;
    let status: { status?: string; systems?: Array<{ id: string; status: string; lastError?: string }> } = {};
    while (Date.now() < until) {
      const answer = await api('GET', `/erasures/${requestId}`);
      statusAnswers.push(answer.text);
      status = answer.json ?? {};
      if (status.status === 'completed' || status.status === 'needs_attention' || status.status === 'cancelled') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status.status, 'completed', `the erasure did not complete: ${JSON.stringify(status.systems?.map((s) => [s.id, s.status, s.lastError]))}`);
    const cert = await api('GET', `/erasures/${requestId}/certificate`);
    assert.equal(cert.status, 200, cert.text);
    certificate = cert.json;
    certificateText = cert.text;
  });

  it('changed exactly the rows expected.ts says for alice: deleted, anonymized, every other row byte-identical', async () => {
    assert.ok(certificate, 'the erasure completed');
    assert.deepEqual(stepProblems(shopBefore, await dumpShop(db), aliceErased), []);
  });

  it("deleted alice's objects under users/17/ and users/18/ only; every other object is byte-identical", async () => {
    assert.ok(certificate, 'the erasure completed');
    const now = await mediaDigest(s3, BUCKET);
    assert.deepEqual(now.filter((d) => (mediaObjects.alice as readonly string[]).includes(d.key)).map((d) => d.line), [], 'alice\'s objects (or markers) remain');
    const others = (d: MediaDigest) => (mediaObjects.others as readonly string[]).includes(d.key);
    assert.deepEqual(now.map((d) => d.line), mediaBefore.filter(others).map((d) => d.line));
  });

  it('the receipts count what happened: the shop per table with its shared rows, the bucket by object', () => {
    assert.ok(certificate, 'the erasure completed');
    const shop = certificate.systems.find((s) => s.systemId === 'shop-db');
    const media = certificate.systems.find((s) => s.systemId === 'media');
    assert.ok(shop && media, `systems: ${certificate.systems.map((s) => s.systemId).join(', ')}`);
    const byPrefix = (prefix: string) =>
      Object.fromEntries(Object.entries(shop.details ?? {}).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    assert.deepEqual(byPrefix('rows:'), receiptCounts.alice.rows);
    const shared = Object.fromEntries(Object.entries(byPrefix('shared:')).filter(([, v]) => v > 0));
    assert.deepEqual(shared, receiptCounts.alice.shared);
    assert.deepEqual(Object.keys(byPrefix('shared:')).filter((t) => !catalogTargets.includes(t)), [], 'shared: names only catalog tables');
    assert.equal(shop.erased, Object.values(receiptCounts.alice.rows).reduce((a, b) => a + b, 0));
    assert.equal(shop.remaining, 0);
    assert.equal(media.kind, 's3');
    assert.equal(media.erased, mediaObjects.alice.length);
    assert.equal(media.remaining, 0);
  });

  it('the certificate verifies, commits to the e-mail and to userIds 17 and 18 marked derived, and fails once a count changes', async () => {
    assert.ok(certificate, 'the erasure completed');
    const jwks = publicKeysFromJwks((await http(stack)('GET', '/.well-known/jwks.json')).json);
    const outcome = await verifyCertificate(certificate, jwks);
    assert.equal(outcome.valid, true, JSON.stringify(outcome));

    const { commitment } = certificate.subject;
    assert.deepEqual(commitment.identifiers.map((i) => [i.type, i.derived ?? false]), [['email', false], ['userId', true], ['userId', true]]);
    assert.deepEqual(matchSubject(commitment, { email }), [{ type: 'email', result: 'match' }]);
    for (const userId of derivedIds) assert.deepEqual(matchSubject(commitment, { userId }), [{ type: 'userId', result: 'match', derived: true }], userId);
    for (const userId of ['170', '1', '42', '017']) assert.deepEqual(matchSubject(commitment, { userId }), [{ type: 'userId', result: 'mismatch' }], userId);
    assert.deepEqual(findIdentifiers(certificateText, [email]), [], 'the e-mail is not in the certificate');
    assert.deepEqual(wholeValueHits(certificate, derivedIds), [], 'no derived id in the certificate');

    const tampered = JSON.parse(certificateText) as ErasureCertificate;
    const shop = tampered.systems.find((s) => s.systemId === 'shop-db')!;
    shop.details!['rows:public.customer'] = 1;
    const bad = await verifyCertificate(tampered, jwks);
    assert.equal(!bad.valid && bad.reason, 'bad_signature', JSON.stringify(bad));
    const fewer = JSON.parse(certificateText) as ErasureCertificate;
    fewer.systems.find((s) => s.systemId === 'media')!.erased -= 1;
    assert.equal((await verifyCertificate(fewer, jwks)).valid, false, 'a changed erased count still verified');
  });

  it('the status answers (polled while it ran) show how many ids were derived, never which', () => {
    assert.ok(certificate, 'the erasure completed');
    const answers = statusAnswers.map((t) => JSON.parse(t) as { source: string; derived?: Record<string, number> });
    for (const a of answers.filter((x) => x.source === 'workflow' && x.derived)) assert.deepEqual(a.derived, { userId: derivedIds.length });
    assert.deepEqual(describeHits(findIdentifiers(statusAnswers.join('\n'), [email])), '');
    assert.deepEqual(answers.flatMap((a, i) => wholeValueHits(a, derivedIds, `answer${i}`)), []);
  });

  it('no identifier (the e-mail, userIds 17 and 18) in the logs, the search attributes or unencrypted history', async () => {
    assert.ok(certificate, 'the erasure completed');
    assert.ok(stack.logs.length > 5, 'the run logged');
    const logText = stack.logs.join('\n');
    assert.deepEqual(describeHits(findIdentifiers(logText, [email, ...derivedIds.map((id) => `users/${id}/`)])), '');
    const logHits = stack.logs.filter((line) => wholeValueHits(JSON.parse(line), derivedIds).length > 0);
    assert.deepEqual(logHits, [], 'log lines holding a derived id as a whole value');

    const workflowId = `erasure-${requestId}`;
    const desc = await stack.api.client.workflow.getHandle(workflowId).describe();
    const attributes = JSON.parse(JSON.stringify(desc.searchAttributes)) as unknown;
    assert.deepEqual(findIdentifiers(JSON.stringify(attributes), [email]), []);
    assert.deepEqual(wholeValueHits(attributes, derivedIds), [], JSON.stringify(attributes));

    // Every search attribute ever set (at start and by each upsert) is in the history, not encrypted.
    const { stdout } = await run(toolPaths().temporal, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', stack.temporal.address], {
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const set = payloadsOf(stdout).filter((p) => /\bsearchAttributes\b/.test(p.path));
    assert.ok(set.length > 0, 'the history sets search attributes');
    for (const p of set) {
      const text = p.data.toString('utf8');
      assert.deepEqual(findIdentifiers(text, [email]), [], p.path);
      assert.deepEqual(wholeValueHits(JSON.parse(text), derivedIds), [], `${p.path}: ${text}`);
    }
    // The SDK's own markers (a patch's id, a local activity's bookkeeping) are plain JSON by design; they must
    // hold no identifier either. Every other payload goes through the codec.
    const marker = /^events\.\d+\.markerRecordedEventAttributes\.details\.(data|patch-data)\.payloads\.\d+ \(json\/plain\)$/;
    assert.deepEqual(unencryptedPayloads(stdout).filter((p) => !marker.test(p)), []);
    for (const p of payloadsOf(stdout).filter((x) => x.encoding === 'json/plain' && /markerRecordedEventAttributes/.test(x.path))) {
      const text = p.data.toString('utf8');
      assert.deepEqual(findIdentifiers(text, [email]), [], p.path);
      assert.deepEqual(wholeValueHits(JSON.parse(text), derivedIds), [], `${p.path}: ${text}`);
    }
    assert.deepEqual(describeHits(findIdentifiers(stdout, [email, ...derivedIds.map((id) => `users/${id}/`)])), '');
  });
});
