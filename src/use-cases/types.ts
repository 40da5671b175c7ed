/** What the use cases are built from: the ledger, Temporal, certificates and metrics, passed in once. */
import type { Client } from '@temporalio/client';
import type { Attestor } from '../attestation';
import type { BatchRepository } from '../ledger/batches';
import type { PauseRepository } from '../ledger/pauses';
import type { IntakeDeps } from '../intake/intake';
import type { RequestRepository } from '../ledger/requests';
import type { Logger } from '../logger';
import type { ConnectorFactory, SystemKind } from '../systems/registry';
import type { EngineMetrics } from '../metrics';

/** Reads certificates and the public keys that verify them. */
export interface CertificateReader {
  get(requestId: string): Promise<unknown | undefined>;
  jwks(): Promise<unknown>;
}

export interface UseCaseDeps {
  /** The ledger's requests; the intake uses these too. */
  requests: RequestRepository;
  /**
   * The intake's own settings (src/intake); its repository, Temporal client and logger are the ones above,
   * as in `submitErasure({ ...deps.intake, requests: deps.requests, client: deps.client, logger: deps.logger }, body)`.
   */
  intake: Omit<IntakeDeps, 'requests' | 'client' | 'logger'>;
  client: Client;
  namespace: string;
  certificates: CertificateReader;
  metrics: EngineMetrics;
  logger: Logger;
  /** Claims the authenticated API key for each operator action (src/attestation); without it actions carry no claim. */
  attestor?: Attestor;
  /** The ledger's bulk batches (src/ledger/batches.ts); bulk actions need it (and the attestor). */
  batches?: BatchRepository;
  /** Systems paused for every request (src/ledger/pauses.ts); pausing needs it. */
  pauses?: PauseRepository;
  /** Resolves when the ledger database answers (readiness). */
  pingDatabase(): Promise<void>;
  /**
   * Connector factories per kind for `preview` (default: the registry's); a map given here replaces it whole,
   * as the worker's does (tests inject their own).
   */
  connectors?: Partial<Record<SystemKind, ConnectorFactory>>;
  /** How long to wait for Temporal, in ms (defaults: status query 5 s, operator action and list 10 s, readiness 2 s). */
  timeouts?: { statusMs?: number; actionMs?: number; listMs?: number; readinessMs?: number };
}
