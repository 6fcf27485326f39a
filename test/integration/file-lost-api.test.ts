import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { DB_FILE } from '../../src/center.js';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectError, removeDir, tempDir } from '../helpers/integration.js';

const ALARMS = '/v4/p/admin/alarms';

describe('HTTP API when the database file is deleted while the server runs', () => {
  let dir: string;
  let server: RunningServer | undefined;

  beforeEach(async () => {
    dir = tempDir('file-lost-api');
    server = await startServer({ port: 0, dataDir: dir });
  });

  afterEach(async () => {
    await server?.close();
    removeDir(dir);
  });

  it('answers raises with 503001 and /readyz with 503, and keeps none of the refused raises after a restart', async () => {
    const api = () => request((server as RunningServer).url);
    await api().post(ALARMS).send({ id: 'Before' }).expect(200);

    fs.rmSync(path.join(dir, DB_FILE));
    const refused = await Promise.all(['Lost1', 'Lost2'].map((id) => api().post(ALARMS).send({ id })));
    const ready = await api().get('/readyz');

    for (const res of refused) expectError(res, '503001', /deleted.*restart/i);
    expect(ready.status).to.equal(503);
    await (server as RunningServer).close();
    server = await startServer({ port: 0, dataDir: dir });
    const ids = ((await api().get(ALARMS).expect(200)).body as { alarms: { id: string }[] }).alarms.map((a) => a.id);
    expect(ids).to.not.include('Lost1');
    expect(ids).to.not.include('Lost2');
    await api().post(ALARMS).send({ id: 'AfterRestart' }).expect(200);
  });
});
