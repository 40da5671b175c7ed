/**
 * How createActivities routes a task to a connector, with a catalog and connectors of the test's own:
 * no server starts here.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities, logNotifier, type Connector } from '../../src/activities';
import { catalogSchema } from '../../src/catalog/schema';
import { failureTypes, type SystemTask } from '../../src/domain';
import { createLogger } from '../../src/logger';
import { alice, failure, taskFor } from './helpers';

const catalog = catalogSchema.parse({
  systems: [
    { id: 'crm', kind: 'webhook', url: 'https://crm.example.com/erase', secret: 'a-webhook-secret-0123', confirmation: 'signal' },
    { id: 'billing', kind: 'manual', owner: 'billing-team' },
  ],
});

/** The activities over the test catalog, with `connectors` as given and every log line kept. */
function activitiesWith(connectors: Parameters<typeof createActivities>[0]['connectors']) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) } });
  const activities = createActivities({
    catalog,
    connectors,
    notifier: logNotifier(logger),
    audit: { recordEvent: async () => undefined },
    certificates: { issue: async () => ({ certificateId: 'n/a' }) },
    logger,
  });
  return { activities, lines };
}

const systemOf = (id: string) => catalog.systems.find((s) => s.id === id)!;

/** Asserts the permanent failure the worker throws when its catalog or registry cannot serve a task. */
function assertConfigurationError(err: Error, fragment: RegExp): void {
  assert.ok(err instanceof ApplicationFailure, `expected ApplicationFailure, got ${err.name}: ${err.message}`);
  assert.equal(err.type, failureTypes.configuration);
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, fragment);
}

describe('createActivities: notifySystem', () => {
  it('refuses a plan whose kind the registry does not know, instead of treating it as manual', async () => {
    const { activities, lines } = activitiesWith({});
    const manual = taskFor(systemOf('billing'), alice);
    // A plan written by another engine version: a kind this worker has never heard of.
    const unknown: SystemTask = { ...manual, system: { ...manual.system, id: 'mainframe', kind: 'cobol' as SystemTask['system']['kind'] } };
    const err = await failure(activities.notifySystem(unknown));
    assertConfigurationError(err, /system "mainframe" has kind "cobol", which this worker does not know \(expected postgres, s3, elasticsearch, webhook, manual\)/);
    assert.equal(lines.filter((l) => l.msg === 'manual erasure requested').length, 0);
  });

  it('logs the request for a manual system, naming its owner', async () => {
    const { activities, lines } = activitiesWith({});
    await activities.notifySystem(taskFor(systemOf('billing'), alice, 'req-manual'));
    const logged = lines.filter((l) => l.msg === 'manual erasure requested');
    assert.deepEqual(logged.map((l) => [l.requestId, l.system, l.owner]), [['req-manual', 'billing', 'billing-team']]);
  });

  it('hands a kind with a connector to it, and refuses it when the worker has no connector for the kind', async () => {
    const notified: string[] = [];
    const fake: Connector = {
      erase: async () => assert.fail('not called'),
      verify: async () => assert.fail('not called'),
      notify: async (task) => void notified.push(task.requestId),
    };
    const { activities } = activitiesWith({ webhook: () => fake });
    await activities.notifySystem(taskFor(systemOf('crm'), alice, 'req-hook'));
    assert.deepEqual(notified, ['req-hook']);

    const none = activitiesWith({});
    assertConfigurationError(await failure(none.activities.notifySystem(taskFor(systemOf('crm'), alice))), /no connector for kind "webhook" \(system "crm"\)/);
  });
});

describe('createActivities: the subject as the intake would accept it today', () => {
  it('refuses, as permanent and before any connector runs, identifiers that break a rule (a 4-digit phone)', async () => {
    const called: string[] = [];
    const fake: Connector = {
      erase: async () => (called.push('erase'), { action: 'delete', found: 0, erased: 0, evidenceHash: '' }),
      verify: async () => (called.push('verify'), { remaining: 0 }),
      notify: async () => void called.push('notify'),
    };
    const { activities } = activitiesWith({ webhook: () => fake });
    const task = { ...taskFor(systemOf('crm'), alice), subject: { phone: '1234' } };
    for (const run of [() => activities.eraseSystem(task), () => activities.verifySystem(task), () => activities.notifySystem(task)]) {
      const err = await failure(run());
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, failureTypes.invalidSubject);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /\(subject\.phone: must have at least 7 digits\); nothing was matched/);
      assert.ok(!err.message.includes('1234'), 'the value is not quoted');
    }
    assert.deepEqual(called, []);
    // A valid subject still reaches its connector, normalised.
    await activities.verifySystem({ ...task, subject: { phone: '+49 151 1234 5678' } });
    assert.deepEqual(called, ['verify']);
  });
});
