/**
 * RFC 8785 (JSON Canonicalization Scheme) through the `canonicalize` package, and SHA-256 helpers.
 */
import { createHash } from 'node:crypto';

type Canonicalize = (value: unknown) => string | undefined;

// `canonicalize` is published as an ES module only, while this project compiles to CommonJS, where
// TypeScript rewrites `import()` into a `require()` that the package's exports refuse. An import()
// built at run time stays a native dynamic import, which Node resolves from this file as usual.
const nativeImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<{ default: Canonicalize }>;

let loaded: Promise<Canonicalize> | undefined;

function canonicalizer(): Promise<Canonicalize> {
  loaded ??= nativeImport('canonicalize').then((m) => m.default);
  return loaded;
}

/**
 * The RFC 8785 canonical JSON text of a value: sorted keys, no whitespace, ECMAScript number forms.
 * Throws on values JSON cannot carry canonically (NaN, Infinity, lone surrogates, undefined at the top).
 * @example await canonicalJson({ b: 1, a: [true] }) // '{"a":[true],"b":1}'
 */
export async function canonicalJson(value: unknown): Promise<string> {
  const text = (await canonicalizer())(value);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return text;
}

/** Lower-case hex SHA-256 of UTF-8 text or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
