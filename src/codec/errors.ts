/**
 * Errors of the payload encryption layer. Messages name key ids, request ids and environment variables,
 * never a payload's content, so they are safe to log and to show in the Web UI.
 */

/** The master key is missing, malformed, or not the one this engine database was set up with. */
export class MasterKeyError extends Error {
  override readonly name = 'MasterKeyError';
}

/** The key tables are missing or hold something the key store cannot use (run the migrations first). */
export class KeyStoreError extends Error {
  override readonly name = 'KeyStoreError';
}

/** An encrypted payload names a key id that this engine database never had (wrong database?). */
export class UnknownDataKeyError extends Error {
  override readonly name = 'UnknownDataKeyError';
  constructor(readonly keyId: string) {
    super(`data key ${keyId} is not in this engine database: the payload was encrypted by another engine database, or the key rows were removed by hand`);
  }
}

/** AES-GCM authentication failed: the ciphertext, its IV or its key id metadata was altered. */
export class PayloadAuthenticationError extends Error {
  override readonly name = 'PayloadAuthenticationError';
  constructor(readonly keyId: string) {
    super(`encrypted payload under data key ${keyId} failed authentication: its ciphertext or metadata was altered`);
  }
}

/**
 * Refusal to encrypt a request's subject identifiers after its key was destroyed: that would put the
 * identifiers back under a key that is never shredded. Thrown, for example, when a request id is reused.
 */
export class DataKeyDestroyedError extends Error {
  override readonly name = 'DataKeyDestroyedError';
  constructor(readonly requestId: string, readonly keyId: string) {
    super(`request ${requestId} was crypto-shredded (data key ${keyId} destroyed): refusing to encrypt its subject identifiers again`);
  }
}
