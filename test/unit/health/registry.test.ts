import { expect } from 'chai';
import type { Scope } from '../../../src/alarm/model.js';
import type { HealthChecker, HealthResult } from '../../../src/health/checker.js';
import { HealthRegistry } from '../../../src/health/registry.js';

function checker(name: string, check: (scope: Scope) => HealthResult | Promise<HealthResult>): HealthChecker {
  return { name, check };
}

const ok = (name: string) => checker(name, () => ({ healthy: true }));

describe('HealthRegistry', () => {
  describe('#run', () => {
    it('runs the checkers in registration order', async () => {
      const registry = new HealthRegistry();
      const calls: string[] = [];
      for (const name of ['store', 'bus', 'lifecycle']) {
        registry.register(
          checker(name, () => {
            calls.push(name);
            return { healthy: true };
          }),
        );
      }

      const report = await registry.run();

      expect(calls).to.deep.equal(['store', 'bus', 'lifecycle']);
      expect(report).to.deep.equal({
        healthy: true,
        results: [
          { name: 'store', healthy: true },
          { name: 'bus', healthy: true },
          { name: 'lifecycle', healthy: true },
        ],
      });
    });

    it('is unhealthy when one checker fails, and keeps its detail', async () => {
      const registry = new HealthRegistry();
      registry.register(ok('a'));
      registry.register(checker('b', () => ({ healthy: false, detail: 'b is down' })));
      registry.register(ok('c'));

      const report = await registry.run();

      expect(report.healthy).to.equal(false);
      expect(report.results).to.deep.equal([
        { name: 'a', healthy: true },
        { name: 'b', healthy: false, detail: 'b is down' },
        { name: 'c', healthy: true },
      ]);
    });

    it('leaves excluded checkers out of the verdict and the results', async () => {
      const registry = new HealthRegistry();
      registry.register(ok('a'));
      registry.register(checker('b', () => ({ healthy: false, detail: 'b is down' })));

      const report = await registry.run(undefined, ['b']);

      expect(report).to.deep.equal({ healthy: true, results: [{ name: 'a', healthy: true }] });
    });

    it('counts a throwing checker as failed with its message', async () => {
      const registry = new HealthRegistry();
      registry.register(
        checker('sync', () => {
          throw new Error('sync check exploded');
        }),
      );
      registry.register(
        checker('async', async () => {
          throw new Error('async check exploded');
        }),
      );
      registry.register(ok('after'));

      const report = await registry.run();

      expect(report.healthy).to.equal(false);
      expect(report.results).to.deep.equal([
        { name: 'sync', healthy: false, detail: 'sync check exploded' },
        { name: 'async', healthy: false, detail: 'async check exploded' },
        { name: 'after', healthy: true },
      ]);
    });

    it('passes the scope to every checker, the default scope when none is given', async () => {
      const registry = new HealthRegistry();
      const scopes: Scope[] = [];
      registry.register(
        checker('a', (scope) => {
          scopes.push(scope);
          return { healthy: true };
        }),
      );

      await registry.run({ domain: 'd', project: 'p' });
      await registry.run();

      expect(scopes).to.deep.equal([
        { domain: 'd', project: 'p' },
        { domain: 'default', project: 'default' },
      ]);
    });

    it('is healthy with no checker at all', async () => {
      expect(await new HealthRegistry().run()).to.deep.equal({ healthy: true, results: [] });
    });
  });

  describe('#register', () => {
    it('replaces a checker registered under the same name, keeping its place', async () => {
      const registry = new HealthRegistry();
      registry.register(ok('a'));
      registry.register(ok('b'));

      registry.register(checker('a', () => ({ healthy: false, detail: 'replaced' })));

      expect(registry.names()).to.deep.equal(['a', 'b']);
      expect((await registry.run()).results[0]).to.deep.equal({ name: 'a', healthy: false, detail: 'replaced' });
    });
  });

  describe('#unregister', () => {
    it('removes the checker from later runs', async () => {
      const registry = new HealthRegistry();
      registry.register(checker('a', () => ({ healthy: false })));

      expect(registry.unregister('a')).to.equal(true);

      expect(registry.has('a')).to.equal(false);
      expect((await registry.run()).healthy).to.equal(true);
      expect(registry.unregister('a')).to.equal(false);
    });
  });

  describe('#verdict', () => {
    it('is healthy when every checker passes', async () => {
      const registry = new HealthRegistry();
      registry.register(ok('a'));
      registry.register(ok('b'));

      expect(await registry.verdict()).to.deep.equal({ healthy: true });
    });

    it("is unhealthy with the first failing checker's detail", async () => {
      const registry = new HealthRegistry();
      registry.register(ok('a'));
      registry.register(checker('b', () => ({ healthy: false, detail: 'backend refused' })));
      registry.register(checker('c', () => ({ healthy: false, detail: 'later' })));

      expect(await registry.verdict()).to.deep.equal({ healthy: false, detail: 'backend refused' });
    });
  });

  describe('#runNamed', () => {
    it('runs only the named checker', async () => {
      const registry = new HealthRegistry();
      const calls: string[] = [];
      for (const name of ['a', 'b']) {
        registry.register(
          checker(name, () => {
            calls.push(name);
            return { healthy: name === 'a', detail: name === 'a' ? undefined : 'b failed' };
          }),
        );
      }

      const result = await registry.runNamed('b');

      expect(result).to.deep.equal({ name: 'b', healthy: false, detail: 'b failed' });
      expect(calls).to.deep.equal(['b']);
    });

    it('answers undefined for an unknown name', async () => {
      const registry = new HealthRegistry();
      registry.register(ok('a'));

      expect(await registry.runNamed('missing')).to.equal(undefined);
    });

    it('counts a throwing checker as failed with its message', async () => {
      const registry = new HealthRegistry();
      registry.register(
        checker('a', () => {
          throw new Error('nope');
        }),
      );

      expect(await registry.runNamed('a')).to.deep.equal({ name: 'a', healthy: false, detail: 'nope' });
    });
  });
});
