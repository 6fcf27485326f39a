import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { DB_FILE } from '../../src/center.js';
import { createAlarmCenter } from '../../src/root.js';
import { binGroup, postJson } from '../helpers/bin.js';

const SCOPE = { domain: 'default', project: 'crash-http' };
const CLIENTS = 6;
const IDS_PER_CLIENT = 20;

interface Ack {
  id: string;
  status: string;
  revision: number;
  detail: unknown;
}

interface AnsweredAlarm {
  id: string;
  status: string;
  revision: number;
  fields: { detail?: unknown };
}

/**
 * One client's loop: raises and clears its own alarms (single writes and small batches) until a
 * request fails, recording every change a 2xx acknowledged.
 */
async function client(url: string, c: number, acks: Ack[], onAck: () => void): Promise<void> {
  const agent = new http.Agent({ keepAlive: true });
  try {
    for (let i = 0; ; i += 1) {
      const id = `C${c}-${i % IDS_PER_CLIENT}`;
      const clear = i % 3 === 2;
      const body =
        i % 5 === 4
          ? { alarms: [{ id, fields: { detail: `raise ${i}` } }, { id: `${id}-b`, status: 'CLEARED' }] }
          : clear
            ? { id, status: 'CLEARED' }
            : { id, fields: { detail: `raise ${i}` } };
      let res;
      try {
        res = await postJson(agent, url, body);
      } catch {
        return; // the server is gone
      }
      if (res.status !== 200) return;
      for (const a of (JSON.parse(res.text) as { alarms: AnsweredAlarm[] }).alarms) {
        acks.push({ id: a.id, status: a.status, revision: a.revision, detail: a.fields.detail });
      }
      onAck();
    }
  } finally {
    agent.destroy();
  }
}

describe('a crash over HTTP (kill -9 under concurrent raises and clears)', function () {
  this.timeout(60_000);
  const bins = binGroup('crash-http');

  it('keeps every acknowledged change, in a database that passes integrity_check', async () => {
    const dir = bins.dataDir();
    const bin = bins.run(['--port', '0', '--data-dir', dir]);
    const url = `${await bin.url()}/v4/${SCOPE.project}/admin/alarms`;
    const acks: Ack[] = [];
    // A random moment: after somewhere between 100 and 1,000 acknowledged writes.
    const killAfter = 100 + Math.floor(Math.random() * 900);
    let answered = 0;
    const running = bin;
    const loops = Array.from({ length: CLIENTS }, (_, c) =>
      client(url, c, acks, () => {
        answered += 1;
        if (answered === killAfter) running.child.kill('SIGKILL');
      }),
    );
    await Promise.all(loops);
    expect(await running.exited, `killed after ${killAfter} acknowledged writes`).to.equal(null);
    expect(running.signal).to.equal('SIGKILL');

    const db = new Database(path.join(dir, DB_FILE));
    try {
      expect(db.pragma('integrity_check', { simple: true })).to.equal('ok');
    } finally {
      db.close();
    }

    const center = await createAlarmCenter({ dataDir: dir });
    try {
      const stored = new Map(center.list(SCOPE).alarms.map((a) => [a.id, a]));
      const last = new Map<string, Ack>();
      for (const a of acks) if ((last.get(a.id)?.revision ?? -1) < a.revision) last.set(a.id, a);
      expect(last.size, 'some writes were acknowledged').to.be.greaterThan(0);
      for (const [id, ack] of last) {
        const alarm = stored.get(id);
        if (ack.revision === 0) continue; // a clear of an alarm that never existed changed nothing
        expect(alarm, `${id} acknowledged at revision ${ack.revision} (kill after ${killAfter})`).to.not.equal(undefined);
        // Later writes may have committed without their answer arriving; never an older state.
        expect(alarm?.revision, id).to.be.at.least(ack.revision);
        if (alarm?.revision === ack.revision) {
          expect({ status: alarm.status, detail: alarm.fields.detail }, id).to.deep.equal({ status: ack.status, detail: ack.detail });
        }
      }
      expect(center.list(SCOPE).revision).to.be.at.least(Math.max(...acks.map((a) => a.revision)));
    } finally {
      await center.close();
    }
  });
});
