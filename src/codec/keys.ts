/**
 * The key hierarchy behind payload encryption:
 *
 *   master key (ENGINE_MASTER_KEY or ENGINE_MASTER_KEY_FILE; never stored)
 *     └─ wraps data keys, stored in `data_keys` (migration 020)
 *          ├─ one per erasure request, created on first use, destroyed by crypto-shredding
 *          └─ one default key, for payloads that belong to no request
 *
 * A check value sealed under the master key lives in `master_key_check`, so a process started with the
 * wrong master key stops at start-up instead of failing on the first payload.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { inTransaction, type Pool } from '../ledger/db';
import type { Logger } from '../logger';
import { KEY_BYTES, open, seal, SealError, secretKey } from './aead';
import { ExpiringCache } from './cache';
import { KeyStoreError, MasterKeyError } from './errors';

export const MASTER_KEY_ENV = 'ENGINE_MASTER_KEY';
export const MASTER_KEY_FILE_ENV = 'ENGINE_MASTER_KEY_FILE';

/**
 * Advisory lock class ('DKEY') for a request's key lifecycle: creating a request's key and destroying it
 * take `(DATA_KEY_LOCK_CLASS, hashtext(request_id))`, so a key can never be created after its request was
 * shredded. Distinct from the ledger's 'ERAS' class, so it cannot collide with the ledger's locks.
 */
export const DATA_KEY_LOCK_CLASS = 0x444b4559;

const expectation = `32 bytes as 64 hex characters or as base64 (generate one with: openssl rand -base64 32)`;

/** The master key and where it came from (for error messages; never the key itself). */
export interface MasterKey {
  readonly key: KeyObject;
  /** `ENGINE_MASTER_KEY` or `ENGINE_MASTER_KEY_FILE (<path>)`. */
  readonly source: string;
}

function decodeKeyText(text: string): Buffer | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length === KEY_BYTES) return b;
  }
  return undefined;
}

/** Where the master key comes from: the validated configuration's two variables (see src/config). */
export interface MasterKeySettings {
  /** The key itself, hex or base64. */
  readonly ENGINE_MASTER_KEY?: string;
  /** Path to a file holding it. */
  readonly ENGINE_MASTER_KEY_FILE?: string;
}

/**
 * Reads the master key from `ENGINE_MASTER_KEY` (hex or base64) or from the file named by
 * `ENGINE_MASTER_KEY_FILE` (hex, base64, or 32 raw bytes). Fails with a message naming both variables,
 * never with the value.
 * @example const masterKey = loadMasterKey(loadConfig(process.env));
 */
