/**
 * The kinds of system the engine can erase from. Placeholder until the registry (./registry.ts) derives
 * the list from the descriptors.
 */
export const systemKinds = ['postgres', 's3', 'elasticsearch', 'webhook', 'manual'] as const;
export type SystemKind = (typeof systemKinds)[number];
