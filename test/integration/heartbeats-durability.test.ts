/**
 * Beats are answered once the operating system has them, as a commit with synchronous=NORMAL:
 * most are appended to the beat journal beside the database and folded into it later. Nothing
 * answered is lost to a kill -9, a journal left by a crash is folded at the next open (a torn
 * end skipped), and a beat the judge's read missed still stops its mark.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { SqliteStore } from '../../src/alarm/sqlite-store.js';
import type { HeartbeatKey } from '../../src/alarm/store.js';
import { DB_FILE } from '../../src/center.js';
import { binGroup } from '../helpers/bin.js';

const JOURNAL = `${DB_FILE}-beats`;

interface BeatAnswer {
  status: number;
  heartbeat?: { name: string; lastBeat: string; deadline: string; state: string };
}

/** PUTs a beat (with `body`, or empty) over `agent`. */
function put(agent: http.Agent, url: string, body?: object): Promise<BeatAnswer> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? { 'content-length': 0 } : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    const req = http.request(url, { method: 'PUT', agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, ...(res.statusCode === 200 && (JSON.parse(text) as { heartbeat: BeatAnswer['heartbeat'] })) }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end(payload);
  });
}

describe('heartbeats over a crash', () => {
  describe('a kill -9 under beats', function () {
    this.timeout(60_000);
    const bins = binGroup('heartbeats-crash');

    it('keeps every answered beat, and the restarted server answers them', async () => {
      const dir = bins.dataDir();
      const bin = bins.run(['--port', '0', '--data-dir', dir]);
      const base = `${await bin.url()}/v4/default/admin/heartbeats`;
      const names = Array.from({ length: 20 }, (_, i) => `job-${i}`);
      const agent = new http.Agent({ keepAlive: true });
      const answered = new Map<string, string>();
      try {
        for (const n of names) expect((await put(agent, `${base}/${n}`, { timeoutSeconds: 3600 })).status).to.equal(200);
        // A random moment: after somewhere between 200 and 2,000 answered beats.
        const killAfter = 200 + Math.floor(Math.random() * 1800);
        let count = 0;
        const beater = async (from: number): Promise<void> => {
          for (let i = from; ; i += 1) {
            const name = names[i % names.length] as string;
            let res: BeatAnswer;
            try {
              res = await put(agent, `${base}/${name}`);
            } catch {
              return; // the server is gone
            }
            if (res.status !== 200 || !res.heartbeat) return;
            answered.set(name, res.heartbeat.lastBeat);
            count += 1;
            if (count === killAfter) bin.child.kill('SIGKILL');
          }
        };
        await Promise.all([0, 7, 13].map(beater));
        expect(await bin.exited).to.equal(null);
        expect(bin.signal).to.equal('SIGKILL');
      } finally {
        agent.destroy();
      }

      const again = bins.run(['--port', '0', '--data-dir', dir]);
      const res = await new Promise<string>((resolve, reject) => {
        void again.url().then((url) =>
          http.get(`${url}/v4/default/admin/heartbeats`, (r) => {
            let text = '';
            r.on('data', (c: Buffer) => (text += c.toString()));
            r.once('end', () => resolve(text));
            r.once('error', reject);
          }),
        );
      });
      const stored = new Map((JSON.parse(res) as { heartbeats: { name: string; lastBeat: string }[] }).heartbeats.map((h) => [h.name, h.lastBeat]));
      expect(answered.size, 'beats were answered').to.be.greaterThan(0);
      for (const [name, lastBeat] of answered) {
        // A later beat may have been written without its answer arriving; never an older one.
        expect(Date.parse(stored.get(name) ?? ''), name).to.be.at.least(Date.parse(lastBeat));
      }
      expect(fs.existsSync(path.join(dir, JOURNAL)), 'the journal folded at the restart').to.equal(false);
    });
  });

  describe('the beat journal', () => {
    const KEY: HeartbeatKey = { domain: 'default', project: 'p', name: 'backup' };
    let dir: string;
    let store: SqliteStore | undefined;

    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-beat-journal-'));
    });
    afterEach(async () => {
      await store?.close();
      store = undefined;
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const open = async (): Promise<SqliteStore> => {
      await store?.close();
      store = new SqliteStore({ file: path.join(dir, DB_FILE) });
      await store.load();
      return store;
    };

    it('is folded into the table when the store closes, leaving no journal behind', async () => {
      const first = await open();
      await first.beatHeartbeat(KEY, 1000, { timeoutMs: 60_000 });
      await first.beatHeartbeat(KEY, 2000, {});
      expect(fs.existsSync(path.join(dir, JOURNAL)), 'a plain beat is journaled').to.equal(true);
      await first.close();
      store = undefined;
      expect(fs.existsSync(path.join(dir, JOURNAL))).to.equal(false);

      const second = await open();

      expect((await second.heartbeats({ domain: 'default', project: 'p' }))[0]?.lastBeat).to.equal(2000);
    });

    it('is folded at the next open when the store stopped without folding it, a torn end skipped', async () => {
      const first = await open();
      await first.beatHeartbeat(KEY, 1000, { timeoutMs: 60_000 });
      await first.close();
      store = undefined;
      // What a process killed after answering two plain beats, in the middle of a third, leaves.
      fs.writeFileSync(path.join(dir, JOURNAL), '\n["default","p","backup",2000]\n["default","p","backup",3000]\n["default","p","backup",90');

      const second = await open();

      expect(await second.heartbeats({ domain: 'default', project: 'p' })).to.deep.equal([
        { ...KEY, timeoutMs: 60_000, severity: 'major', fieldsJson: '{}', lastBeat: 3000, deadline: 63_000, raised: false, createdAt: 1000 },
      ]);
      expect(fs.existsSync(path.join(dir, JOURNAL))).to.equal(false);
    });

    it('answers a beat as stored, and a mark after a beat the judge did not see finds that beat', async () => {
      const s = await open();
      const registered = await s.beatHeartbeat(KEY, 1000, { timeoutMs: 10_000, severity: 'minor' });
      const [judged] = await s.dueHeartbeats(20_000, 0, 10);

      const beat = await s.beatHeartbeat(KEY, 21_000, {});
      const marked = await s.markHeartbeatRaised(KEY, judged?.lastBeat ?? 0);

      expect(beat).to.deep.equal({ heartbeat: { ...registered?.heartbeat, lastBeat: 21_000, deadline: 31_000 }, wasRaised: false, created: false });
      expect(marked).to.equal(false);
      expect(await s.heartbeats()).to.deep.equal([beat?.heartbeat]);
    });

    it('answers the mark a beat resets after the judge marked the lapse', async () => {
      const s = await open();
      await s.beatHeartbeat(KEY, 1000, { timeoutMs: 10_000 });
      await s.beatHeartbeat(KEY, 2000, {});
      expect(await s.markHeartbeatRaised(KEY, 2000)).to.equal(true);

      const beat = await s.beatHeartbeat(KEY, 30_000, {});

      expect(beat).to.deep.include({ wasRaised: true, created: false });
      expect(beat?.heartbeat).to.deep.include({ lastBeat: 30_000, deadline: 40_000, raised: false });
      expect(await s.markHeartbeatRaised(KEY, 2000)).to.equal(false);
    });
  });
});
