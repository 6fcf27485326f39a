/**
 * The baseline of the HTTP comparisons: a bare express 5 server with the JSON body parser and two
 * routes answering the same shapes as Alarm Center (a raise answer, a 10-alarm list), doing no
 * validation and no storage. Started like Alarm Center's server (`--host`, `--port`), it prints
 * a JSON line with `"message":"listening"` and its url, and stops on SIGTERM or SIGINT.
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import express from 'express';
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
  const server = createBareApp().listen(Number(values.port), values.host, () => {
    const { port } = server.address() as AddressInfo;
    const url = `http://${values.host}:${port}`;
    process.stdout.write(`${JSON.stringify({ level: 'info', message: 'listening', url })}\n`);
  });
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main();
