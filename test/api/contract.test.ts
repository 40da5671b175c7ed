/**
 * What the API tells a caller it did not authenticate, and what it costs: undeclared methods answer 405 with
 * Allow, /readyz says only ready or not without a key, /metrics does not query the ledger on every scrape,
 * and the document states what the server enforces. Real stack (dev server, PostgreSQL, worker).
 */
import assert from 'node:assert/strict';
import { http, keys, startStack, type Stack } from '../harness/stack';

/** The one query behind the ledger gauges (src/ledger/requests.ts, countOpen). */
const GAUGE_QUERY = /count\(\*\) FILTER \(WHERE deadline < now\(\)\)/;

describe('API contract: methods, readiness and metrics (dev server, real worker)', function () {
  let stack: Stack;

  before(async function () {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  it('answers an undeclared method on a known path with 405 and the Allow header, and OPTIONS with Allow', async () => {
    const anon = http(stack);
    const put = await anon('PUT', '/healthz');
    assert.equal(put.status, 405, put.text);
    assert.equal(put.headers.get('allow'), 'GET, HEAD');
    assert.equal(put.headers.get('content-type')?.startsWith('application/problem+json'), true);

    const patch = await anon('PATCH', '/erasures/req-1/legal-hold');
    assert.equal(patch.status, 405);
    assert.equal(patch.headers.get('allow'), 'POST, DELETE');

    const get = await anon('GET', '/erasures/preview/');
    assert.equal(get.status, 401, 'GET /erasures/preview is GET /erasures/{id}: a key is asked for');
    const del = await anon('DELETE', '/erasures');
    assert.equal(del.status, 405);
    assert.equal(del.headers.get('allow'), 'GET, HEAD, POST');

    const options = await anon('OPTIONS', '/erasures/req-1/extend');
    assert.equal(options.status, 204);
    assert.equal(options.headers.get('allow'), 'POST');
    assert.equal((await anon('PUT', '/nothing-here')).status, 404, 'an unknown path stays 404');
  });

  it('says only ready or not to a caller without a key, and each check to one with a key', async () => {
    const anon = await http(stack)('GET', '/readyz');
    assert.equal(anon.status, 200);
    assert.deepEqual(anon.json, { ready: true });
    const badKey = await http(stack, 'not-a-key')('GET', '/readyz');
    assert.deepEqual(badKey.json, { ready: true }, 'an invalid key is no key');
    const reader = await http(stack, keys.read)('GET', '/readyz');
    assert.deepEqual(reader.json, { ready: true, checks: { database: 'ok', temporal: 'ok' } });
  });

  it('queries the ledger for its gauges at most once in a burst of scrapes', async () => {
    // Counts the gauge query on the pool every repository of the API uses; the query still runs as usual.
    const pool = stack.engine.pool as unknown as { query: (...args: unknown[]) => unknown };
    const original = pool.query;
    let gaugeQueries = 0;
    pool.query = function (this: unknown, ...args: unknown[]) {
      const q = args[0];
      const text = typeof q === 'string' ? q : (q as { text?: string } | undefined)?.text;
      if (text && GAUGE_QUERY.test(text)) gaugeQueries += 1;
      return original.apply(this, args);
    };
    try {
      const anon = http(stack);
      const scrapes = await Promise.all(Array.from({ length: 5 }, () => anon('GET', '/metrics')));
      for (let i = 0; i < 5; i++) scrapes.push(await anon('GET', '/metrics'));
      for (const s of scrapes) {
        assert.equal(s.status, 200);
        assert.match(s.text, /^erasure_overdue \d+$/m, 'every scrape carries the gauges');
      }
      assert.ok(gaugeQueries <= 1, `10 scrapes ran the gauge query ${gaugeQueries} times`);
    } finally {
      pool.query = original;
    }
  });

  it('documents the path patterns the server enforces, and 401/403 on every secured operation', async () => {
    const doc = (await http(stack)('GET', '/openapi.json')).json;
    for (const [p, ops] of Object.entries<Record<string, { parameters: Array<{ in: string; name: string; schema: { pattern?: string } }>; security?: unknown; responses: Record<string, unknown> }>>(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const param of op.parameters.filter((x) => x.in === 'path')) assert.ok(param.schema.pattern, `${method} ${p}: {${param.name}} has its pattern`);
        if (op.security) for (const s of ['401', '403']) assert.ok(op.responses[s], `${method} ${p} documents ${s}`);
      }
    }
  });
});
