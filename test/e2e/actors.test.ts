/**
 * Issue 16, point 4, on the real stack (Temporal dev server, the engine's worker and API, PostgreSQL):
 * the actor recorded for an operator action is the authenticated API key's name, checked by the worker;
 * keys are scoped per action and per system; certificates have their own scope; a signal sent straight to
 * Temporal is recorded as unauthenticated, and a claim forged, replayed on another request or moved to
 * another system is recorded as rejected, never as the key it names.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { hashApiKey } from '../../src/api/auth';
import { publicKeysFromJwks, verifyCertificate, type ErasureCertificate } from '../../src/certificate';
import { toolPaths } from '../../src/dev/servers';
import { engineClient } from '../../src/engine';
import { operatorActionUpdate, workflowIdFor } from '../../src/workflows/definitions';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

const run = promisify(execFile);
const catalog = `
systems:
  - id: crm
    kind: manual
    owner: crm-team
  - id: legacy-billing
    kind: manual
    owner: billing-team
`;
const clerkKey = 'test-crm-clerk-key-0123456789';
const auditorKey = 'test-auditor-key-0123456789';
const holderKey = 'test-holder-key-0123456789';

describe('authenticated actors and scoped keys (dev server, real worker and API)', function () {
  let stack: Stack;
  let client: Client;
  let admin: ReturnType<typeof http>;

  before(async () => {
    stack = await startStack({ catalog, apiKeys: narrowKeys });
    client = engineClient(stack.engine);
    admin = http(stack, keys.all);
  });
  after(async () => {
    await client?.connection.close().catch(() => undefined);
    await stack?.stop();
  });

  async function waitingRequest(): Promise<string> {
    const res = await admin('POST', '/erasures', { subject: { email: `actor.${Math.random().toString(36).slice(2)}@example.org` }, jurisdiction: 'GDPR' });
    assert.equal(res.status, 202, res.text);
    const id = res.json.requestId as string;
    await eventually(async () => (await admin('GET', `/erasures/${id}`)).json?.pendingConfirmations?.length === 2, 'both systems awaiting confirmation');
    return id;
  }
  const completed = (id: string) => eventually(async () => (await admin('GET', `/erasures/${id}`)).json?.status === 'completed', 'completed', 60_000);
  const certificateOf = async (id: string): Promise<ErasureCertificate> => {
    const res = await http(stack, auditorKey)('GET', `/erasures/${id}/certificate`);
    assert.equal(res.status, 200, res.text);
    return res.json as ErasureCertificate;
  };
  const ledgerActions = async (id: string) =>
    (await stack.engine.pool.query<{ detail: { actions: Array<Record<string, unknown>> } }>(`SELECT detail FROM events WHERE request_id = $1 AND type = 'operator.actions' ORDER BY id`, [id])).rows.flatMap(
      (r) => r.detail.actions,
    );

  it('limits a key to its actions and systems, and certificates to their own scope', async () => {
    const id = await waitingRequest();
    const clerk = http(stack, clerkKey);
    const other = await clerk('POST', `/erasures/${id}/confirmations`, { system: 'legacy-billing', confirmedBy: 'Ana' });
    assert.equal(other.status, 403, other.text);
    assert.match(other.json.detail ?? other.json.title ?? other.text, /crm-clerk.*confirmDeletion.*legacy-billing/);
    assert.equal((await clerk('POST', `/erasures/${id}/extend`, { days: 10, reason: 'complex' })).status, 403);
    assert.equal((await clerk('POST', `/erasures/${id}/legal-hold`, { reason: 'litigation', placedBy: 'Ana' })).status, 403);
    assert.equal((await http(stack, holderKey)('POST', `/erasures/${id}/confirmations`, { system: 'crm', confirmedBy: 'Ana' })).status, 403);
    const own = await clerk('POST', `/erasures/${id}/confirmations`, { system: 'crm', confirmedBy: 'Ana' });
    assert.equal(own.status, 202, own.text);
    const status = (await admin('GET', `/erasures/${id}`)).json;
    assert.deepEqual(status.pendingConfirmations, ['legacy-billing'], 'the refused confirmation changed nothing');
    // `read` sees the status but not the certificate; `certificates` is its own scope.
    assert.equal((await http(stack, keys.read)('GET', `/erasures/${id}/certificate`)).status, 403);
    assert.equal((await http(stack, auditorKey)('GET', `/erasures/${id}`)).status, 403);
  });

  it('certifies who confirmed through the API and that a signal sent straight to Temporal was unauthenticated', async () => {
    const id = await waitingRequest();
    assert.equal((await http(stack, clerkKey)('POST', `/erasures/${id}/confirmations`, { system: 'crm', confirmedBy: 'Ana from CRM' })).status, 202);
    // A claim in the body names nobody: the actor is the key.
    await run(toolPaths().temporal, [
      'workflow', 'signal', '--address', stack.temporal.address, '--workflow-id', workflowIdFor(id), '--name', 'confirmDeletion',
      '--input', JSON.stringify({ system: 'legacy-billing', confirmedBy: 'crm-clerk' }),
    ], { timeout: 60_000 });
    await completed(id);
    const cert = await certificateOf(id);
    const outcome = await verifyCertificate(cert, publicKeysFromJwks((await http(stack)('GET', '/.well-known/jwks.json')).json));
    assert.equal(outcome.valid, true, JSON.stringify(outcome));
    const crm = cert.systems.find((s) => s.systemId === 'crm')!;
    const billing = cert.systems.find((s) => s.systemId === 'legacy-billing')!;
    assert.deepEqual(crm.arrival, { via: 'api', actor: 'crm-clerk' });
    assert.equal(crm.confirmedBy, 'Ana from CRM', "the body's confirmedBy stays, as a note");
    assert.deepEqual(billing.arrival, { via: 'temporal' }, 'a signal straight to Temporal is unauthenticated, whatever its body says');
    assert.deepEqual(
      cert.operatorActions.filter((a) => a.accepted).map((a) => [a.signal, a.arrival]),
      [
        ['confirmDeletion', { via: 'api', actor: 'crm-clerk' }],
        ['confirmDeletion', { via: 'temporal' }],
      ],
    );
    // The ledger's trail says the same, and keeps no claim (no MAC) of its own.
    const trail = await eventually(async () => {
      const a = await ledgerActions(id);
      return a.length >= 2 && a;
    }, 'operator actions in the ledger');
    assert.deepEqual(
      trail.map((a) => [a.system, a.via, a.actor]),
      [
        ['crm', 'api', 'crm-clerk'],
        ['legacy-billing', 'temporal', undefined],
      ],
    );
    assert.ok(trail.every((a) => a.attestation === undefined));
  });

  it('records a forged, replayed or moved claim as rejected, never as the key it names', async () => {
    const first = await waitingRequest();
    const second = await waitingRequest();
    const sendUpdate = (id: string, payload: object, actor: object) =>
      client.workflow.getHandle(workflowIdFor(id)).executeUpdate(operatorActionUpdate, { args: [{ signal: 'confirmDeletion', payload, actor: actor as never }] });
    // A valid claim for `crm` on the first request, as it could be read from that request's history.
    const genuine = stack.engine.attestor.claim({ requestId: first, signal: 'confirmDeletion', fields: { system: 'crm' } }, 'operator');
    // Replayed on the second request: bound to the first.
    await sendUpdate(second, { system: 'crm', confirmedBy: 'mallory' }, genuine);
    // Moved to another system of the first request: bound to crm.
    await sendUpdate(first, { system: 'legacy-billing', confirmedBy: 'mallory' }, genuine);
    // Forged outright: a MAC nobody computed.
    await sendUpdate(second, { system: 'legacy-billing', confirmedBy: 'mallory' }, { name: 'operator', issuedAt: new Date().toISOString(), mac: 'A'.repeat(43) });
    // The first request's crm, with its genuine claim, verifies.
    await sendUpdate(first, { system: 'crm', confirmedBy: 'op' }, genuine);
    await Promise.all([completed(first), completed(second)]);
    const [a, b] = [await certificateOf(first), await certificateOf(second)];
    const arrival = (c: ErasureCertificate, system: string) => c.systems.find((s) => s.systemId === system)!.arrival;
    assert.deepEqual(arrival(a, 'crm'), { via: 'api', actor: 'operator' });
    assert.deepEqual(arrival(a, 'legacy-billing'), { via: 'temporal', claimRejected: true });
    assert.deepEqual(arrival(b, 'crm'), { via: 'temporal', claimRejected: true });
    assert.deepEqual(arrival(b, 'legacy-billing'), { via: 'temporal', claimRejected: true });
    const trail = await eventually(async () => {
      const t = await ledgerActions(second);
      return t.length >= 2 && t;
    }, 'ledger actions');
    assert.ok(trail.every((e) => e.via === 'temporal' && e.actor === undefined && e.claimRejected === true), JSON.stringify(trail));
  });
});

/** The narrow keys this file adds to the stack's own, in `API_KEYS` form. */
const narrowKeys = [
  `crm-clerk:confirm@crm:${hashApiKey(clerkKey)}`,
  `auditor:certificates:${hashApiKey(auditorKey)}`,
  `holder:hold:${hashApiKey(holderKey)}`,
];
