import type { Request } from 'express';
import { NAME_PATTERN, ScopeSchema, describeIssues, type Scope } from '../alarm/model.js';
import { AlarmCenterError, Codes } from '../errors.js';

export const DOMAIN_HEADER = 'x-domain-name';
export const DEFAULT_DOMAIN = 'default';
export const DEFAULT_PROJECT = 'default';

/** The request's scope: domain from `x-domain-name` (default `default`), project from the path. */
export function scopeOf(req: Request): Scope {
  const domain = req.get(DOMAIN_HEADER) ?? DEFAULT_DOMAIN;
  const project = (req.params as Record<string, string | undefined>).project ?? DEFAULT_PROJECT;
  // The common case is checked without building a zod result; zod only words the error.
  if (NAME_PATTERN.test(domain) && NAME_PATTERN.test(project)) return { domain, project };
  const r = ScopeSchema.safeParse({ domain, project });
  if (!r.success) {
    const detail = describeIssues(r.error).replace(/^domain:/, `${DOMAIN_HEADER}:`);
    throw new AlarmCenterError(Codes.InvalidParams, detail);
  }
  return r.data;
}
