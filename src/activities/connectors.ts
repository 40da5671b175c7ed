/**
 * The connector for each kind of system, as `createActivities` expects them. Manual systems have no
 * connector: the workflow waits for a person's `confirmDeletion` signal.
 * @example createActivities({ ...deps, connectors: defaultConnectors })
 */
import type { SystemConfig } from '../catalog/schema';
import type { Connector, ConnectorFactory } from './index';
import { postgresConnector } from './postgres';
import { s3Connector } from './s3';
import { elasticsearchConnector } from './elasticsearch';
import { webhookConnector } from './webhook';

/** A connector that can also report whether its system is reachable and shaped as the catalog says. */
export interface CheckableConnector extends Connector {
  /** Connects and checks what the catalog declares; resolves to a one-line summary or throws. */
  check(): Promise<string>;
  /** Releases pools and sockets. */
  close(): Promise<void>;
}

/** Builds a connector for any automated kind; undefined for manual systems. */
export function connectorFor(system: SystemConfig): CheckableConnector | undefined {
  switch (system.kind) {
    case 'postgres':
      return postgresConnector(system);
    case 's3':
      return s3Connector(system);
    case 'elasticsearch':
      return elasticsearchConnector(system);
    case 'webhook':
      return webhookConnector(system);
    case 'manual':
      return undefined;
  }
}

const only = <K extends SystemConfig['kind']>(kind: K, build: (s: Extract<SystemConfig, { kind: K }>) => CheckableConnector): ConnectorFactory =>
  (system) => {
    if (system.kind !== kind) throw new Error(`connector for ${kind} given a ${system.kind} system ("${system.id}")`);
    return build(system as Extract<SystemConfig, { kind: K }>);
  };

/** The factories the worker registers. */
export const defaultConnectors: Partial<Record<SystemConfig['kind'], ConnectorFactory>> = {
  postgres: only('postgres', postgresConnector),
  s3: only('s3', s3Connector),
  elasticsearch: only('elasticsearch', elasticsearchConnector),
  webhook: only('webhook', webhookConnector),
};
