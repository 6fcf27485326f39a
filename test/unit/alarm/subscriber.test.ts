import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { AlarmOp } from '../../../src/alarm/event.js';
import type { SqliteStore } from '../../../src/alarm/sqlite-store.js';
import { StoreError, type ExpiryExtension } from '../../../src/alarm/store.js';
import { type AlarmCenter, type AlarmCenterOptions } from '../../../src/center.js';
import { openCore, partsOf } from '../../helpers/core.js';
import { AlarmCenterError } from '../../../src/errors.js';
import { rejection } from '../../helpers/promises.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');

/** A scope of its own per number: what a client inventing `x-domain-name` values gets. */
const scope = (n: number) => ({ domain: `made-up-${n}`, project: 'p' });

/** Fields whose JSON text is exactly `bytes` bytes long. */
function fieldsOf(bytes: number): { detail: string } {
  return { detail: 'x'.repeat(bytes - '{"detail":""}'.length) };
}

/** The value of one sample of the registry, or 0 when the series does not exist. */
async function sample(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return expect.fail(`metric ${name} is not registered`);
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))?.value ?? 0;
}

/** The stored alarms of every scope, as the index holds them. */
function held(center: AlarmCenter): { id: string; domain: string; revision: number }[] {
  return [...partsOf(center).index.allAlarms()].map((a) => ({ id: a.id, domain: a.domain, revision: a.revision }));
}

async function expectQuota(promise: Promise<unknown>, detail: string): Promise<void> {
  const err = await rejection(promise);
  expect(err).to.be.instanceOf(AlarmCenterError);
  expect(err).to.include({ code: '429002', detail });
}

