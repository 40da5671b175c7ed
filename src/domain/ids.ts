/**
 * How a request id and its workflow id relate: one workflow per request, id `erasure-<requestId>`. Here, not
 * in the workflow's definitions, so that connectors and the codec can name a workflow without loading the
 * workflow SDK.
 */

/** Workflow id prefix: one workflow per request, id `erasure-<requestId>`. */
export const ERASURE_WORKFLOW_PREFIX = 'erasure-';

/**
 * The workflow id of a request.
 * @example workflowIdFor('req-1') // 'erasure-req-1'
 */
export const workflowIdFor = (requestId: string): string => `${ERASURE_WORKFLOW_PREFIX}${requestId}`;

/**
 * The request id inside a workflow id (the inverse of {@link workflowIdFor}); an id without the prefix is
 * returned as it is.
 * @example requestIdOf('erasure-req-1') // 'req-1'
 */
export const requestIdOf = (workflowId: string): string =>
  workflowId.startsWith(ERASURE_WORKFLOW_PREFIX) ? workflowId.slice(ERASURE_WORKFLOW_PREFIX.length) : workflowId;
