/** Identity enrichment's rules and step, driven without a Temporal server. */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { failureTypes } from '../../../src/domain';
import { identifyOnce, mergeDerived, missingNames, needsIdentify } from '../../../src/workflows/identities';
import { createRun } from '../../../src/workflows/run';
import { derivedCounts, initialState, searchAttributeValues, statusView } from '../../../src/workflows/state';
import { automated, input, plan } from '../../harness/plans';
import { fakeRun, T0 } from './fixtures';

const provider = automated('shop-db', { provides: ['userId', 'custom.loyalty'] });
const onlyEmail = { email: 'ada@example.com' };

describe('identity enrichment (rules, no server)', () => {
  it('asks a provider only for the names the request did not carry, once, and never once it is erased', () => {
    assert.deepEqual(missingNames(onlyEmail, provider), ['userId', 'custom.loyalty']);
    assert.deepEqual(missingNames({ email: 'ada@example.com', userId: 'u-1' }, provider), ['custom.loyalty']);
    const both = { email: 'ada@example.com', userId: 'u-1', custom: { loyalty: 'L-1' } };
    assert.deepEqual(missingNames(both, provider), []);
    const { state } = fakeRun([provider]).run;
    const s = state.systems['shop-db'];
    assert.equal(needsIdentify(onlyEmail, provider, s), true);
    assert.equal(needsIdentify(both, provider, s), false, 'nothing to find: the request carries every name');
    assert.equal(needsIdentify(onlyEmail, automated('plain'), s), false, 'a system that provides nothing');
    s.identified = true;
    assert.equal(needsIdentify(onlyEmail, provider, s), false);
    s.identified = false;
    s.status = 'erased';
    assert.equal(needsIdentify(onlyEmail, provider, s), false);
  });

  it("merges every provider's values per name without repeats, and never a name the request carried", () => {
    const { state } = fakeRun([provider]).run;
    const subject = { email: 'ada@example.com', userId: 'u-1' };
    mergeDerived(state, subject, provider, { userId: ['u-99'], 'custom.loyalty': ['L-1', 'L-1', ''] });
    mergeDerived(state, subject, automated('crm', { provides: ['custom.loyalty', 'phone'] }), { 'custom.loyalty': ['L-2', 'L-1'], phone: ['+4915112345678'] });
    // A name the system does not provide is ignored, whatever it answers.
    mergeDerived(state, subject, automated('odd', { provides: ['phone'] }), { 'custom.other': ['X'] } as never);
    assert.deepEqual(state.derived, { 'custom.loyalty': ['L-1', 'L-2'], phone: ['+4915112345678'] });
  });

  it('leaves the state without derived identifiers when a provider finds nothing', () => {
    const { state } = fakeRun([provider]).run;
    mergeDerived(state, onlyEmail, provider, {});
    mergeDerived(state, onlyEmail, provider, { userId: [] });
    assert.equal(state.derived, undefined);
  });

  it('shows counts in the status view, and no value anywhere in it or in the search attributes', () => {
    const state = initialState(input(plan([provider]), new Date(T0)));
    assert.equal(statusView(state).derived, undefined);
    state.derived = { userId: ['uid-secret-17', 'uid-secret-18'], 'custom.loyalty': ['L-secret'] };
    const view = statusView(state);
    assert.deepEqual(view.derived, { userId: 2, 'custom.loyalty': 1 });
    for (const text of [JSON.stringify(view), JSON.stringify(searchAttributeValues(state))]) {
      assert.ok(!text.includes('secret'), 'a derived value leaked');
    }
    assert.equal(derivedCounts({ userId: [] }), undefined);
  });

  it('hands the derived identifiers to every later task, beside the untouched subject', () => {
    const req = input(plan([provider, automated('docs', { kind: 's3' })]), new Date(T0), { subject: onlyEmail });
    const state = initialState(req);
    const run = createRun(req, state);
    assert.equal('derived' in run.task('docs'), false, 'nothing derived yet');
    state.derived = { userId: ['17'] };
    assert.deepEqual(run.task('docs').derived, { userId: ['17'] });
    assert.deepEqual(run.task('docs').subject, onlyEmail);
  });

  it('records what a provider found and marks it identified', async () => {
    const { run, calls } = fakeRun([provider], { identifySystem: async () => ({ userId: ['17', '18'] }) });
    run.input.subject = onlyEmail;
    await identifyOnce(run, run.state.systems['shop-db']);
    assert.equal(run.state.systems['shop-db'].identified, true);
    assert.deepEqual(run.state.derived, { userId: ['17', '18'] });
    assert.equal(calls.identifySystem.length, 1);
  });

  it('puts a provider that cannot identify into needs_attention and escalates without a value', async () => {
    const identifySystem = async () => {
      throw ApplicationFailure.create({ type: failureTypes.configuration, nonRetryable: true, message: 'system "shop-db": its connector cannot identify' });
    };
    const { run, calls } = fakeRun([provider], { identifySystem });
    await identifyOnce(run, run.state.systems['shop-db']);
    const s = run.state.systems['shop-db'];
    assert.equal(s.status, 'needs_attention');
    assert.equal(s.identified, undefined);
    assert.match(s.lastError ?? '', /identifying the subject failed: .*cannot identify/);
    assert.deepEqual(calls.escalate.map((e) => [e.reason, e.systemIds]), [['needs_attention', ['shop-db']]]);
    assert.equal(run.state.derived, undefined);
  });
});