describe('AlarmSubscriber', () => {
  let center: AlarmCenter;
  let registry: Registry;
  let now: number;

  async function open(options: AlarmCenterOptions): Promise<AlarmCenter> {
    registry = new Registry();
    center = await openCore({ dataDir: ':memory:', clock: () => now, registry, ...options });
    return center;
  }

  beforeEach(() => {
    now = T0;
  });

  afterEach(async () => {
    await center.close();
  });

  describe('maxAlarms', () => {
    const FULL = 'alarms: more than 3 alarms in all (maxAlarms)';

    it('refuses a new alarm past the limit across scopes with 429002 naming the limit, and counts the refusal', async () => {
      await open({ maxAlarms: 3 });
      for (let i = 0; i < 3; i += 1) await center.raise(scope(i), { id: 'A' });

      await expectQuota(center.raise(scope(3), { id: 'A' }), FULL);

      expect(partsOf(center).index.size).to.equal(3);
      expect(center.list(scope(3)).alarms).to.deep.equal([]);
      expect(await sample(registry, 'alarm_center_alarm_quota_refusals_total', { limit: 'maxAlarms' })).to.equal(1);
    });

    it('refuses a batch that would pass the limit whole, storing nothing of it', async () => {
      await open({ maxAlarms: 3 });
      await center.raise(scope(0), { id: 'A' });
      const revision = partsOf(center).index.revision;

      await expectQuota(center.apply(scope(1), [{ id: 'B' }, { id: 'C' }, { id: 'D' }]), FULL);

      expect(partsOf(center).index.revision).to.equal(revision);
      expect(held(center).map((a) => a.id)).to.deep.equal(['A']);
      expect((await center.history(scope(1))).history).to.deep.equal([]);
      const fits = await center.apply(scope(1), [{ id: 'B' }, { id: 'C' }]);
      expect(fits.alarms).to.have.length(2);
    });

    it('takes a refused write out of a group commit whole, leaving the others and consecutive revisions', async () => {
      await open({ maxAlarms: 3 });
      await center.raise(scope(0), { id: 'A' });
      const store = partsOf(center).store as SqliteStore;
      const commit = store.commitPipelined.bind(store);
      const batches: number[] = [];
      store.commitPipelined = (changes) => {
        batches.push(changes.length);
        return commit(changes);
      };

      const results = await Promise.allSettled([
        center.raise(scope(1), { id: 'B' }),
        center.apply(scope(2), [{ id: 'C' }, { id: 'D' }, { id: 'E' }]),
        center.raise(scope(0), { id: 'A', fields: { detail: 'again' } }),
        center.raise(scope(3), { id: 'F' }),
        center.raise(scope(4), { id: 'G' }),
      ]);

      expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected']);
      expect(batches, 'one transaction of the three accepted changes').to.deep.equal([3]);
      expect(held(center).map((a) => a.id).sort()).to.deep.equal(['A', 'B', 'F']);
      expect(partsOf(center).index.size).to.equal(3);
      const revisions = (await center.history(scope(0))).history.map((e) => e.revision);
      expect(revisions, 'the re-raise follows the accepted raise, with no hole left by the refused batch').to.deep.equal([1, 3]);
      expect(partsOf(center).index.revision).to.equal(4);
    });

    it('still raises again and clears alarms it holds at the limit; a clear keeps the alarm, so no room is made', async () => {
      await open({ maxAlarms: 2 });
      await center.raise(scope(0), { id: 'A' });
      await center.raise(scope(1), { id: 'A' });

      expect((await center.raise(scope(0), { id: 'A' })).count).to.equal(2);
      expect((await center.clear(scope(1), 'A')).status).to.equal('CLEARED');

      expect(partsOf(center).index.size).to.equal(2);
      await expectQuota(center.raise(scope(2), { id: 'A' }), 'alarms: more than 2 alarms in all (maxAlarms)');
    });

    it('makes room as a clear-all removes a scope\'s alarms', async () => {
      await open({ maxAlarms: 3 });
      await center.apply(scope(0), [{ id: 'A' }, { id: 'B' }]);
      await center.raise(scope(1), { id: 'A' });
      await expectQuota(center.raise(scope(2), { id: 'A' }), FULL);

      await center.clearAll(scope(0));

      expect(partsOf(center).index.size).to.equal(1);
      await center.apply(scope(2), [{ id: 'A' }, { id: 'B' }]);
      expect(partsOf(center).index.size).to.equal(3);
    });

    it('makes room as retention purges CLEARED alarms', async () => {
      await open({ maxAlarms: 1 });
      await center.raise(scope(0), { id: 'A' });
      await center.clear(scope(0), 'A');
      await expectQuota(center.raise(scope(1), { id: 'A' }), 'alarms: more than 1 alarms in all (maxAlarms)');

      now += 1000;
      await partsOf(center).service.purge(scope(0), now);

      expect(partsOf(center).index.size).to.equal(0);
      await center.raise(scope(1), { id: 'A' });
    });

    it('counts the alarms loaded from the store at start', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alarm-center-quota-'));
      try {
        await open({ dataDir: dir });
        await center.apply(scope(0), [{ id: 'A', fields: fieldsOf(100) }, { id: 'B', fields: fieldsOf(200) }]);
        await center.close();

        await open({ dataDir: dir, maxAlarms: 2 });

        expect(partsOf(center).index.size).to.equal(2);
        expect(partsOf(center).index.fieldsBytes).to.equal(300);
        await expectQuota(center.raise(scope(1), { id: 'A' }), 'alarms: more than 2 alarms in all (maxAlarms)');
      } finally {
        await center.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('maxFieldsBytes', () => {
    const FULL = 'fields: more than 40000 bytes of fields in all alarms (maxFieldsBytes)';

    it('refuses fields past the limit across scopes with 429002 naming the limit, storing nothing of the write', async () => {
      await open({ maxFieldsBytes: 40_000 });
      await center.raise(scope(0), { id: 'A', fields: fieldsOf(15_000) });
      await center.raise(scope(1), { id: 'A', fields: fieldsOf(15_000) });
      expect(partsOf(center).index.fieldsBytes).to.equal(30_000);

      await expectQuota(center.apply(scope(2), [{ id: 'A' }, { id: 'B', fields: fieldsOf(15_000) }]), FULL);

      expect(partsOf(center).index.fieldsBytes).to.equal(30_000);
      expect(center.list(scope(2)).alarms).to.deep.equal([]);
      expect(await sample(registry, 'alarm_center_alarm_quota_refusals_total', { limit: 'maxFieldsBytes' })).to.equal(1);
      await center.raise(scope(2), { id: 'A', fields: fieldsOf(10_000) });
      expect(partsOf(center).index.fieldsBytes).to.equal(40_000);
    });

    it('counts the UTF-8 size of the fields\' JSON text', async () => {
      await open({ maxFieldsBytes: 40_000 });

      await center.raise(scope(0), { id: 'A', fields: { detail: 'é€😀' } });

      expect(partsOf(center).index.fieldsBytes).to.equal(Buffer.byteLength('{"detail":"é€😀"}'));
    });

    it('follows a re-raise that changes the fields: bigger fields past the limit are refused, smaller ones free bytes', async () => {
      await open({ maxFieldsBytes: 40_000 });
      await center.raise(scope(0), { id: 'A', fields: fieldsOf(15_000) });
      await center.raise(scope(1), { id: 'A', fields: fieldsOf(15_000) });
      await center.raise(scope(2), { id: 'A', fields: fieldsOf(10_000) });

      await expectQuota(center.raise(scope(0), { id: 'A', fields: fieldsOf(15_001) }), FULL);
      expect(center.list(scope(0)).alarms[0]?.count).to.equal(1);
      await center.raise(scope(0), { id: 'A', fields: fieldsOf(100) });

      expect(partsOf(center).index.fieldsBytes).to.equal(25_100);
      await center.raise(scope(3), { id: 'A', fields: fieldsOf(14_900) });
      expect(partsOf(center).index.fieldsBytes).to.equal(40_000);
    });

    it('makes room as a clear-all removes alarms, and not as a clear, which keeps them', async () => {
      await open({ maxFieldsBytes: 40_000 });
      await center.raise(scope(0), { id: 'A', fields: fieldsOf(15_000) });
      await center.raise(scope(1), { id: 'A', fields: fieldsOf(15_000) });
      await center.clear(scope(0), 'A');
      await expectQuota(center.raise(scope(2), { id: 'A', fields: fieldsOf(15_000) }), FULL);

      await center.clearAll(scope(0));

      expect(partsOf(center).index.fieldsBytes).to.equal(15_000);
      await center.raise(scope(2), { id: 'A', fields: fieldsOf(15_000) });
    });
  });

  describe('maxAlarmsPerScope', () => {
    it('counts its refusals under its own limit label', async () => {
      await open({ maxAlarmsPerScope: 1 });
      await center.raise(scope(0), { id: 'A' });

      await rejection(center.raise(scope(0), { id: 'B' }));

      expect(await sample(registry, 'alarm_center_alarm_quota_refusals_total', { limit: 'maxAlarmsPerScope' })).to.equal(1);
    });
  });

  describe('re-sends', () => {
    const resend = (id: string, expiresAt: number): AlarmOp[] => [{ kind: 'raise', id, source: '', fields: {}, expiresAt, resend: true }];

    it('commits the expiries re-sends moved with the changes of the same group commit, in one store call', async () => {
      await open({});
      const { service } = partsOf(center);
      await service.applyOps(scope(0), [...resend('A', T0 + 1000), ...resend('B', T0 + 1000)]);
      const store = partsOf(center).store as SqliteStore;
      const commit = store.commitPipelined.bind(store);
      const calls: { changes: string[]; extensions: ExpiryExtension[] }[] = [];
      store.commitPipelined = (changes, extensions = []) => {
        calls.push({ changes: changes.map((c) => `${c.action} ${c.alarm.id}`), extensions: [...extensions] });
        return commit(changes, extensions);
      };

      await Promise.all([
        service.applyOps(scope(0), resend('A', T0 + 5000)),
        center.raise(scope(0), { id: 'C' }),
        service.applyOps(scope(0), resend('B', T0 + 6000)),
      ]);

      expect(calls).to.deep.equal([
        {
          changes: ['raise C'],
          extensions: [
            { ...scope(0), id: 'A', source: '', revision: 1, expiresAt: T0 + 5000 },
            { ...scope(0), id: 'B', source: '', revision: 2, expiresAt: T0 + 6000 },
          ],
        },
      ]);
      expect(center.list(scope(0)).alarms.map((a) => [a.id, a.revision, a.expiresAt])).to.deep.equal([
        ['A', 1, new Date(T0 + 5000).toISOString()],
        ['B', 2, new Date(T0 + 6000).toISOString()],
        ['C', 3, undefined],
      ]);
    });

    it('answers 503001 and leaves the expiry where it was when the store fails the commit of a re-send', async () => {
      await open({});
      const { service } = partsOf(center);
      await service.applyOps(scope(0), resend('A', T0 + 1000));
      const store = partsOf(center).store as SqliteStore;
      store.commitPipelined = () => Promise.reject(new StoreError('disk I/O error', { backendCode: 'SQLITE_IOERR' }));

      const err = await rejection(service.applyOps(scope(0), resend('A', T0 + 5000)));

      expect(err).to.be.instanceOf(AlarmCenterError).with.property('code', '503001');
      expect(partsOf(center).index.get(scope(0), 'A', '')?.expiresAt).to.equal(T0 + 1000);
    });
  });
});
