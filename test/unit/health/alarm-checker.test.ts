import { expect } from 'chai';
import { AlarmIndex } from '../../../src/alarm/alarm-index.js';
import { type AlarmCenter, type AlarmCenterOptions } from '../../../src/center.js';
import { createAlarmCenter } from '../../../src/root.js';
import { createAlarmChecker } from '../../../src/health/checkers/alarm-checker.js';
import { storedAlarm } from '../../helpers/store.js';

const SCOPE = { domain: 'default', project: 'p1' };
const OTHER = { domain: 'default', project: 'p2' };

describe('createAlarmChecker', () => {
  describe('#check', () => {
    let center: AlarmCenter;

    async function open(options: AlarmCenterOptions = {}): Promise<void> {
      center = await createAlarmCenter({ dataDir: ':memory:', ...options });
    }

    afterEach(async () => {
      await center.close();
    });

    it('is healthy while no alarm is raised', async () => {
      await open();

      expect(await center.health(SCOPE)).to.deep.equal({ healthy: true });
    });

    it('is unhealthy while BackendConnectionRefuse is ACTIVATED, naming it by id and source with its fields.detail', async () => {
      await open();
      await center.raise(SCOPE, {
        id: 'BackendConnectionRefuse',
        source: 'registry-7f9c',
        fields: { detail: 'dial tcp 10.0.0.5:2379: connection refused' },
      });

      const health = await center.health(SCOPE);

      expect(health).to.deep.equal({ healthy: false, detail: 'BackendConnectionRefuse/registry-7f9c: dial tcp 10.0.0.5:2379: connection refused' });
    });

    it('reports the latest detail after a re-raise', async () => {
      await open();
      await center.raise(SCOPE, { id: 'BackendConnectionRefuse', fields: { detail: 'first' } });
      await center.raise(SCOPE, { id: 'BackendConnectionRefuse', fields: { detail: 'second' } });

      expect(await center.health(SCOPE)).to.deep.equal({ healthy: false, detail: 'BackendConnectionRefuse: second' });
    });

    it('is healthy again once the alarm is cleared', async () => {
      await open();
      await center.raise(SCOPE, { id: 'BackendConnectionRefuse', fields: { detail: 'down' } });

      await center.clear(SCOPE, 'BackendConnectionRefuse');

      expect(await center.health(SCOPE)).to.deep.equal({ healthy: true });
    });

    it('stays unhealthy while another source still has the alarm ACTIVATED', async () => {
      await open();
      await center.raise(SCOPE, { id: 'BackendConnectionRefuse', source: 'a', fields: { detail: 'a down' } });
      await center.raise(SCOPE, { id: 'BackendConnectionRefuse', source: 'b', fields: { detail: 'b down' } });

      await center.clear(SCOPE, 'BackendConnectionRefuse', 'a');

      expect(await center.health(SCOPE)).to.deep.equal({ healthy: false, detail: 'BackendConnectionRefuse/b: b down' });
    });

    it('is healthy again after clear-all', async () => {
      await open();
      await center.raise(SCOPE, { id: 'BackendConnectionRefuse', fields: { detail: 'down' } });

      await center.clearAll(SCOPE);

      expect(await center.health(SCOPE)).to.deep.equal({ healthy: true });
    });

    it('never turns unhealthy on an InternalError alarm', async () => {
      await open();

      await center.raise(SCOPE, { id: 'InternalError', severity: 'critical', fields: { detail: 'handler crashed' } });

      expect(await center.health(SCOPE)).to.deep.equal({ healthy: true });
    });

    it('leaves other scopes healthy', async () => {
      await open();

      await center.raise(SCOPE, { id: 'BackendConnectionRefuse', fields: { detail: 'down' } });

      expect(await center.health(OTHER)).to.deep.equal({ healthy: true });
      expect(await center.health({ domain: 'tenant-b', project: 'p1' })).to.deep.equal({ healthy: true });
    });

    it('uses the ids given in unhealthyAlarmIds instead of the default', async () => {
      await open({ unhealthyAlarmIds: ['DiskFull', 'QuorumLost'] });
      await center.raise(SCOPE, { id: 'BackendConnectionRefuse', fields: { detail: 'ignored' } });
      const healthyBefore = await center.health(SCOPE);

      await center.raise(SCOPE, { id: 'QuorumLost', fields: { detail: '2 of 5 members answer' } });

      expect(healthyBefore).to.deep.equal({ healthy: true });
      expect(await center.health(SCOPE)).to.deep.equal({ healthy: false, detail: 'QuorumLost: 2 of 5 members answer' });
    });

    it('uses the alarm id as detail when the alarm has no detail field', async () => {
      await open();

      await center.raise(SCOPE, { id: 'BackendConnectionRefuse', fields: { host: '10.0.0.5' } });

      expect(await center.health(SCOPE)).to.deep.equal({ healthy: false, detail: 'BackendConnectionRefuse' });
    });
  });

  describe('#check on an index', () => {
    it('answers from the index alone, with the default name and ids', () => {
      const index = new AlarmIndex();
      const alarm = storedAlarm('BackendConnectionRefuse', 1, { fields: { detail: 'refused' }, fieldsJson: '{"detail":"refused"}', raisedAt: 1, updatedAt: 1 });
      index.apply([{ action: 'raise', alarm, removed: false, at: 1 }]);
      const check = createAlarmChecker({ index });

      const result = check.check(SCOPE);

      expect(check.name).to.equal('alarms');
      expect(result).to.deep.equal({ healthy: false, detail: 'BackendConnectionRefuse: refused', reasons: ['BackendConnectionRefuse: refused'] });
    });

    it('names every alarm that makes the scope unhealthy, one reason each, and counts those past maxNamed', () => {
      const index = new AlarmIndex();
      const sources = ['db-1', 'db-2', 'db-3', 'db-4'];
      index.apply(
        sources.map((source, i) => ({
          action: 'raise' as const,
          alarm: storedAlarm('BackendConnectionRefuse', i + 1, { source, fields: { detail: `${source} refused` }, fieldsJson: `{"detail":"${source} refused"}`, raisedAt: 1, updatedAt: 1 }),
          removed: false,
          at: 1,
        })),
      );

      const all = createAlarmChecker({ index }).check(SCOPE) as { detail: string; reasons: string[] };
      const capped = createAlarmChecker({ index, maxNamed: 2 }).check(SCOPE) as { detail: string; reasons: string[] };

      expect(all.reasons).to.deep.equal(sources.map((s) => `BackendConnectionRefuse/${s}: ${s} refused`));
      expect(all.detail).to.equal(all.reasons.join('; '));
      expect(capped.reasons).to.deep.equal([...all.reasons.slice(0, 2), 'and 2 more']);
    });
  });
});
