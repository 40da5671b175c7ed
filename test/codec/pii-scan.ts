/**
 * Finds a subject's identifiers in text that came out of Temporal (history JSON, logs, HTTP answers):
 * plainly, or inside base64 / base64url at any byte alignment, or as hex. Reusable by any test that must
 * prove "no identifier here".
 */

/** One place an identifier showed up. */
export interface IdentifierHit {
  /** The identifier's name as given (e.g. `email`), or `#<index>` when identifiers came as a list. */
  name: string;
  /** How it was written: `plain`, `base64@1` (alignment 0–2), `base64url@2`, `hex`. */
  form: string;
  /** Where in the text, for the failure message. */
  index: number;
}

/**
 * The fragments any base64 encoding of a byte stream containing `value` must contain: at alignment `a` the
 * first `a` bytes share a base64 group with unknown neighbours, so encode from there and keep only whole groups.
 */
export function base64Fragments(value: string): Array<{ alignment: number; fragment: string }> {
  const bytes = Buffer.from(value, 'utf8');
  const out: Array<{ alignment: number; fragment: string }> = [];
  for (let a = 0; a < 3; a++) {
    const rest = bytes.subarray(a);
    const whole = rest.subarray(0, rest.length - (rest.length % 3));
    if (whole.length >= 3) out.push({ alignment: a, fragment: whole.toString('base64') });
  }
  return out;
}

/**
 * Every occurrence of every identifier, in any of the forms above.
 * @example assert.deepEqual(findIdentifiers(historyJson, { email: 'a@b.example', userId: 'u-1' }), []);
 * @example assert.deepEqual(findIdentifiers(stdout, Object.values(subject)), []);
 */
export function findIdentifiers(text: string, identifiers: Record<string, string | undefined> | ReadonlyArray<string | undefined>): IdentifierHit[] {
  const hits: IdentifierHit[] = [];
  const lower = text.toLowerCase();
  const named: Array<[string, string | undefined]> = Array.isArray(identifiers)
    ? identifiers.map((v, i) => [`#${i}`, v])
    : Object.entries(identifiers);
  for (const [name, value] of named) {
    if (!value) continue;
    if (value.length < 4) throw new Error(`identifier ${name} is too short to search for reliably`);
    const search = (needle: string, form: string, haystack = text) => {
      for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + 1)) hits.push({ name, form, index: i });
    };
    search(value.toLowerCase(), 'plain', lower);
    search(Buffer.from(value, 'utf8').toString('hex'), 'hex', lower);
    for (const { alignment, fragment } of base64Fragments(value)) {
      search(fragment, `base64@${alignment}`);
      const url = fragment.replace(/\+/g, '-').replace(/\//g, '_');
      if (url !== fragment) search(url, `base64url@${alignment}`);
    }
  }
  return hits;
}

/** A readable list of hits for assertion messages (names and forms only, never the values). */
export function describeHits(hits: IdentifierHit[]): string {
  return hits.map((h) => `${h.name} as ${h.form} at ${h.index}`).join(', ');
}

/** One payload found in `temporal workflow show --output json` (or any protobuf-JSON) output. */
export interface FoundPayload {
  /** Where it sits, e.g. `events.5.activityTaskScheduledEventAttributes.input.payloads.0`. */
  path: string;
  encoding: string;
  metadata: Record<string, string>;
  data: Buffer;
}

/** Every payload (an object with `metadata.encoding`) in protobuf-JSON text, metadata and data base64-decoded. */
export function payloadsOf(json: string): FoundPayload[] {
  const found: FoundPayload[] = [];
  const walk = (v: unknown, path: string[]) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, String(i)]));
    else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const meta = o.metadata as Record<string, string> | undefined;
      if (meta && typeof meta === 'object' && typeof meta.encoding === 'string') {
        const metadata = Object.fromEntries(Object.entries(meta).map(([k, b]) => [k, Buffer.from(b, 'base64').toString()]));
        found.push({ path: path.join('.'), encoding: metadata.encoding, metadata, data: Buffer.from(typeof o.data === 'string' ? o.data : '', 'base64') });
        return;
      }
      for (const [k, x] of Object.entries(o)) walk(x, [...path, k]);
    }
  };
  walk(JSON.parse(json), []);
  return found;
}

/**
 * Payloads that the codec should have encrypted but did not. Search attributes are skipped: the server
 * must index them, so they never pass through a codec (and carry only statuses and dates).
 */
export function unencryptedPayloads(json: string): string[] {
  return payloadsOf(json)
    .filter((p) => p.encoding !== 'binary/encrypted' && !/\bsearchAttributes\b/.test(p.path))
    .map((p) => `${p.path} (${p.encoding})`);
}
