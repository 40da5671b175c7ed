/**
 * Systems paused for every request (migration 035): the pause itself, read by the worker's activities before
 * they touch a system, and the log of every pause and resume with its author, for the audit trail.
 */
import { inTransaction, type Pool, type Queryable } from './db';

/** A system's current pause. */
export interface SystemPause {
  systemId: string;
  pausedAt: string;
  pausedBy: string;
  reason: string;
}

/** One pause or resume as the log keeps it. */
export interface PauseLogEntry {
  systemId: string;
  action: 'paused' | 'resumed';
  actor: string;
  reason: string | null;
  at: string;
  notified: number | null;
}

interface PauseRow {
  system_id: string;
  paused_at: Date;
  paused_by: string;
  reason: string;
}

const pauseOf = (r: PauseRow): SystemPause => ({ systemId: r.system_id, pausedAt: r.paused_at.toISOString(), pausedBy: r.paused_by, reason: r.reason });

/**
 * Pauses `systemId`, logging it; resolves to the pause in force and whether this call made it (a second
 * pause of a paused system changes nothing and logs nothing).
 * @example const { pause, created } = await pauseSystem(pool, 'crm', 'ops-alice', 'connector upgrade');
 */
export async function pauseSystem(pool: Pool, systemId: string, actor: string, reason: string): Promise<{ pause: SystemPause; created: boolean; logId?: string }> {
  return inTransaction(pool, async (c) => {
    const inserted = await c.query<PauseRow>(
      'INSERT INTO system_pauses (system_id, paused_by, reason) VALUES ($1, $2, $3) ON CONFLICT (system_id) DO NOTHING RETURNING *',
      [systemId, actor, reason],
    );
    if (inserted.rows.length === 0) {
      const { rows } = await c.query<PauseRow>('SELECT * FROM system_pauses WHERE system_id = $1', [systemId]);
      return { pause: pauseOf(rows[0]), created: false };
    }
    const log = await c.query<{ id: string }>("INSERT INTO system_pause_log (system_id, action, actor, reason) VALUES ($1, 'paused', $2, $3) RETURNING id", [systemId, actor, reason]);
    return { pause: pauseOf(inserted.rows[0]), created: true, logId: log.rows[0].id };
  });
}

/**
 * Resumes `systemId`, logging it; resolves to the pause it ended, or undefined when it was not paused.
 * @example await resumeSystem(pool, 'crm', 'ops-alice');
 */
export async function resumeSystem(pool: Pool, systemId: string, actor: string): Promise<{ ended: SystemPause; logId: string } | undefined> {
  return inTransaction(pool, async (c) => {
    const { rows } = await c.query<PauseRow>('DELETE FROM system_pauses WHERE system_id = $1 RETURNING *', [systemId]);
    if (rows.length === 0) return undefined;
    const log = await c.query<{ id: string }>("INSERT INTO system_pause_log (system_id, action, actor) VALUES ($1, 'resumed', $2) RETURNING id", [systemId, actor]);
    return { ended: pauseOf(rows[0]), logId: log.rows[0].id };
  });
}

/** Records how many running requests a pause or resume was sent to. */
export async function notePauseNotified(db: Queryable, logId: string, notified: number): Promise<void> {
  await db.query('UPDATE system_pause_log SET notified = $2 WHERE id = $1', [logId, notified]);
}

/** Every system paused now. */
export async function listPauses(db: Queryable): Promise<SystemPause[]> {
  const { rows } = await db.query<PauseRow>('SELECT * FROM system_pauses ORDER BY system_id');
  return rows.map(pauseOf);
}

/** The log of one system (or every system), newest first, at most `limit` entries. */
export async function pauseLog(db: Queryable, systemId?: string, limit = 100): Promise<PauseLogEntry[]> {
  const { rows } = await db.query<{ system_id: string; action: 'paused' | 'resumed'; actor: string; reason: string | null; at: Date; notified: number | null }>(
    'SELECT system_id, action, actor, reason, at, notified FROM system_pause_log WHERE $1::text IS NULL OR system_id = $1 ORDER BY id DESC LIMIT $2',
    [systemId ?? null, limit],
  );
  return rows.map((r) => ({ systemId: r.system_id, action: r.action, actor: r.actor, reason: r.reason, at: r.at.toISOString(), notified: r.notified }));
}

/** What the worker's activities ask before touching a system. */
export interface PauseReader {
  /** The pause in force for `systemId`, if any (at most `maxAgeMs` old). */
  pausedNow(systemId: string): Promise<SystemPause | undefined>;
}

/**
 * Reads pauses for the activities, caching the whole (small) table for `maxAgeMs` (default 2 s), so a burst
 * of erasures costs one query, and a pause reaches every worker within that time. A cached pause is read
 * again before it is answered, so a resume counts at once (a refused lane would wait for the next notice).
 * @example const pauses = pauseReader(pool); if (await pauses.pausedNow('crm')) …
 */
export function pauseReader(db: Queryable, maxAgeMs = 2_000): PauseReader {
  let cached: { at: number; pauses: Map<string, SystemPause> } | undefined;
  let loading: Promise<Map<string, SystemPause>> | undefined;
  const load = async () => new Map((await listPauses(db)).map((p) => [p.systemId, p]));
  return {
    async pausedNow(systemId) {
      if (!cached || Date.now() - cached.at > maxAgeMs) {
        loading ??= load().finally(() => {
          loading = undefined;
        });
        const at = Date.now();
        cached = { at, pauses: await loading };
      }
      if (!cached.pauses.has(systemId)) return undefined;
      // A refusal sends the lane to wait for the next resume notice, or an hour: a cached pause may have ended
      // since (the resume's own notice may be what asks now, within the cache's age), so a pause is read afresh.
      const { rows } = await db.query<PauseRow>('SELECT * FROM system_pauses WHERE system_id = $1', [systemId]);
      return rows[0] ? pauseOf(rows[0]) : undefined;
    },
  };
}

/** The pause functions over one pool, as the API's use cases take them. */
export interface PauseRepository {
  pause(systemId: string, actor: string, reason: string): ReturnType<typeof pauseSystem>;
  resume(systemId: string, actor: string): ReturnType<typeof resumeSystem>;
  noteNotified(logId: string, notified: number): Promise<void>;
  list(): Promise<SystemPause[]>;
  log(systemId?: string, limit?: number): Promise<PauseLogEntry[]>;
}

/** @example const pauses = pauseRepository(engine.pool); await pauses.pause('crm', 'ops', 'upgrade'); */
export function pauseRepository(pool: Pool): PauseRepository {
  return {
    pause: (systemId, actor, reason) => pauseSystem(pool, systemId, actor, reason),
    resume: (systemId, actor) => resumeSystem(pool, systemId, actor),
    noteNotified: (logId, notified) => notePauseNotified(pool, logId, notified),
    list: () => listPauses(pool),
    log: (systemId, limit) => pauseLog(pool, systemId, limit),
  };
}
