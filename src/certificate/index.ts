/** Erasure certificates: format, canonical JSON, subject commitment, Ed25519 keys, signing, issuing. */
export * from './schema';
export { canonicalJson, sha256Hex } from './canonical';
export { commitSubject, derivedPairs, identifierDigest, matchSubject, type IdentifierMatch } from './commitment';
export { buildCertificate, CertificateRequestError, type CertificatePlacement } from './build';
export * from './keys';
export { signCertificate, verifyCertificate, certificateHash, signedBytes, type VerifyOutcome, type VerifyFailure } from './sign';
export * from './issuer';
