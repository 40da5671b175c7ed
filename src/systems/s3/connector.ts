/**
 * S3 connector (AWS S3 and S3-compatible stores such as MinIO): deletes every object under the subject's
 * key prefixes and every exact key, in DeleteObjects batches of at most 1,000. In a versioned bucket every
 * version and every delete marker goes, so nothing can be restored afterwards. Verification lists again
 * and counts what is left, in both encodings of each key (./keys.ts): an object written under the one the
 * catalog does not declare is missed by erase, and so must count as remaining. `preview` counts per template.
 */
import {
  DeleteObjectsCommand, GetBucketVersioningCommand, HeadBucketCommand, ListObjectVersionsCommand, ListObjectsV2Command,
  S3Client, type ObjectIdentifier,
} from '@aws-sdk/client-s3';
import type { EraseResult, PreviewEntry, SystemPreview, SystemTask, VerifyResult } from '../../domain';
import { templateProblem, type S3System } from './schema';
import { expandTemplate, unsafeRawPlaceholder, type Encoding } from './keys';
import { classify } from './failures';
import {
  type CheckableConnector, TransientConnectorError, attemptNumber, elapsed, evidenceFor, heartbeat, nonRetryable, resumeFrom, throwIfCancelled,
} from '../connector-kit';

export { expandTemplate, unsafeRawPlaceholder } from './keys';

/** DeleteObjects accepts at most 1,000 keys per call. */
export const S3_DELETE_BATCH = 1000;

export interface S3ConnectorOptions {
  /** Use this client instead of building one from the catalog entry (the connector will not destroy it). */
  client?: S3Client;
  /** Keys per DeleteObjects call (at most 1,000). */
  batchSize?: number;
  /** Called after each DeleteObjects call (tests use it to observe batching). */
  onBatch?: (b: { objects: number }) => void;
}

interface S3Progress {
  op: 'erase';
  /** Index into the expanded targets (prefixes, then keys). */
  target: number;
  found: number;
  erased: number;
  batches: number;
}

/** One place to look: a prefix (everything under it) or an exact key. */
interface Target {
  template: string;
  kind: 'prefix' | 'key';
  /** The expanded value; holds identifier values, so it never leaves the process. */
  value: string;
}

/**
 * What the plan snapshot says to erase. Every plan carries the parsed entry, schema defaults applied (plans
 * from before the allow-list carried the whole entry, defaults included), so nothing is defaulted here.
 */
const s3Spec = (task: SystemTask) => task.system.spec as Pick<S3System, 'bucket' | 'prefixes' | 'keys' | 'encoding'>;

/**
 * Builds the connector for one S3 system.
 * @example const c = s3Connector(catalogEntry); await c.erase(task);
 */
