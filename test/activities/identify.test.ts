/**
 * The identifySystem activity with a catalog and a connector of the test's own: what a provider finds is
 * kept to the names its plan lists and to values a request could carry, and never logged. No server here.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities, logNotifier, type Connector } from '../../src/activities';
import { catalogSchema } from '../../src/catalog/schema';
import { failureTypes, type DerivedIdentifiers, type SystemTask } from '../../src/domain';
import { createLogger } from '../../src/logger';
import { failure, taskFor } from '../connectors/helpers';

/**
 * A catalog whose `crm` database provides `provides` (one column each), the worker's activities over it with a
 * fake connector, and crm's task for a subject known only by e-mail, planned from that catalog.
 */
function activitiesWith(identify: Connector['identify'] | undefined, provides: string[], subject: SystemTask['subject'] = { email: 'ada@example.com' }) {
  const catalog = catalogSchema.parse({
    systems: [
      {
        id: 'crm',
        kind: 'postgres',
        connection: 'postgres://worker@db.internal/crm',
        tables: [{ table: 'contacts', match: { column: 'email', identifier: 'email' }, action: 'delete', provides: Object.fromEntries(provides.map((n, i) => [n, `col_${i}`])) }],
      },
    ],
  });
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } });
  const asked: SystemTask[] = [];
  const fake: Connector = {
    erase: async () => assert.fail('not called'),
    verify: async () => assert.fail('not called'),
    ...(identify ? { identify: async (t: SystemTask) => (asked.push(t), identify(t)) } : {}),
  };
  const activities = createActivities({
    catalog,
    connectors: { postgres: () => fake },
    notifier: logNotifier(logger),
    audit: { recordEvent: async () => undefined },
    certificates: { issue: async () => ({ certificateId: 'n/a' }) },
    logger,
  });
  return { activities, lines, asked, task: taskFor(catalog.systems[0], subject) };
}

describe('createActivities: identifySystem', () => {
  it('returns only the names the plan provides, normalised like a request, without repeats or rule breakers', async () => {
    const found: DerivedIdentifiers = {
      userId: ['uid-secret-17', ' uid-secret-17 ', 'uid-secret-18', ''],
      phone: ['+49 151 1234 5678', '123'],
      'custom.card': ['LC-secret-1'],
    };
    const { activities, lines, asked, task } = activitiesWith(async () => found, ['userId', 'phone']);
    const derived = await activities.identifySystem(task);
    assert.deepEqual(derived, { userId: ['uid-secret-17', 'uid-secret-18'], phone: ['+4915112345678'] });
    assert.equal(asked.length, 1);
    const logged = lines.join('\n');
    assert.ok(!/secret|4915112345678|ada@example\.com/.test(logged), 'a value was logged');
    const line = JSON.parse(lines.find((l) => l.includes('system identified'))!) as Record<string, unknown>;
    assert.deepEqual([line.derived, line.dropped], [['userId=2', 'phone=1'], 2]);
  });

  it('answers with nothing when the subject has no rows there', async () => {
    const { activities, task } = activitiesWith(async () => ({}), ['userId']);
    assert.deepEqual(await activities.identifySystem(task), {});
  });

  it('fails for good, naming the system, when its connector cannot identify', async () => {
    const { activities, task } = activitiesWith(undefined, ['userId']);
    const err = await failure(activities.identifySystem(task));
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, failureTypes.configuration);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /system "crm" is planned to provide userId, but its connector cannot identify/);
  });

  it('re-checks the subject before the connector runs', async () => {
    const { activities, asked, task } = activitiesWith(async () => ({ userId: ['x'] }), ['userId'], { phone: '1234' });
    const err = await failure(activities.identifySystem(task));
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, failureTypes.invalidSubject);
    assert.equal(asked.length, 0);
  });
});
