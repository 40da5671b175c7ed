/** The bounded operator-action log as plain functions: what the state keeps, folds and queues for the ledger. */
import assert from 'node:assert/strict';
import type { OperatorAction } from '../../../src/domain';
import { appendAction, KEPT_ACTIONS, ledgerEntry, QUEUED_ACTIONS_LIMIT, readyForHandOver, trimForHandOver, UNRECORDED_ACTIONS } from '../../../src/workflows/action-log';
import type { Run } from '../../../src/workflows/run';
import { twoSystems } from './fixtures';

const refused = (i: number): OperatorAction => ({ at: new Date(i).toISOString(), signal: 'retrySystem', accepted: false, reason: 'no' });
const accepted = (i: number): OperatorAction => ({ at: new Date(i).toISOString(), signal: 'placeLegalHold', accepted: true, by: 'ops', detail: { reason: 'free text' } });

describe('operator-action log (rules, no server)', () => {
  it('keeps the latest actions, folds refused ones first and counts every folded one per signal', () => {
    const { state } = twoSystems();
    for (let i = 0; i < 10; i++) appendAction(state, accepted(i));
    for (let i = 10; i < 500; i++) appendAction(state, refused(i));
    assert.equal(state.actions.length, KEPT_ACTIONS);
    assert.equal(state.actions.filter((a) => a.accepted).length, 10, 'the accepted actions outlive the refused flood');
    assert.equal(state.actions.at(-1)?.seq, 500, 'the newest stays visible');
    assert.deepEqual(state.actionsFolded, { retrySystem: { accepted: 0, refused: 500 - KEPT_ACTIONS } });
    assert.equal(state.actionsSeen, 500);
  });

  it('folds the oldest action when every kept one was accepted', () => {
    const { state } = twoSystems();
    for (let i = 0; i < KEPT_ACTIONS + 3; i++) appendAction(state, accepted(i));
    assert.deepEqual(state.actions.map((a) => a.seq).slice(0, 2), [4, 5]);
    assert.deepEqual(state.actionsFolded, { placeLegalHold: { accepted: 3, refused: 0 } });
  });

  it('numbers on from a state carried from before the bound, which kept every action', () => {
    const { state } = twoSystems();
    state.actions.push(refused(1), refused(2));
    assert.equal(appendAction(state, refused(3)).seq, 3);
  });

  it('bounds the queue for the ledger in memory and for the hand-over, counting what it gives up', () => {
    const { state } = twoSystems();
    for (let i = 0; i < QUEUED_ACTIONS_LIMIT + 7; i++) appendAction(state, refused(i));
    assert.equal(state.actionsUnrecorded?.length, QUEUED_ACTIONS_LIMIT);
    assert.equal(state.actionsUnrecorded?.[0].n, 8);
    assert.equal(state.actionsUnrecordedDropped, 7);
    const run = { state, recordingActions: true } as unknown as Run;
    assert.equal(readyForHandOver(run), false, 'a run that writes to the ledger waits for it first');
    assert.equal(readyForHandOver({ state } as unknown as Run), true, 'a run from before the patch never waits');
    trimForHandOver(state);
    assert.equal(state.actionsUnrecorded?.length, UNRECORDED_ACTIONS);
    assert.equal(state.actionsUnrecorded?.at(-1)?.n, QUEUED_ACTIONS_LIMIT + 7);
    assert.equal(state.actionsUnrecordedDropped, QUEUED_ACTIONS_LIMIT + 7 - UNRECORDED_ACTIONS);
    assert.equal(readyForHandOver(run), true);
  });

  it("writes structured fields to the ledger, never the operator's free text", () => {
    const entry = ledgerEntry({ ...accepted(0), seq: 1, detail: { reason: 'a name, perhaps', system: 'crm', days: 5, reference: 'T-1' } });
    assert.deepEqual(entry, { n: 1, at: new Date(0).toISOString(), signal: 'placeLegalHold', accepted: true, by: 'ops', system: 'crm', days: 5 });
  });
});
