/**
 * Checks the access token the Web UI forwards to the codec server ("pass access token"): a JWT issued by the
 * operators' identity provider, verified with `jose` against the provider's published keys (JWKS), its
 * issuer, its audience and optionally one required claim (a group or role). The operator it names becomes
 * the actor of the decode's audit records.
 *
 * Only JWT access tokens can be checked here; a provider that issues opaque access tokens (Google, for one)
 * cannot put the codec server behind the login this way.
 */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';

/** How to check forwarded access tokens; built from the `CODEC_OIDC_*` variables by {@link oidcSettingsFrom}. */
export interface OidcSettings {
  /** The `iss` every token must carry (the provider's issuer URL). */
  issuer: string;
  /** Where the provider publishes its signing keys (`jwks_uri` of its `.well-known/openid-configuration`). */
  jwksUrl: string;
  /** An `aud` the token must name: the codec server's own audience, so a token for another API is refused. */
  audience: string;
  /** A claim the token must hold, `name=value` (`groups=erasure-operators`, `realm_access.roles=ops`). */
  requiredClaim?: string;
}

/** Why a forwarded token was refused; `status` 401 (not a valid token), 403 (valid, not allowed) or 503. */
export class AccessTokenError extends Error {
  override readonly name = 'AccessTokenError';
  constructor(
    readonly status: 401 | 403 | 503,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Who a verified token names: `oidc:<sub>` (or `oidc:<email>` for a token without `sub`). */
export interface OidcIdentity {
  actor: string;
}

/** Verifies one forwarded access token. */
export type AccessTokenVerifier = (token: string) => Promise<OidcIdentity>;

// Asymmetric algorithms only: a provider signs with its private key; the codec server holds no secret.
const algorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** True for something shaped like a compact JWS (three base64url parts), i.e. worth verifying as a JWT. */
export const looksLikeJwt = (token: string): boolean => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);

function parseRequiredClaim(spec: string): { path: string[]; value: string } {
  const at = spec.indexOf('=');
  const name = spec.slice(0, at).trim();
  const value = spec.slice(at + 1).trim();
  if (at <= 0 || !name || !value) throw new Error('CODEC_OIDC_REQUIRED_CLAIM must be name=value, e.g. groups=erasure-operators');
  return { path: name.split('.'), value };
}

function holdsClaim(payload: JWTPayload, path: readonly string[], value: string): boolean {
  let v: unknown = payload;
  for (const key of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  if (typeof v === 'string') return v === value || v.split(' ').includes(value); // `scope` is space-separated
  return Array.isArray(v) && v.includes(value);
}

/** Our own words for jose's failures: fixed sentences that never quote the token or its claims. */
function refusal(err: unknown): AccessTokenError {
  const invalid = (why: string) => new AccessTokenError(401, `codec server: the access token ${why}`, { cause: err });
  if (err instanceof joseErrors.JWTExpired) return invalid('has expired: sign in to the Web UI again');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return invalid('was not issued by the configured identity provider (CODEC_OIDC_ISSUER)');
    if (err.claim === 'aud') return invalid('is not meant for the codec server (its audience is not CODEC_OIDC_AUDIENCE)');
    if (err.claim === 'nbf' || err.claim === 'iat') return invalid('is not valid yet');
    return invalid(`has an invalid "${err.claim}" claim`);
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey) return invalid("is signed by a key the identity provider does not publish (CODEC_OIDC_JWKS_URL)");
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return invalid("has a signature that does not verify with the identity provider's keys");
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return invalid('is signed with an algorithm the codec server does not accept');
  if (err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JOSENotSupported) return invalid('is not a well-formed signed JWT');
  // Anything else is the key set itself: unreachable, timed out, or not a JWKS. The token may be fine.
  return new AccessTokenError(503, "codec server: the identity provider's signing keys (CODEC_OIDC_JWKS_URL) could not be read; try again", { cause: err });
}

/**
 * Builds the verifier. Keys are fetched on first use and cached by `jose`, which fetches again when a token
 * names a key it does not know (the provider rotated its keys).
 * @example const verify = createAccessTokenVerifier({ issuer, jwksUrl, audience }); const { actor } = await verify(token);
 */
export function createAccessTokenVerifier(settings: OidcSettings): AccessTokenVerifier {
  const keys = createRemoteJWKSet(new URL(settings.jwksUrl));
  const required = settings.requiredClaim ? parseRequiredClaim(settings.requiredClaim) : undefined;
  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, { issuer: settings.issuer, audience: settings.audience, algorithms, requiredClaims: ['exp'] }));
    } catch (err) {
      throw refusal(err);
    }
    const who = typeof payload.sub === 'string' && payload.sub ? payload.sub : typeof payload.email === 'string' && payload.email ? payload.email : undefined;
    if (!who) throw new AccessTokenError(401, 'codec server: the access token names no operator (no "sub" or "email" claim)');
    if (required && !holdsClaim(payload, required.path, required.value)) {
      throw new AccessTokenError(403, `codec server: the access token lacks the claim CODEC_OIDC_REQUIRED_CLAIM asks for ("${required.path.join('.')}")`);
    }
    return { actor: `oidc:${who}` };
  };
}

/** The `CODEC_OIDC_*` variables as the validated configuration holds them. */
export interface OidcVariables {
  CODEC_OIDC_ISSUER?: string;
  CODEC_OIDC_JWKS_URL?: string;
  CODEC_OIDC_AUDIENCE?: string;
  CODEC_OIDC_REQUIRED_CLAIM?: string;
}

/**
 * The OIDC settings, or undefined when no `CODEC_OIDC_*` variable is set. Issuer, JWKS URL and audience go
 * together: any one without the others stops the process, naming the missing ones.
 * @example const oidc = oidcSettingsFrom(engine.config);
 */
export function oidcSettingsFrom(config: OidcVariables): OidcSettings | undefined {
  const { CODEC_OIDC_ISSUER: issuer, CODEC_OIDC_JWKS_URL: jwksUrl, CODEC_OIDC_AUDIENCE: audience, CODEC_OIDC_REQUIRED_CLAIM: requiredClaim } = config;
  if (!issuer && !jwksUrl && !audience && !requiredClaim) return undefined;
  const missing = Object.entries({ CODEC_OIDC_ISSUER: issuer, CODEC_OIDC_JWKS_URL: jwksUrl, CODEC_OIDC_AUDIENCE: audience })
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length) throw new Error(`codec server OIDC: ${missing.join(', ')} must be set too (issuer, JWKS URL and audience go together)`);
  if (requiredClaim) parseRequiredClaim(requiredClaim);
  return { issuer: issuer as string, jwksUrl: jwksUrl as string, audience: audience as string, requiredClaim };
}
