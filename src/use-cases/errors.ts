/**
 * The one error the use cases throw for outcomes a caller must hear about. It names what went wrong in
 * words of the engine, not of a transport: the API maps each kind to an HTTP status in its error handler,
 * another entry point (a message consumer, the CLI) maps it its own way.
 */

/**
 * `invalid`: the caller's input cannot be used; `not_found`: no such request; `conflict`: the request's
 * state forbids it; `busy`: too much is under way for this request, try again shortly; `unavailable`: a
 * dependency did not answer.
 */
export type UseCaseErrorKind = 'invalid' | 'not_found' | 'conflict' | 'busy' | 'unavailable';

export class UseCaseError extends Error {
  override readonly name = 'UseCaseError';
  /**
   * @example throw new UseCaseError('unavailable', 'Temporal did not answer; try again', {}, { cause: err });
   */
  constructor(
    readonly kind: UseCaseErrorKind,
    message: string,
    /** Safe to show a caller (request ids, statuses; never identifiers). */
    readonly detail: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