export function loadMasterKey(settings: MasterKeySettings): MasterKey {
  const inline = settings.ENGINE_MASTER_KEY;
  const file = settings.ENGINE_MASTER_KEY_FILE;
  if (inline && file) {
    throw new MasterKeyError(`both ${MASTER_KEY_ENV} and ${MASTER_KEY_FILE_ENV} are set: set exactly one of them`);
  }
  if (inline) {
    const bytes = decodeKeyText(inline);
    if (!bytes) throw new MasterKeyError(`${MASTER_KEY_ENV} is not a valid master key: expected ${expectation}`);
    return { key: secretKey(bytes), source: MASTER_KEY_ENV };
  }
  if (file) {
    const source = `${MASTER_KEY_FILE_ENV} (${file})`;
    let raw: Buffer;
    try {
      raw = fs.readFileSync(file);
    } catch (err) {
      throw new MasterKeyError(`${source} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const bytes = decodeKeyText(raw.toString('latin1')) ?? (raw.length === KEY_BYTES ? raw : undefined);
    if (!bytes) throw new MasterKeyError(`${source} does not hold a valid master key: expected ${expectation}, or exactly 32 raw bytes`);
    return { key: secretKey(bytes), source };
  }
  throw new MasterKeyError(
    `no master key: set ${MASTER_KEY_ENV} to ${expectation}, or ${MASTER_KEY_FILE_ENV} to the path of a file holding it. ` +
      'The master key wraps the data keys that encrypt every payload stored in Temporal; the engine does not start without it.',
  );
}

/** A fresh master key as base64, for setup scripts and the local run. */
export function generateMasterKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** A data key, unwrapped. `requestId` is null for the default key. */
export interface DataKey {
  readonly id: string;
  readonly requestId: string | null;
  readonly key: KeyObject;
}

/** A destroyed request key's tombstone. */
export interface DestroyedKey {
  readonly keyId: string;
  readonly requestId: string;
  /** ISO time of the destruction. */
  readonly destroyedAt: string;
}

export type RequestKey = { state: 'live'; dataKey: DataKey } | ({ state: 'destroyed' } & DestroyedKey);
export type KeyLookup = RequestKey | { state: 'unknown'; keyId: string };

/** Where the codec gets its keys. Built once per process by {@link openKeyStore}. */
export interface KeyStore {
  /** The key for payloads that belong to no request (and for a shredded request's later, identifier-free payloads). */
  readonly defaultKey: DataKey;
  /** A request's key, created on first use; `destroyed` once the request was crypto-shredded. */
  requestKey(requestId: string): Promise<RequestKey>;
  /** Finds a key by the id a payload's metadata carries. */
  lookup(keyId: string): Promise<KeyLookup>;
  /** Replaces whatever this process cached for the key with its tombstone (called by shredding). */
  markDestroyed(tombstone: DestroyedKey): void;
}

export interface KeyStoreOptions {
  pool: Pool;
  masterKey: MasterKey;
  /**
   * How long an unwrapped key stays cached, in ms (default 30 000). Shredding evicts at once in the
   * process that shreds; every other process keeps decrypting a shredded request's payloads for at most
   * this long. 0 disables caching.
   */
  cacheTtlMs?: number;
  /** Most keys kept in memory (default 1000); least recently used go first. */
  cacheMaxEntries?: number;
  logger?: Logger;
}

export const DEFAULT_CACHE_TTL_MS = 30_000;

const CHECK_PLAINTEXT = Buffer.from('erasure-engine master key check v1');
const CHECK_AAD = Buffer.from('master_key_check');
const wrapAad = (keyId: string) => Buffer.from(`data_keys:${keyId}`);
const newKeyId = () => `dk_${randomBytes(16).toString('base64url')}`;
const undefinedTable = '42P01';

interface KeyRow {
  state: 'live' | 'destroyed';
  key_id: string;
  request_id: string | null;
  wrapped_key: Buffer | null;
  destroyed_at: Date | null;
}

const selectKeys = (where: string) => `
  SELECT 'live' AS state, key_id, request_id, wrapped_key, NULL::timestamptz AS destroyed_at FROM data_keys WHERE ${where}
  UNION ALL
  SELECT 'destroyed', key_id, request_id, NULL, destroyed_at FROM destroyed_data_keys WHERE ${where}`;

async function verifyMasterKey(pool: Pool, master: MasterKey): Promise<void> {
  const readCheck = async () => (await pool.query<{ check_value: Buffer }>('SELECT check_value FROM master_key_check WHERE id = 1')).rows[0];
  let row;
  try {
    row = await readCheck();
  } catch (err) {
    if ((err as { code?: string }).code === undefinedTable) {
      throw new KeyStoreError('the key tables are missing from the engine database: run the ledger migrations (020_data_keys.sql) before starting');
    }
    throw err;
  }
  if (!row) {
    // First start on this database: adopt the master key, unless data keys already exist under some other one.
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM data_keys');
    if (rows[0].n > 0) {
      throw new MasterKeyError(
        `the master key check value is missing although ${rows[0].n} data keys exist: restore the master_key_check row; ` +
          `the engine will not adopt a new master key over existing data keys`,
      );
    }
    await pool.query('INSERT INTO master_key_check (id, check_value) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [seal(master.key, CHECK_PLAINTEXT, CHECK_AAD)]);
    row = await readCheck();
  }
  let plain: Buffer;
  try {
    plain = open(master.key, row.check_value, CHECK_AAD);
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    throw new MasterKeyError(
      `the master key from ${master.source} is not the master key this engine database was set up with (its check value does not decrypt). ` +
        `Set ${MASTER_KEY_ENV} or ${MASTER_KEY_FILE_ENV} to the original master key: without it no stored data key can be unwrapped.`,
    );
  }
  if (!plain.equals(CHECK_PLAINTEXT)) throw new MasterKeyError('the master key check value is not the expected one: the master_key_check row was altered');
}

function unwrap(master: MasterKey, row: KeyRow): DataKey {
  try {
    return { id: row.key_id, requestId: row.request_id, key: secretKey(open(master.key, row.wrapped_key as Buffer, wrapAad(row.key_id))) };
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    throw new KeyStoreError(`data key ${row.key_id} does not unwrap under the (verified) master key: its row was altered`);
  }
}

function wrapNew(master: MasterKey): { keyId: string; wrapped: Buffer } {
  const keyId = newKeyId();
  return { keyId, wrapped: seal(master.key, randomBytes(KEY_BYTES), wrapAad(keyId)) };
}

function toLookup(master: MasterKey, row: KeyRow): RequestKey {
  if (row.state === 'live') return { state: 'live', dataKey: unwrap(master, row) };
  return { state: 'destroyed', keyId: row.key_id, requestId: row.request_id as string, destroyedAt: (row.destroyed_at as Date).toISOString() };
}

async function ensureDefaultKey(pool: Pool, master: MasterKey): Promise<DataKey> {
  const find = async () => (await pool.query<KeyRow>(`SELECT 'live' AS state, key_id, request_id, wrapped_key FROM data_keys WHERE request_id IS NULL`)).rows[0];
  let row = await find();
  if (!row) {
    const { keyId, wrapped } = wrapNew(master);
    // Processes starting together race here; the single-default index lets exactly one insert win.
    await pool.query('INSERT INTO data_keys (key_id, request_id, wrapped_key) VALUES ($1, NULL, $2) ON CONFLICT DO NOTHING', [keyId, wrapped]);
    row = await find();
  }
  return unwrap(master, row);
}

class PgKeyStore implements KeyStore {
  private readonly byId: ExpiringCache<string, RequestKey>;
  private readonly byRequest: ExpiringCache<string, RequestKey>;
  private readonly inflight = new Map<string, Promise<KeyLookup>>();
  private readonly ttl: number;

  constructor(
    private readonly pool: Pool,
    private readonly master: MasterKey,
    readonly defaultKey: DataKey,
    opts: KeyStoreOptions,
  ) {
    this.ttl = opts.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    this.byId = new ExpiringCache(opts.cacheMaxEntries ?? 1000);
    this.byRequest = new ExpiringCache(opts.cacheMaxEntries ?? 1000);
  }

  async requestKey(requestId: string): Promise<RequestKey> {
    if (!requestId) throw new KeyStoreError('a request key needs a non-empty request id');
    const cached = this.byRequest.get(requestId);
    if (cached) return cached;
    const found = (await this.once(`request:${requestId}`, () => this.loadOrCreate(requestId))) as RequestKey;
    return this.remember(found);
  }

  async lookup(keyId: string): Promise<KeyLookup> {
    if (keyId === this.defaultKey.id) return { state: 'live', dataKey: this.defaultKey };
    const cached = this.byId.get(keyId);
    if (cached) return cached;
    const found = await this.once(`id:${keyId}`, async () => {
      const { rows } = await this.pool.query<KeyRow>(selectKeys('key_id = $1'), [keyId]);
      return rows[0] ? toLookup(this.master, rows[0]) : { state: 'unknown' as const, keyId };
    });
    return found.state === 'unknown' ? found : this.remember(found);
  }

  markDestroyed(tombstone: DestroyedKey): void {
    const live = this.byRequest.get(tombstone.requestId);
    if (live?.state === 'live') this.byId.delete(live.dataKey.id);
    this.remember({ state: 'destroyed', ...tombstone });
  }

  /**
   * Caches what a load found and returns what the process must use. A load that read the live row before a
   * shred by this process committed can resolve after {@link markDestroyed}: the tombstone wins, or the key
   * would be decrypting (and encrypting) again for a whole TTL after its destruction.
   */
  private remember(k: RequestKey): RequestKey {
    const keyId = k.state === 'live' ? k.dataKey.id : k.keyId;
    const requestId = k.state === 'live' ? k.dataKey.requestId : k.requestId;
    if (k.state === 'live') {
      const known = (requestId !== null ? this.byRequest.get(requestId) : undefined) ?? this.byId.get(keyId);
      if (known?.state === 'destroyed') return known;
    }
    // A tombstone never becomes live again, so it may stay until pushed out for room.
    const ttl = k.state === 'destroyed' ? Infinity : this.ttl;
    this.byId.set(keyId, k, ttl);
    if (requestId !== null) this.byRequest.set(requestId, k, ttl);
    return k;
  }

  /** Joins concurrent loads of the same key in this process. */
  private once(tag: string, load: () => Promise<KeyLookup>): Promise<KeyLookup> {
    let p = this.inflight.get(tag);
    if (!p) {
      p = load().finally(() => this.inflight.delete(tag));
      this.inflight.set(tag, p);
    }
    return p;
  }

  private async loadOrCreate(requestId: string): Promise<RequestKey> {
    const { rows } = await this.pool.query<KeyRow>(selectKeys('request_id = $1'), [requestId]);
    if (rows[0]) return toLookup(this.master, rows[0]);
    return inTransaction(this.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [DATA_KEY_LOCK_CLASS, requestId]);
      // Under the lock, read again: another process may have created the key, or shredding may have run.
      const again = await c.query<KeyRow>(selectKeys('request_id = $1'), [requestId]);
      if (again.rows[0]) return toLookup(this.master, again.rows[0]);
      const { keyId, wrapped } = wrapNew(this.master);
      await c.query('INSERT INTO data_keys (key_id, request_id, wrapped_key) VALUES ($1, $2, $3)', [keyId, requestId, wrapped]);
      return toLookup(this.master, { state: 'live', key_id: keyId, request_id: requestId, wrapped_key: wrapped, destroyed_at: null });
    });
  }
}

/**
 * Verifies the master key against the database's check value (adopting it on a fresh database), makes
 * sure the default key exists, and returns the process's key store. Run the ledger migrations first.
 * Throws {@link MasterKeyError} for a wrong master key, {@link KeyStoreError} when the tables are missing.
 * @example const keyStore = await openKeyStore({ pool, masterKey: loadMasterKey(config), logger });
 */
export async function openKeyStore(opts: KeyStoreOptions): Promise<KeyStore> {
  await verifyMasterKey(opts.pool, opts.masterKey);
  const defaultKey = await ensureDefaultKey(opts.pool, opts.masterKey);
  opts.logger?.info({ masterKey: opts.masterKey.source, defaultKeyId: defaultKey.id, cacheTtlMs: opts.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS }, 'payload encryption keys ready');
  return new PgKeyStore(opts.pool, opts.masterKey, defaultKey, opts);
}
