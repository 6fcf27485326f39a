import fs from 'node:fs';
import { expect } from 'chai';
import request from 'supertest';
import { startServer, type RunningServer } from '../../src/root.js';

const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The metric names of the README's metrics table. */
function documentedMetrics(): Set<string> {
  const section = readme.split('## Metrics')[1]?.split('\n## ')[0] ?? '';
  return new Set([...section.matchAll(/^\| `(alarm_center_[a-z_]+)`/gm)].map((m) => m[1] as string));
}

describe('README', () => {
  let server: RunningServer;

  before(async () => {
    server = await startServer({ port: 0, dataDir: ':memory:' });
    // Produce one of each kind of observation so every metric family is exposed.
    await request(server.url).post('/v4/default/admin/alarms').send({ id: 'A' }).expect(200);
  });

  after(() => server.close());

  it('documents every alarm_center_ metric the server exposes, and no other', async () => {
    const res = await request(server.url).get('/metrics').expect(200);
    const exposed = new Set([...res.text.matchAll(/^# TYPE (alarm_center_[a-z_]+) /gm)].map((m) => m[1] as string));
    expect([...documentedMetrics()].sort()).to.deep.equal([...exposed].sort());
  });

  it('shows the two set-up commands: one runs the service, one runs the tests', () => {
    const setup = readme.split('## Set up')[1]?.split('\n## ')[0] ?? '';
    const commands = [...setup.matchAll(/^(npm [^#\n]+?)\s*(#.*)?$/gm)].map((m) => m[1]);
    expect(commands).to.deep.equal(['npm ci && npm start', 'npm test']);
  });
});
