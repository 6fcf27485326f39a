import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import { NAME_PATTERN, ScopeSchema, describeIssues, type Scope } from '../alarm/model.js';
import { AlarmCenterError, Codes } from '../errors.js';
import { headerOf, pathOf } from './request.js';

export const DOMAIN_HEADER = 'x-domain-name';
export const DEFAULT_DOMAIN = 'default';
export const DEFAULT_PROJECT = 'default';

/** Checks a domain and project; 400001 naming `x-domain-name` or `project` when one is invalid. */
export function scopeFromNames(domain: string, project: string): Scope {
  // The common case is checked without building a zod result; zod only words the error.
  if (NAME_PATTERN.test(domain) && NAME_PATTERN.test(project)) return { domain, project };
  const r = ScopeSchema.safeParse({ domain, project });
  if (!r.success) {
    const detail = describeIssues(r.error).replace(/^domain:/, `${DOMAIN_HEADER}:`);
    throw new AlarmCenterError(Codes.InvalidParams, detail);
  }
  return r.data;
}

/** The request's scope: domain from `x-domain-name` (default `default`), project from the path. */
export function scopeOf(req: Request): Scope {
  const project = (req.params as Record<string, string | undefined>).project ?? DEFAULT_PROJECT;
  return scopeFromNames(req.get(DOMAIN_HEADER) ?? DEFAULT_DOMAIN, project);
}

/**
 * The project a `/v4/{project}/…` path names, percent-decoded; undefined when the path names none,
 * 400001 when its encoding is malformed. For requests no express route has parsed.
 */
export function projectOfPath(path: string): string | undefined {
  const raw = /^\/v4\/([^/]+)\//.exec(path)?.[1];
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new AlarmCenterError(Codes.InvalidParams, 'project: malformed percent-encoding');
  }
}

/**
 * The scope a request was about, read from its path once its route params are gone (in the
 * error handler): the default scope when the path names none or an invalid one.
 */
export function scopeOfPath(req: IncomingMessage): Scope {
  try {
    return scopeFromNames(headerOf(req, DOMAIN_HEADER) ?? DEFAULT_DOMAIN, projectOfPath(pathOf(req)) ?? DEFAULT_PROJECT);
  } catch {
    return { domain: DEFAULT_DOMAIN, project: DEFAULT_PROJECT };
  }
}
