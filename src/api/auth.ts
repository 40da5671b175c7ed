/**
 * API keys with scopes. Keys are stored only as SHA-256 hashes; a presented key is hashed and compared
 * in constant time against every configured hash.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { formatIssues, type OperatorActionName } from '../domain';
import { HttpError } from './errors';

/**
 * What a key may do. `operator` is every operator action on every system (and preview); each action also
 * has its own scope, and those about one system or consumer may be narrowed to it: `confirm@crm` may
 * confirm only `crm`. `certificates` reads signed certificates, which `read` does not.
 */
export const scopes = ['intake', 'operator', 'read', 'certificates', 'confirm', 'consumer', 'hold', 'extend', 'cancel', 'retry', 'pause'] as const;
export type Scope = (typeof scopes)[number];
/** The scope of each operator action. */
export const actionScopes = {
  confirmDeletion: 'confirm',
  consumerCompleted: 'consumer',
  placeLegalHold: 'hold',
  releaseLegalHold: 'hold',
  extendDeadline: 'extend',
  cancel: 'cancel',
  retrySystem: 'retry',
} as const satisfies Record<OperatorActionName, Scope>;
type ActionScope = (typeof actionScopes)[OperatorActionName];
/** Action scopes that can be narrowed to one system (or, for `consumer`, one consumer): `scope@id`. */
const narrowable: ReadonlySet<string> = new Set<ActionScope>(['confirm', 'consumer', 'retry']);
const isActionScope = (s: string): s is ActionScope => (Object.values(actionScopes) as string[]).includes(s);

/** A scope as a key holds it: a scope, or `scope@id` for a narrowable one (ids as the catalog spells them). */
export type Grant = Scope | `${ActionScope}@${string}`;

export interface ApiKey {
  name: string;
  /** Hex SHA-256 of the key. */
  hash: string;
  scopes: Grant[];
}

const grantSchema = z.string().superRefine((g, ctx) => {
  const [scope, item, ...rest] = g.split('@');
  if (!(scopes as readonly string[]).includes(scope)) {
    ctx.addIssue({ code: 'custom', message: `unknown scope "${scope}" (one of ${scopes.join(', ')}, or confirm@<system>, consumer@<consumer>, retry@<system>)` });
  } else if (item !== undefined && (!narrowable.has(scope) || rest.length > 0 || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(item))) {
    ctx.addIssue({ code: 'custom', message: narrowable.has(scope) ? `"${g}" must be ${scope}@<id> with one catalog id` : `scope "${scope}" cannot be narrowed to one system (only confirm, consumer and retry can)` });
  }
}) as unknown as z.ZodType<Grant>;

const keyEntrySchema = z.object({
  name: z.string().min(1).max(128),
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex SHA-256 of the key'),
  scopes: z.array(grantSchema).min(1),
});

/** True when the key may use a route of `scope` at all (narrowed grants count; the item is checked later). */
export function mayUse(key: ApiKey, scope: Scope): boolean {
  // `operator` holds every action scope and `pause` (pausing a system for every request).
  return key.scopes.some((g) => g === scope || g.startsWith(`${scope}@`) || (g === 'operator' && (isActionScope(scope) || scope === 'pause')));
}

/**
 * True when the key may take `action` on the system or consumer `item` (undefined for actions about the
 * whole request).
 * @example allows(key, 'confirmDeletion', 'crm') // a key with `confirm@crm`, `confirm` or `operator`
 */
export function allows(key: ApiKey, action: OperatorActionName, item: string | undefined): boolean {
  const scope = actionScopes[action];
  return key.scopes.some((g) => g === 'operator' || g === scope || (item !== undefined && g === `${scope}@${item}`));
}

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** Entries of an `API_KEYS_FILE`: a JSON array of `{name, hash, scopes}`. */
function readKeyFile(file: string): unknown[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`API_KEYS_FILE (${file}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`API_KEYS_FILE (${file}) is not JSON: expected [{"name", "hash", "scopes"}]`);
  }
  if (!Array.isArray(doc)) throw new Error(`API_KEYS_FILE (${file}) must hold a JSON array of {"name", "hash", "scopes"}`);
  return doc;
}

/**
 * Parses the API keys: `value` (the `API_KEYS` variable) holds entries separated by `;`, each
 * `name:scope,scope:sha256hex`; `file` (`API_KEYS_FILE`) names a JSON file holding `[{name, hash, scopes}]`.
 * Both may be given. A bad entry fails with where it is and what is wrong.
 * @example parseApiKeys('ops:operator,read:9f86d0…', config.API_KEYS_FILE)
 */
export function parseApiKeys(value: string | undefined, file?: string): ApiKey[] {
  const entries: Array<{ where: string; entry: unknown }> = [];
  if (file) entries.push(...readKeyFile(file).map((entry, i) => ({ where: `API_KEYS_FILE (${file}) entry ${i + 1}`, entry })));
  (value ?? '')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .forEach((part, i) => {
      const [name, scopeList, hash] = part.split(':');
      entries.push({ where: `API_KEYS entry ${i + 1}`, entry: { name, hash, scopes: (scopeList ?? '').split(',').filter(Boolean) } });
    });
  return entries.map(({ where, entry }) => {
    const parsed = keyEntrySchema.safeParse(entry);
    if (!parsed.success) throw new Error(`${where}: ${formatIssues(parsed.error)}`);
    return parsed.data;
  });
}

/** Finds the key matching a presented secret; compares every configured hash in constant time. */
export function findKey(keys: readonly ApiKey[], presented: string): ApiKey | undefined {
  const h = Buffer.from(hashApiKey(presented), 'hex');
  let found: ApiKey | undefined;
  for (const k of keys) if (timingSafeEqual(h, Buffer.from(k.hash, 'hex')) && !found) found = k;
  return found;
}

/** Reads the presented key from `Authorization: Bearer …` or `X-API-Key`. */
function presentedKey(authorization: string | undefined, apiKey: string | undefined): string | undefined {
  if (apiKey) return apiKey;
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  return m?.[1];
}

/** Middleware: 401 without a valid key, 403 when the key lacks `scope`. */
export function requireScope(keys: readonly ApiKey[], scope: Scope): RequestHandler {
  return (req, res, next) => {
    const presented = presentedKey(req.header('authorization'), req.header('x-api-key'));
    if (!presented) throw new HttpError(401, 'an API key is required (Authorization: Bearer <key> or X-API-Key)', { headers: { 'WWW-Authenticate': 'Bearer' } });
    const key = findKey(keys, presented);
    if (!key) throw new HttpError(401, 'the API key is not valid', { headers: { 'WWW-Authenticate': 'Bearer' } });
    if (!mayUse(key, scope)) throw new HttpError(403, `the API key "${key.name}" lacks the "${scope}" scope`);
    res.locals.apiKey = key.name;
    res.locals.caller = key;
    next();
  };
}

/**
 * Middleware for public routes: notes the caller's key when a valid one is presented, and refuses nobody
 * (a missing or invalid key is an anonymous caller), so a public answer can say more to a known caller.
 * @example app.get('/readyz', identifyCaller(keys), handler) // handler reads res.locals.caller
 */
export function identifyCaller(keys: readonly ApiKey[]): RequestHandler {
  return (req, res, next) => {
    const presented = presentedKey(req.header('authorization'), req.header('x-api-key'));
    const key = presented ? findKey(keys, presented) : undefined;
    if (key) {
      res.locals.apiKey = key.name;
      res.locals.caller = key;
    }
    next();
  };
}
