/**
 * Elasticsearch: delete-by-query (or search + `_bulk` where the cluster lacks it) on the keyword field
 * that holds the identifier (./connector.ts). The plan keeps the index, the match and the query shape;
 * the node URL and the credentials stay in the worker.
 */
import { checkThrough, defineSystem } from '../descriptor';
import { elasticsearchSystemSchema, type ElasticsearchSystem } from './schema';

// Loaded on first use: the API and the CLI validate catalogs through the registry without loading the client.
const connector = (system: ElasticsearchSystem) => (require('./connector') as typeof import('./connector')).elasticsearchConnector(system);

export const elasticsearch = defineSystem({
  kind: 'elasticsearch',
  schema: elasticsearchSystemSchema,
  planFields: ['index', 'match', 'query', 'scrollSize', 'requestsPerSecond', 'pollIntervalMs'],
  tuning: ['scrollSize', 'requestsPerSecond', 'pollIntervalMs'],
  // A node URL may carry credentials (http://user:password@host:9200).
  secrets: ['node', 'username', 'password', 'apiKey'],
  plan: () => ({ mode: 'automated', softDelete: false, notify: false, reminderEveryDays: undefined }),
  connector,
  check: checkThrough(connector),
});

export type { ElasticsearchSystem } from './schema';
