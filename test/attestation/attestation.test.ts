/**
 * The operator attestation and the scopes of API keys, as pure functions: a claim verifies only for the
 * request, action, key name, target and time it was made for, under the engine's own master key; scopes
 * narrow to one system and refuse what cannot be narrowed.
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { allows, hashApiKey, mayUse, parseApiKeys } from '../../src/api/auth';
import { createAttestor, CLAIM_WINDOW_MS } from '../../src/attestation';

describe('operator attestation', () => {
  const attestor = createAttestor(createSecretKey(randomBytes(32)));
  const subject = { requestId: 'req-1', signal: 'confirmDeletion', fields: { system: 'crm' } };
  const at = new Date('2026-12-02T10:00:00.000Z');
  const claim = attestor.claim(subject, 'crm-clerk', at);
  const kept = { ...claim, fields: subject.fields };
  const action = { requestId: 'req-1', signal: 'confirmDeletion', at: '2026-12-02T10:00:01.000Z', target: { system: 'crm' } };

  it('verifies a claim for the action it was made for', () => {
    assert.deepEqual(attestor.arrival(kept, action), { via: 'api', actor: 'crm-clerk' });
  });

  it('calls an action without a claim unauthenticated, via Temporal', () => {
    assert.deepEqual(attestor.arrival(undefined, action), { via: 'temporal' });
  });

  it('rejects a claim moved to another request, action, system, name or time', () => {
    const rejected = { via: 'temporal', claimRejected: true };
    assert.deepEqual(attestor.arrival(kept, { ...action, requestId: 'req-2' }), rejected);
    assert.deepEqual(attestor.arrival(kept, { ...action, signal: 'retrySystem' }), rejected);
    assert.deepEqual(attestor.arrival({ ...kept, fields: { system: 'billing' } }, { ...action, target: { system: 'billing' } }), rejected);
    assert.deepEqual(attestor.arrival(kept, { ...action, target: { system: 'billing' } }), rejected, 'the recorded target must be the attested one');
    assert.deepEqual(attestor.arrival({ ...kept, name: 'operator' }, action), rejected);
    assert.deepEqual(attestor.arrival({ ...kept, issuedAt: '2026-12-02T10:00:00.001Z' }, action), rejected);
  });

  it('rejects a claim recorded long after it was made, or made by another engine', () => {
    const late = new Date(at.getTime() + CLAIM_WINDOW_MS + 1000).toISOString();
    assert.deepEqual(attestor.arrival(kept, { ...action, at: late }), { via: 'temporal', claimRejected: true });
    const other = createAttestor(createSecretKey(randomBytes(32)));
    assert.deepEqual(other.arrival(kept, action), { via: 'temporal', claimRejected: true });
  });

  it('rejects a malformed claim without throwing', () => {
    assert.deepEqual(attestor.arrival({ ...kept, mac: 'x' }, action), { via: 'temporal', claimRejected: true });
    assert.deepEqual(attestor.arrival({ ...kept, fields: null } as never, action), { via: 'temporal', claimRejected: true });
  });
});

describe('API key scopes', () => {
  const hash = hashApiKey('k');
  const key = (scopes: string) => parseApiKeys(`k:${scopes}:${hash}`)[0];

  it('narrows confirm, consumer and retry to one id', () => {
    const clerk = key('confirm@crm,retry@crm');
    assert.equal(allows(clerk, 'confirmDeletion', 'crm'), true);
    assert.equal(allows(clerk, 'confirmDeletion', 'crm2'), false, 'not a prefix match');
    assert.equal(allows(clerk, 'confirmDeletion', 'CRM'), false, 'case counts');
    assert.equal(allows(clerk, 'retrySystem', 'crm'), true);
    assert.equal(allows(clerk, 'placeLegalHold', undefined), false);
    assert.equal(mayUse(clerk, 'confirm'), true);
    assert.equal(mayUse(clerk, 'certificates'), false);
  });

  it('lets operator take every action but not read certificates', () => {
    const op = key('operator');
    for (const a of ['confirmDeletion', 'consumerCompleted', 'placeLegalHold', 'releaseLegalHold', 'extendDeadline', 'cancel', 'retrySystem'] as const) {
      assert.equal(allows(op, a, 'any'), true, a);
    }
    assert.equal(mayUse(op, 'certificates'), false);
    assert.equal(mayUse(op, 'read'), false);
  });

  it('refuses unknown scopes and narrowing what is about the whole request', () => {
    assert.throws(() => key('hold@crm'), /API_KEYS entry 1: .*cannot be narrowed/);
    assert.throws(() => key('admin'), /unknown scope "admin"/);
    assert.throws(() => key('confirm@'), /confirm@<id>/);
    assert.throws(() => key('confirm@a@b'), /confirm@<id>/);
  });
});
