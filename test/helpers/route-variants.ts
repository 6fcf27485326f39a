/**
 * Shared by the tests that send every route of the route table under variants of its path: the
 * tokens and credentials they call with, the route's own path, the body a route that reads one
 * is sent, and the alarms every request starts from.
 */
import { hashToken, type TokenSpec } from '../../src/http/auth.js';
import type { Route } from '../../src/http/route-table.js';
import type { RunningServer } from '../../src/root.js';

export const TOKENS = { read: 'v-read-1', write: 'v-write-2', admin: 'v-admin-3', other: 'v-other-4' };

export const SPECS: TokenSpec[] = [
  { name: 'reader', role: 'read', sha256: hashToken(TOKENS.read) },
  { name: 'writer', role: 'write', sha256: hashToken(TOKENS.write) },
  { name: 'boss', role: 'admin', sha256: hashToken(TOKENS.admin) },
  // An admin of another project: every scoped route of p1 is forbidden to it.
  { name: 'p2-only', role: 'admin', sha256: hashToken(TOKENS.other), scopes: ['default/p2'] },
];

export const CREDENTIALS = ['none', 'bad', 'read', 'write', 'admin', 'other'] as const;
export type Credential = (typeof CREDENTIALS)[number];

/** The scope the routes' own paths name. */
export const P1 = { domain: 'default', project: 'p1' };

/** The Authorization header of a credential. */
export function authorization(c: Credential): Record<string, string> {
  if (c === 'none') return {};
  if (c === 'bad') return { authorization: 'Bearer not-a-token' };
  return { authorization: `Bearer ${TOKENS[c]}` };
}

/** The route's own path: its template with project p1, alarm A and check ping. */
export function canonicalPath(route: Route): string {
  return route.template.replace(':project', 'p1').replace(':id', 'A').replace(':check', 'ping');
}

const ALERTS = JSON.stringify([{ labels: { alertname: 'B', instance: 'h1' } }]);
const WEBHOOK = JSON.stringify({ version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'B', instance: 'h1' } }] });
/** A trigger whose routing key is the write token: without an Authorization header, it is the token. */
const PAGERDUTY = JSON.stringify({ routing_key: TOKENS.write, event_action: 'trigger', dedup_key: 'k1', payload: { summary: 's', source: 'h', severity: 'info' } });

const BODIES: Record<string, string> = {
  'POST /v4/:project/admin/alarms': '{"id":"B"}',
  'POST /v4/:project/admin/alarms/clear': '{"ids":["A"]}',
  'POST /v4/:project/admin/alarms/:id/ack': '{"by":"ops"}',
  'POST /api/v2/alerts': ALERTS,
  'POST /v4/:project/api/v2/alerts': ALERTS,
  'POST /v4/:project/integrations/alertmanager': WEBHOOK,
  'POST /v4/:project/integrations/pagerduty': PAGERDUTY,
  'POST /v2/enqueue': PAGERDUTY,
};

/** A valid JSON body for a route that reads one. */
export function bodyOf(route: Route): string | undefined {
  return BODIES[`${route.method} ${route.template}`];
}

/** Puts p1 back to one ACTIVATED alarm A; answers the store revision then. */
export async function resetP1(server: RunningServer): Promise<number> {
  await server.center.clearAll(P1);
  await server.center.raise(P1, { id: 'A', fields: { detail: 'x' } });
  return server.parts.index.revision;
}

/** The `errorCode` of an answer's text, if it is an error body. */
export function errorCodeOf(text: string): string | undefined {
  try {
    return (JSON.parse(text) as { errorCode?: string }).errorCode;
  } catch {
    return undefined;
  }
}
