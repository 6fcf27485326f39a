/**
 * Parts of the settings that several components declare for themselves: lists of named entries
 * that only a config file gives (webhooks, checks), their http(s) URLs, and URLs shown without
 * their credentials. A
 * shared leaf: it imports nothing of the project.
 */
import { z } from 'zod';

/**
 * A list of `entry` objects, each named (`what` says what one is: "webhook", "check"), the names
 * unique; none by default. A list of objects, so only a config file gives it: the text of an
 * environment variable is refused.
 */
export function namedList<T extends z.ZodType<{ name: string }>>(entry: T, what: string) {
  return z
    .array(entry, { error: (issue) => (typeof issue.input === 'string' ? `must be a list of ${what}s, given in the config file` : undefined) })
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        if (seen.has(item.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `another ${what} is named ${item.name}` });
        seen.add(item.name);
      });
    })
    .default([]);
}

/** An absolute http:// or https:// URL with a host (a webhook's, a check's). */
export const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}, 'must be an absolute http:// or https:// URL');

/** The URL without its user name and password, for answers, alarms and logs. */
export function publicUrl(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}
