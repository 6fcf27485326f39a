import { NAME_PATTERN, ScopeSchema, describeIssues, type Scope } from '../alarm/model.js';
import { AlarmCenterError, Codes } from '../errors.js';

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
