/** The subject's identifiers as every edge validates them: normalised, and never so short they name others. */
import assert from 'node:assert/strict';
import { identifierPairs, identifierValue, subjectIdentifiersSchema } from '../../src/domain';

const parse = (subject: unknown) => subjectIdentifiersSchema.safeParse(subject);

describe('subject identifiers (domain, no server)', () => {
  it('normalises: trims, lower-cases e-mails, strips phone separators', () => {
    const r = parse({ email: '  Ada.Lovelace@Example.ORG ', phone: '+44 (20) 7946-0000', userId: ' u-1 ' });
    assert.ok(r.success);
    assert.deepEqual(r.data, { email: 'ada.lovelace@example.org', phone: '+442079460000', userId: 'u-1' });
  });

  it('refuses a phone number with fewer than 7 digits, which many people share', () => {
    for (const phone of ['1234', '+12 34', '(555) 12', '12-34-5']) {
      const r = parse({ phone });
      assert.equal(r.success, false, phone);
      assert.match(r.error!.issues.map((i) => i.message).join(), /at least 7 digits/);
    }
    assert.ok(parse({ phone: '555 0100' }).success, 'seven digits are enough');
    assert.ok(parse({ phone: '+1 555 0100' }).success);
  });

  it('needs at least one identifier and refuses unknown keys', () => {
    assert.equal(parse({}).success, false);
    assert.equal(parse({ email: 'a@b.co', name: 'Ada' }).success, false);
    assert.equal(parse({ custom: { loyaltyCard: 'LC-1' } }).success, true);
  });

  it('reads identifiers by catalog name, custom ones included, in a fixed order', () => {
    const subject = { email: 'a@b.co', userId: 'u-1', custom: { zeta: 'z', alpha: 'a' } };
    assert.equal(identifierValue(subject, 'custom.alpha'), 'a');
    assert.equal(identifierValue(subject, 'phone'), undefined);
    assert.equal(identifierValue(subject, 'constructor'), undefined);
    assert.deepEqual(identifierPairs(subject).map(([k]) => k), ['email', 'userId', 'custom.alpha', 'custom.zeta']);
  });
});