export function s3Connector(system: S3System, opts: S3ConnectorOptions = {}): CheckableConnector {
  const batchSize = Math.min(opts.batchSize ?? S3_DELETE_BATCH, S3_DELETE_BATCH);
  let client = opts.client;
  const ownsClient = !client;
  const getClient = () =>
    (client ??= new S3Client({
      region: system.region,
      endpoint: system.endpoint,
      forcePathStyle: system.forcePathStyle,
      credentials: system.accessKeyId
        ? { accessKeyId: system.accessKeyId, secretAccessKey: system.secretAccessKey!, sessionToken: system.sessionToken }
        : undefined,
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
    }));

  /**
   * Where the subject's objects are, in the catalog's encoding; with `both`, also in the other encoding
   * (verification and preview: an object written raw in a bucket declared `url` is still the subject's).
   */
  const targetsFor = (task: SystemTask, both = false): Target[] => {
    const spec = s3Spec(task);
    if (!spec.bucket) throw nonRetryable(system.id, 'the plan snapshot names no bucket');
    const prefixes = spec.prefixes ?? [];
    const keys = spec.keys ?? [];
    // The catalog refuses these templates, but a plan can come from elsewhere (a workflow started by hand):
    // check again before anything is listed, let alone deleted. Templates hold no identifier values.
    for (const [field, kind, templates] of [['prefixes', 'prefix', prefixes], ['keys', 'key', keys]] as const) {
      templates.forEach((template, i) => {
        const problem = templateProblem(template, kind);
        if (problem) throw nonRetryable(system.id, `${field}[${i}] "${template}" is refused: ${problem}`);
      });
    }
    if (spec.encoding === 'raw') {
      const name = unsafeRawPlaceholder([...prefixes, ...keys], task.subject, task.derived);
      if (name !== undefined) {
        throw nonRetryable(system.id, `with encoding: raw the subject's {${name}} holds "/", is "." or "..", or is blank, so its keys could reach into another subject's; nothing was listed or erased (use encoding: url)`);
      }
    }
    const encodings: Encoding[] = both ? [spec.encoding, spec.encoding === 'url' ? 'raw' : 'url'] : [spec.encoding];
    const out: Target[] = [];
    const seen = new Set<string>();
    for (const [kind, templates] of [['prefix', prefixes], ['key', keys]] as const) {
      for (const template of templates) {
        for (const encoding of encodings) {
          // A raw value holding "/" would list another subject's folder: the second encoding skips it.
          for (const value of expandTemplate(template, task.subject, encoding, task.derived, true)) {
            // Listed once, though two encodings (or two values) may spell the same key.
            if (!seen.has(`${kind}:${value}`)) out.push({ template, kind, value });
            seen.add(`${kind}:${value}`);
          }
        }
      }
    }
    return out;
  };

  /** How many objects (versions and delete markers, when versioned) lie under one target. */
  async function countUnder(bucket: string, target: Target, versioned: boolean): Promise<number> {
    let n = 0;
    let marker: Marker;
    do {
      const page = await listPage(bucket, target, versioned, marker);
      n += page.items.length;
      marker = page.next;
    } while (marker);
    return n;
  }

  /** Whether the bucket has (or had) versioning: then versions and delete markers are listed too. */
  async function isVersioned(bucket: string): Promise<boolean> {
    try {
      const res = await getClient().send(new GetBucketVersioningCommand({ Bucket: bucket }));
      return res.Status === 'Enabled' || res.Status === 'Suspended';
    } catch (err) {
      throw classify(system.id, bucket, err);
    }
  }

  /** Where the next listing page starts; undefined for the first page. */
  type Marker = { token?: string; key?: string; version?: string } | undefined;

  /** One page (at most `batchSize`) of what lies under a target: every version and delete marker when versioned. */
  async function listPage(bucket: string, target: Target, versioned: boolean, marker: Marker): Promise<{ items: ObjectIdentifier[]; next: Marker }> {
    const keep = (key: string | undefined) => key !== undefined && (target.kind === 'prefix' || key === target.value);
    try {
      if (versioned) {
        const res = await getClient().send(
          new ListObjectVersionsCommand({ Bucket: bucket, Prefix: target.value, KeyMarker: marker?.key, VersionIdMarker: marker?.version, MaxKeys: batchSize }),
        );
        const items = [...(res.Versions ?? []), ...(res.DeleteMarkers ?? [])]
          .filter((v) => keep(v.Key))
          .map((v) => ({ Key: v.Key!, VersionId: v.VersionId }));
        return { items, next: res.IsTruncated ? { key: res.NextKeyMarker, version: res.NextVersionIdMarker } : undefined };
      }
      const res = await getClient().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: target.value, ContinuationToken: marker?.token, MaxKeys: batchSize }));
      const items = (res.Contents ?? []).filter((o) => keep(o.Key)).map((o) => ({ Key: o.Key! }));
      return { items, next: res.IsTruncated ? { token: res.NextContinuationToken } : undefined };
    } catch (err) {
      throw classify(system.id, bucket, err);
    }
  }

  async function deleteBatch(bucket: string, objects: ObjectIdentifier[]): Promise<number> {
    let errors: { Code?: string }[];
    try {
      const res = await getClient().send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
      errors = res.Errors ?? [];
    } catch (err) {
      throw classify(system.id, bucket, err);
    }
    opts.onBatch?.({ objects: objects.length });
    if (errors.length > 0) {
      // Keys hold identifiers: report codes only.
      const codes = [...new Set(errors.map((e) => e.Code ?? 'unknown'))].join(', ');
      const permanent = errors.every((e) => e.Code === 'AccessDenied' || e.Code === 'InvalidRequest' || e.Code === 'MethodNotAllowed');
      const message = `${errors.length} of ${objects.length} objects could not be deleted (${codes})`;
      throw permanent ? nonRetryable(system.id, message) : new TransientConnectorError(system.id, message);
    }
    return objects.length;
  }

  const evidence = (task: SystemTask, versioned: boolean) => {
    const spec = s3Spec(task);
    return evidenceFor(system, task, {
      bucket: spec.bucket,
      prefixes: spec.prefixes,
      keys: spec.keys,
      encoding: spec.encoding,
      versioned,
    });
  };

  return {
    async erase(task): Promise<EraseResult> {
      const started = Date.now();
      const { bucket } = s3Spec(task);
      const targets = targetsFor(task);
      const versioned = await isVersioned(bucket);
      const previous = resumeFrom<S3Progress>('erase');
      const progress: S3Progress = previous ? { ...previous } : { op: 'erase', target: 0, found: 0, erased: 0, batches: 0 };
      for (; progress.target < targets.length; progress.target++) {
        // Page through the target deleting as it goes, then list it again from the start: a pass that finds
        // nothing proves the target empty (and catches objects written behind the listing). A resumed
        // attempt simply starts the target over: what earlier batches deleted is no longer listed.
        for (let pass = 1; ; pass++) {
          let marker: Marker;
          let deleted = 0;
          do {
            throwIfCancelled();
            const { items, next } = await listPage(bucket, targets[progress.target], versioned, marker);
            if (items.length > 0) {
              progress.found += items.length;
              const n = await deleteBatch(bucket, items);
              progress.erased += n;
              deleted += n;
              progress.batches++;
              heartbeat(progress);
            }
            marker = next;
          } while (marker);
          if (deleted === 0) break;
          if (pass >= 10) throw new TransientConnectorError(system.id, 'objects keep appearing under a prefix after 10 passes; will retry');
        }
        heartbeat({ ...progress, target: progress.target + 1 });
      }
      return {
        action: 'delete',
        found: progress.found,
        erased: progress.erased,
        evidenceHash: evidence(task, versioned),
        details: { durationMs: elapsed(started), batches: progress.batches, attempt: attemptNumber(), resumed: previous ? 1 : 0, versioned: versioned ? 1 : 0 },
      };
    },

    async verify(task): Promise<VerifyResult> {
      const { bucket } = s3Spec(task);
      // Both encodings: an object stored under the one the catalog does not declare is missed by erase, not here.
      const targets = targetsFor(task, true);
      const versioned = await isVersioned(bucket);
      let remaining = 0;
      for (const target of targets) remaining += await countUnder(bucket, target, versioned);
      return { remaining };
    },

    async preview(task): Promise<SystemPreview> {
      const { bucket } = s3Spec(task);
      const declared = targetsFor(task);
      const versioned = await isVersioned(bucket);
      // One entry per template (the values stay out of it), every value's objects summed.
      const entries = new Map<string, PreviewEntry>();
      const spec = s3Spec(task);
      for (const [kind, templates] of [['prefix', spec.prefixes ?? []], ['key', spec.keys ?? []]] as const) {
        for (const t of templates) entries.set(`${kind}:${t}`, { target: `${bucket}/${t}`, delete: 0, anonymize: 0, shared: 0 });
      }
      for (const target of declared) entries.get(`${target.kind}:${target.template}`)!.delete += await countUnder(bucket, target, versioned);
      const values = new Set(declared.map((t) => `${t.kind}:${t.value}`));
      let otherEncoding = 0;
      for (const target of targetsFor(task, true).filter((t) => !values.has(`${t.kind}:${t.value}`))) otherEncoding += await countUnder(bucket, target, versioned);
      const note = otherEncoding > 0
        ? `${otherEncoding} objects lie under the other encoding of the subject's keys: erase (encoding: ${spec.encoding}) leaves them and verify reports them as remaining`
        : undefined;
      return { entries: [...entries.values()], ...(note ? { note } : {}) };
    },

    async check() {
      try {
        await getClient().send(new HeadBucketCommand({ Bucket: system.bucket }));
      } catch (err) {
        throw classify(system.id, system.bucket, err);
      }
      const versioned = await isVersioned(system.bucket);
      return `bucket "${system.bucket}" reachable${versioned ? ' (versioned)' : ''}`;
    },

    async close() {
      if (ownsClient) client?.destroy();
      client = undefined;
    },
  };
}
