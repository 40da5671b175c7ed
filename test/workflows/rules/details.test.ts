/**
 * What the Web UI shows of an erasure (src/workflows/summary.ts, src/workflows/details.ts): the words for each
 * state, the commands that confirm or retry, the next action, and never an identifier of the subject.
 */
import assert from 'node:assert/strict';
import { applyPauseNotice } from '../../../src/workflows/signal-rules';
import { erasureCurrentDetails } from '../../../src/workflows/details';
import { initialState } from '../../../src/workflows/state';
import { erasureStaticDetails, erasureSummary } from '../../../src/workflows/summary';
import { findIdentifiers } from '../../codec/pii-scan';
import { automated, input, manual, plan } from '../../harness/plans';
import { DAY, T0 } from './fixtures';

const subject = { email: 'ana.details@example.org', phone: '+15550109988', userId: 'user-778812' };

function request() {
  const p = plan([automated('customers-db'), manual('legacy-billing'), automated('search-index')]);
  const req = { ...input(p, new Date(T0)), subject };
  return { p, req, state: initialState(req) };
}

describe('what the Web UI shows (rules, no server)', () => {
  it('summarises jurisdiction, systems and deadline in one line, and lists the systems in the static details', () => {
    const { p, req, state } = request();
    const deadline = new Date(state.deadlineAt).toISOString();
    assert.equal(erasureSummary('GDPR', 3, deadline), `GDPR erasure · 3 systems · deadline ${deadline.slice(0, 10)}`);
    assert.equal(erasureSummary('CCPA', 1, deadline), `CCPA erasure · 1 system · deadline ${deadline.slice(0, 10)}`);
    const details = erasureStaticDetails(req.requestId, p, req.receivedAt, deadline);
    assert.match(details, /\| `legacy-billing` \| manual \| confirmed by its owner \|/);
    assert.match(details, /\| `customers-db` \| [a-z]+ \| erased by the engine \|/);
    assert.deepEqual(findIdentifiers(details, subject), []);
  });

  it('shows each state, the commands for a pending confirmation and a needs-attention system, and the next action', () => {
    const { p, state } = request();
    const now = T0 + DAY;
    state.phase = 'erasing';
    Object.assign(state.systems['customers-db'], { status: 'verified', receipt: { erased: 7 } });
    Object.assign(state.systems['legacy-billing'], { status: 'awaiting_confirmation', remindersSent: 2, nextReminderAt: T0 + 4 * DAY });
    Object.assign(state.systems['search-index'], { status: 'needs_attention', attempts: 3, lastError: 'index "people" is missing' });
    const text = erasureCurrentDetails(state, p, now, 'erasures-prod');
    assert.match(text, /^\*\*Status: needs attention\*\* · phase erasing · deadline \d{4}-\d\d-\d\d · as of /);
    assert.match(text, /\| `customers-db` \| verified: 7 erased, none left \|/);
    assert.match(text, /\| `legacy-billing` \| \*\*awaiting confirmation\*\* \(2 reminders sent\) \|/);
    assert.match(text, /\| `search-index` \| \*\*needs attention\*\* after 3 attempts \|/);
    const wf = `erasure-${state.requestId}`;
    assert.ok(text.includes(`temporal workflow signal --namespace erasures-prod --workflow-id ${wf} --name confirmDeletion --input '{"system":"legacy-billing","confirmedBy":"<your name>"}'`));
    assert.ok(text.includes(`tctl --namespace erasures-prod workflow signal -w ${wf} -n retrySystem -i '{"system":"search-index"}'`));
    assert.ok(text.includes(`curl -s -X POST "$ERASURE_API_URL/erasures/${state.requestId}/systems/search-index/retry"`));
    assert.match(text, /index "people" is missing/);
    assert.match(text, /Next: reminder to the owner of `legacy-billing`, \d{4}-\d\d-\d\d \d\d:\d\d UTC\./);
    assert.deepEqual(findIdentifiers(text, subject), []);
  });

  it('warns of a legal hold and of an overdue request, shows a paused system, and names the escalation when it comes first', () => {
    const { p, state } = request();
    state.phase = 'erasing';
    state.overdue = true;
    state.legalHold = { reason: 'litigation', placedBy: 'legal', since: new Date(T0).toISOString() };
    assert.ok(applyPauseNotice(state, { system: 'customers-db', paused: true }, T0));
    Object.assign(state.systems['legacy-billing'], { status: 'awaiting_confirmation', remindersSent: 0, nextReminderAt: state.deadlineAt });
    let text = erasureCurrentDetails(state, p, T0 + 40 * DAY);
    assert.match(text, /Overdue/);
    assert.match(text, /Legal hold/);
    assert.match(text, /\| `customers-db` \| paused since /);
    assert.ok(!text.includes('Next:'), 'nothing happens on its own while held');
    state.legalHold = undefined;
    text = erasureCurrentDetails(state, p, T0 + 40 * DAY);
    assert.match(text, /^\*\*Status: overdue\*\*/, 'a passed deadline shows before a pause');
    state.overdue = false;
    text = erasureCurrentDetails(state, p, T0 + 40 * DAY);
    assert.match(text, /^\*\*Status: paused\*\*/);
    assert.match(text, /Next: escalation for `legacy-billing`/);
  });

  it('takes a pause notice only for a pending automated system of the request, and a resume only when paused', () => {
    const { state } = request();
    assert.equal(applyPauseNotice(state, { system: 'legacy-billing', paused: true }, T0), false, 'a confirmation system has nothing to pause');
    assert.equal(applyPauseNotice(state, { system: 'unknown', paused: true }, T0), false);
    assert.equal(applyPauseNotice(state, { system: '__proto__', paused: true }, T0), false);
    assert.equal(applyPauseNotice(state, { system: 'customers-db', paused: 'yes' }, T0), false);
    assert.equal(applyPauseNotice(state, null, T0), false);
    assert.equal(applyPauseNotice(state, { system: 'customers-db', paused: false }, T0), false, 'not paused: nothing to resume');
    assert.equal(applyPauseNotice(state, { system: 'customers-db', paused: true }, T0), true);
    assert.equal(applyPauseNotice(state, { system: 'customers-db', paused: true }, T0 + 1), false, 'a second pause changes nothing');
    assert.equal(state.systems['customers-db'].paused?.since, new Date(T0).toISOString());
    state.systems['customers-db'].status = 'verified';
    assert.equal(applyPauseNotice(state, { system: 'customers-db', paused: false }, T0), false, 'a verified system is done');
  });
});
