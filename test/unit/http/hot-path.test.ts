import type { IncomingMessage, ServerResponse } from 'node:http';
import { expect } from 'chai';
import type { AlarmCenter } from '../../../src/center.js';
import { WriteLimiter, type AccessOptions } from '../../../src/http/access.js';
import type { TokenRegistry } from '../../../src/http/auth.js';
import { createHotPath, hotUrl, type HotPathOptions } from '../../../src/http/hot-path.js';
import type { Observer } from '../../../src/http/observe.js';

describe('hotUrl', () => {
  it('takes the plain form of a template with a project, and nothing else', () => {
    const match = hotUrl('/v4/:project/admin/alarms');
    expect(match('/v4/p-1.a_b/admin/alarms')).to.equal('p-1.a_b');
    for (const url of ['/v4/p/admin/alarms?', '/v4/p/admin/alarms/', '/V4/p/admin/alarms', '/v4/a%20b/admin/alarms', '/v4/a/b/admin/alarms', '/v4//admin/alarms']) {
      expect(match(url), url).to.equal(undefined);
    }
  });

  it('takes exactly the URL of a template without a project, naming the default project', () => {
    const match = hotUrl('/health');
    expect(match('/health')).to.equal('default');
    expect(match('/health/')).to.equal(undefined);
    expect(match('/health?x')).to.equal(undefined);
  });
});

describe('createHotPath', () => {
  const access: AccessOptions = { tokens: { enabled: false } as TokenRegistry, probesOpen: true, writeRateLimit: 0 };

  function hotPath(observer: Observer, respond: HotPathOptions['respond']) {
    return createHotPath({
      center: { state: 'running' } as AlarmCenter,
      access,
      limiter: new WriteLimiter(0),
      observer,
      json: (_req, _res, next) => next(),
      respond,
      routes: [{ method: 'GET', template: '/health', body: false, answer: async () => '{}' }],
    });
  }

  function request(onDestroy: () => void = () => undefined): { req: IncomingMessage; res: ServerResponse } {
    const req = { method: 'GET', url: '/health', headers: {}, socket: { destroy: onDestroy } } as unknown as IncomingMessage;
    const res = { headersSent: false, setHeader: () => undefined } as unknown as ServerResponse;
    return { req, res };
  }

  const throwingObserver = { track: () => { throw new Error('observer failed'); } } as unknown as Observer;

  it('answers a failure of its first steps with the error responder', async () => {
    const answered = new Promise<unknown>((resolve) => {
      const { req, res } = request();
      expect(hotPath(throwingObserver, (_req, _res, err) => resolve(err))(req, res)).to.equal(true);
    });
    expect(await answered).to.have.property('message', 'observer failed');
  });

  it('closes the connection when answering the failure fails too', async () => {
    const destroyed = new Promise<void>((resolve) => {
      const { req, res } = request(resolve);
      hotPath(throwingObserver, () => {
        throw new Error('responder failed');
      })(req, res);
    });
    await destroyed;
  });
});
