/**
 * The Alertmanagers alarms are forwarded to, as the settings give them: a URL, or
 * `{url, bearerToken?, basicAuth?: {username, password}}`. Tokens and passwords are secrets: no
 * message here repeats a value, and the URL an Alertmanager is named by (in logs and metrics)
 * holds no credentials.
 */
import { z } from 'zod';

/** One Alertmanager, checked: its URL without credentials, and how to authenticate to it. */
export interface AlertmanagerEntry {
  /** `http(s)://host:port[/prefix]`, without user, password or a trailing slash. */
  url: string;
  bearerToken?: string;
  basicAuth?: { username: string; password: string };
}

/** Where and how alerts are posted to one Alertmanager. */
export interface AlertmanagerTarget {
  /** `{url}/api/v2/alerts`. */
  endpoint: string;
  /** The URL without credentials: the Alertmanager's name in logs and metrics. */
  name: string;
  headers: Record<string, string>;
}

const URL_MESSAGE = 'must be an http:// or https:// URL without query or fragment';

/** The URL, when it is an http(s) URL without query or fragment. */
function httpUrl(text: string): URL | undefined {
  if (!URL.canParse(text)) return undefined;
  const url = new URL(text);
  const ok = (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.search === '' && url.hash === '';
  return ok ? url : undefined;
}

const EntryObject = z.strictObject({
  url: z.string().refine((v) => httpUrl(v) !== undefined, URL_MESSAGE),
  bearerToken: z.string().min(1, 'must not be empty').optional(),
  basicAuth: z.strictObject({ username: z.string().min(1, 'must not be empty'), password: z.string() }).optional(),
});

/**
 * One Alertmanager: a URL string is `{url}`; a user and password in the URL are taken as its
 * `basicAuth`. At most one way to authenticate is given.
 */
export const AlertmanagerEntrySchema = z.preprocess(
  (v) => (typeof v === 'string' ? { url: v.trim() } : v),
  EntryObject.transform((entry, ctx): AlertmanagerEntry => {
    const url = httpUrl(entry.url) as URL;
    const inUrl = url.username !== '' || url.password !== '';
    const ways = [entry.bearerToken !== undefined, entry.basicAuth !== undefined, inUrl].filter(Boolean).length;
    if (ways > 1) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'give one of bearerToken, basicAuth, or a user and password in the URL' });
      return z.NEVER;
    }
    const basicAuth = inUrl ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : entry.basicAuth;
    url.username = '';
    url.password = '';
    return {
      url: url.toString().replace(/\/+$/, ''),
      ...(entry.bearerToken !== undefined && { bearerToken: entry.bearerToken }),
      ...(basicAuth !== undefined && { basicAuth }),
    };
  }),
);

/** The Alertmanagers: a list of entries, each URL at most once. */
export const AlertmanagersSchema = z.array(AlertmanagerEntrySchema).superRefine((entries, ctx) => {
  const seen = new Map<string, number>();
  entries.forEach((e, i) => {
    const first = seen.get(e.url);
    if (first === undefined) seen.set(e.url, i);
    else ctx.addIssue({ code: 'custom', path: [i, 'url'], message: `the same Alertmanager as entry [${first}]` });
  });
});

/** Where and how to post to the Alertmanager of an entry. */
export function targetOf(entry: AlertmanagerEntry): AlertmanagerTarget {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (entry.bearerToken !== undefined) headers.authorization = `Bearer ${entry.bearerToken}`;
  if (entry.basicAuth !== undefined) {
    const { username, password } = entry.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
  }
  return { endpoint: `${entry.url}/api/v2/alerts`, name: entry.url, headers };
}
