/**
 * The secrets of the catalog's `notify` blocks (each chat webhook's URL, which may carry a token, and its
 * signing secret), for the production check that refuses example values shipped with the engine, as it
 * does for the systems' own secrets (src/catalog/load.ts).
 */
import type { Catalog } from '../catalog/schema';

/** Where each notify webhook secret sits in the catalog, and its value. */
export function notifySecretFields(catalog: Catalog): Array<{ path: PropertyKey[]; value: string }> {
  const out: Array<{ path: PropertyKey[]; value: string }> = [];
  const add = (at: PropertyKey[], hook: { url: string; secret: string } | undefined) => {
    if (!hook) return;
    out.push({ path: [...at, 'notify', 'webhook', 'url'], value: hook.url }, { path: [...at, 'notify', 'webhook', 'secret'], value: hook.secret });
  };
  catalog.systems.forEach((s, i) => add(['systems', i], s.notify?.webhook));
  catalog.consumers.forEach((c, i) => add(['consumers', i], c.notify?.webhook));
  add(['escalation'], catalog.escalation?.notify.webhook);
  return out;
}

/**
 * The notify secrets holding a refused value, each named by the `${VAR}`s it was written with.
 * @example problems.push(...refusedNotifySecrets(catalog, raw, isExampleSecret));
 */
export function refusedNotifySecrets(catalog: Catalog, raw: unknown, refused: (value: string) => boolean): Array<{ path: PropertyKey[]; message: string }> {
  return notifySecretFields(catalog)
    .filter((f) => refused(f.value))
    .map(({ path }) => {
      const written = path.reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined), raw);
      const names = typeof written === 'string' ? [...written.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]) : [];
      const what = names.length ? `environment variable ${names.join(', ')} holds` : 'holds';
      return { path, message: `${what} an example value shipped with the engine, which anyone can read; set a secret of your own (openssl rand -hex 32)` };
    });
}
