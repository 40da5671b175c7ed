import assert from 'node:assert/strict';
import { findIdentifiers } from './pii-scan';

describe('findIdentifiers (the PII scanner the history tests rely on)', () => {
  const ids = { email: 'ada.lovelace@example.org', phone: '+442079460000' };

  it('finds an identifier written plainly, in any case', () => {
    assert.deepEqual(findIdentifiers('{"to":"ADA.Lovelace@example.org"}', ids).map((h) => h.form), ['plain']);
  });

  it('finds an identifier base64-encoded at every byte alignment, inside a larger blob', () => {
    for (const prefix of ['', 'x', 'xy', '{"subject":{"email":"']) {
      const blob = Buffer.from(`${prefix}${ids.email}","more":"stuff"}`).toString('base64');
      const hits = findIdentifiers(`"data":"${blob}"`, ids);
      assert.ok(hits.some((h) => h.name === 'email'), `missed with a prefix of ${prefix.length} bytes`);
    }
  });

  it('finds base64url and hex forms', () => {
    const bin = Buffer.concat([Buffer.from([0xfb, 0xff]), Buffer.from(ids.phone)]);
    assert.ok(findIdentifiers(bin.toString('base64url'), ids).some((h) => h.name === 'phone'));
    assert.deepEqual(findIdentifiers(Buffer.from(ids.phone).toString('hex'), ids).map((h) => h.form), ['hex']);
  });

  it('finds nothing in text without the identifiers', () => {
    assert.deepEqual(findIdentifiers(Buffer.from('unrelated text without identifiers').toString('base64'), ids), []);
  });
});
