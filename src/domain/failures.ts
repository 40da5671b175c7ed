/**
 * Names of the failure types that cross the activity/workflow boundary. The workflow's retry policy
 * lists the non-retryable ones; connectors and activities throw them; tests match on them.
 */
export const failureTypes = {
  /** A permanent problem in a target system (missing table, bad credentials, a 4xx answer): an operator must act. */
  nonRetryableConnector: 'NonRetryableConnectorError',
  /** The worker's catalog cannot serve the task (unknown system, no connector for its kind). */
  configuration: 'ConfigurationError',
  /** A problem that retrying can cure (refused connection, timeout, 5xx). */
  transientConnector: 'TransientConnectorError',
  /**
   * The task's identifiers break the engine's rules (a request from before a rule, or a workflow started by
   * hand): nothing is matched. Non-retryable by its own flag.
   */
  invalidSubject: 'InvalidSubjectError',
  /** A first run was started with `carried` state (only a continued run may carry state): refused, non-retryable. */
  carriedStateRefused: 'CarriedStateRefusedError',
  /**
   * The task's plan for a system says something else than the worker's catalog (an entry edited since the
   * request was accepted, or a plan not written by the intake): nothing is touched. Non-retryable by its own flag.
   */
  planMismatch: 'PlanMismatchError',
  /** A certificate was asked for a request the ledger never received (or under another workflow id): refused. */
  requestNotReceived: 'RequestNotReceivedError',
  /** A workflow input the engine's codec did not seal (plain JSON started by hand): the run fails, doing nothing. */
  unsealedInput: 'UnsealedInputError',
  /**
   * The system is paused for every request (`POST /systems/{id}/pause`): the activity touched nothing. The lane
   * waits for the resume without spending a retry; non-retryable by its own flag.
   */
  systemPaused: 'SystemPausedError',
} as const;

/** Failure types that Temporal must not retry. */
export const nonRetryableFailureTypes: string[] = [failureTypes.nonRetryableConnector, failureTypes.configuration];
