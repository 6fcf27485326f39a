import type { IncomingMessage, ServerResponse } from 'node:http';
import { expect } from 'chai';
import { WriteLimiter, type AccessOptions } from '../../../src/http/access.js';
import type { TokenRegistry } from '../../../src/http/auth.js';
import type { ErrorResponder } from '../../../src/http/error-handler.js';
import { createHotPath } from '../../../src/http/hot-path.js';
import type { Observer } from '../../../src/http/observe.js';
import { createPipeline } from '../../../src/http/pipeline.js';
import { RouteTable, fastRoute } from '../../../src/http/route-table.js';

describe('createHotPath', () => {
  const access: AccessOptions = { tokens: { enabled: false } as TokenRegistry, probesOpen: true, writeRateLimit: 0 };

  function hotPath(observer: Observer, respond: (req: IncomingMessage, res: ServerResponse, err: unknown) => void) {
    const table = new RouteTable([
      fastRoute({ method: 'GET', template: '/health', access: 'probe', counted: false, whileStopping: false, scope: 'none', body: false, handle: () => undefined }),
    ]);
    const pipeline = createPipeline({ table, access, limiter: new WriteLimiter(0), observer, json: (_req, _res, next) => next(), jsonText: (_req, _res, next) => next(), stopping: () => false });
    return createHotPath({ table, pipeline, respond: Object.assign(respond, { raw: () => undefined }) as ErrorResponder });
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
