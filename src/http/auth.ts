/**
 * Authentication and authorization: bearer tokens, each with a role and optionally restricted to
 * some domains/projects. Only SHA-256 digests of tokens are kept; a presented token is hashed
 * and compared with every digest in constant time, so neither its content nor which entry it
 * matched shows in the timing. Tokens are never logged: the request log names the token's `name`.
 */
import crypto from 'node:crypto';
import type { Scope } from '../alarm/model.js';
import { AlarmCenterError, Codes } from '../errors.js';

export const ROLES = ['read', 'write', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { read: 1, write: 2, admin: 3 };

/** A configured token: its digest, role, a name for logs, and the scopes it may touch. */
export interface TokenSpec {
  name?: string;
  role: Role;
  /** Hex SHA-256 of the token. */
  sha256: string;
  /** `domain/project` or `domain/*`; every scope when absent. */
  scopes?: string[];
}

/** The token a request authenticated with. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
  readonly scopes: readonly string[] | undefined;
}

/** The digest under which a token is configured: `sha256` of the config file. */
export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Reads `role:TOKEN,role:TOKEN` (ALARM_CENTER_TOKENS) into token specs, hashing each token at once.
 * White space around an entry is ignored; within a token it is refused, as is any control
 * character: a client cannot send such a token in a bearer header, so it would lock everyone out.
 */
export function parseTokenList(text: string): TokenSpec[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry, i) => {
      const colon = entry.indexOf(':');
      const role = entry.slice(0, colon);
      const token = entry.slice(colon + 1);
      // The entry itself is a secret: the messages name its position and name, never its text.
      if (colon < 0 || !(ROLES as readonly string[]).includes(role) || token === '') {
        throw new Error(`entry ${i + 1} must be role:TOKEN with role read, write or admin`);
      }
      const name = `env-${i + 1}-${role}`;
      // eslint-disable-next-line no-control-regex
      if (/[\s\u0000-\u001f\u007f]/.test(token)) {
        throw new Error(`entry ${i + 1} (${name}): the token contains white space or a control character, which no client can send`);
      }
      return { name, role: role as Role, sha256: hashToken(token) };
    });
}

interface Entry {
  digest: Buffer;
  principal: Principal;
}

/** What a request needs: nothing (open), or a role. */
export type Requirement = 'open' | Role;

/** The configured tokens; empty means authentication is off. */
export class TokenRegistry {
  private readonly entries: Entry[];

  constructor(specs: readonly TokenSpec[]) {
    this.entries = specs.map((s, i) => ({
      digest: Buffer.from(s.sha256, 'hex'),
      principal: { name: s.name ?? `token-${i + 1}`, role: s.role, scopes: s.scopes },
    }));
  }

  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /** The principal of a token; every entry is compared, in constant time. */
  find(token: string): Principal | undefined {
    const digest = crypto.createHash('sha256').update(token, 'utf8').digest();
    let found: Principal | undefined;
    for (const e of this.entries) {
      if (crypto.timingSafeEqual(digest, e.digest) && !found) found = e.principal;
    }
    return found;
  }

  /**
   * Checks a request's Authorization header against a requirement: 401002 when the token is
   * missing or unknown, 403001 when its role is too low or the scope is not among its scopes.
   * Answers the principal (undefined for open routes or when authentication is off).
   */
  authorize(header: string | undefined, need: Requirement, scope: Scope | undefined): Principal | undefined {
    if (!this.enabled || need === 'open') return undefined;
    const match = header === undefined ? null : /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
    if (!match) {
      throw new AlarmCenterError(Codes.Unauthorized, header === undefined ? 'authorization: a bearer token is required' : 'authorization: must be "Bearer <token>"');
    }
    return this.authorizeToken(match[1] as string, need, scope, 'authorization');
  }

  /**
   * Checks a token a request carries elsewhere than its Authorization header (`field` names
   * where, for the error's detail), as `authorize` checks the header's.
   */
  authorizeToken(token: string | undefined, need: Requirement, scope: Scope | undefined, field: string): Principal | undefined {
    if (!this.enabled || need === 'open') return undefined;
    if (token === undefined || token === '') throw new AlarmCenterError(Codes.Unauthorized, `${field}: a token is required`);
    const principal = this.find(token);
    if (!principal) throw new AlarmCenterError(Codes.Unauthorized, `${field}: unknown token`);
    if (RANK[principal.role] < RANK[need]) {
      throw new AlarmCenterError(Codes.Forbidden, `token ${principal.name} has role ${principal.role}; this needs ${need}`);
    }
    if (scope && principal.scopes && !principal.scopes.some((s) => covers(s, scope))) {
      throw new AlarmCenterError(Codes.Forbidden, `token ${principal.name} may not use domain ${scope.domain}, project ${scope.project}`);
    }
    return principal;
  }
}

function covers(pattern: string, scope: Scope): boolean {
  const slash = pattern.indexOf('/');
  const domain = pattern.slice(0, slash);
  const project = pattern.slice(slash + 1);
  return (domain === '*' || domain === scope.domain) && (project === '*' || project === scope.project);
}
