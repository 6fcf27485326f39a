/**
 * The baseline of the HTTP comparisons: a bare express 5 server with the JSON body parser and two
 * routes answering the same shapes as Alarm Center (a raise answer, a 10-alarm list), doing no
 * validation and no storage. Started like Alarm Center's server (`--host`, `--port`), it prints
 * a JSON line with `"message":"listening"` and its url, and stops on SIGTERM or SIGINT.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import express from 'express';
import { serve } from './child-server.js';
import { DETAIL } from './payloads.js';

const PATH = '/v4/default/admin/alarms';

interface RaiseBody {
  id?: unknown;
  source?: unknown;
  fields?: unknown;
}

/** An alarm in Alarm Center's JSON form. */
function alarmJson(id: unknown, source: unknown, fields: unknown, revision: number): Record<string, unknown> {
  const now = new Date().toISOString();
  return { id, status: 'ACTIVATED', fields, source, severity: 'indeterminate', count: 1, raisedAt: now, updatedAt: now, revision };
}

/** The express app: POST answers like a raise, GET answers a fixed 10-alarm list. */
export function createBareApp(): express.Express {
  const app = express();
  app.use(express.json());
  const list = {
    alarms: Array.from({ length: 10 }, (_, i) => alarmJson('BackendConnectionRefuse', `svc-${i}`, { detail: DETAIL }, i + 1)),
    revision: 10,
  };
  let revision = 0;
  app.post(PATH, (req, res) => {
    const body = (req.body ?? {}) as RaiseBody;
    revision += 1;
    res.json({ alarms: [alarmJson(body.id, body.source ?? '', body.fields ?? {}, revision)], revision });
  });
  app.get(PATH, (_req, res) => {
    res.json(list);
  });
  return app;
}

function main(): void {
  const { values } = parseArgs({ options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } } });
  serve(http.createServer(createBareApp()), values.host, values.port);
}

main();
