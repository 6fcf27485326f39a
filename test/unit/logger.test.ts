import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger, flushLogs, jsonLine } from '../../src/logger.js';

const MESSAGE = Symbol.for('message');

function line(info: Record<string, unknown>): string {
  const out = jsonLine().transform({ level: 'info', message: 'request', ...info }) as unknown as Record<symbol, string>;
  return out[MESSAGE] as string;
}

describe('jsonLine', () => {
  it('writes one JSON object with level, message, timestamp and the fields', () => {
    const parsed = JSON.parse(line({ method: 'POST', status: 200, durationMs: 1.5 })) as Record<string, unknown>;

    expect(parsed).to.include({ level: 'info', message: 'request', method: 'POST', status: 200, durationMs: 1.5 });
    expect(new Date(parsed.timestamp as string).toISOString()).to.equal(parsed.timestamp);
  });

  it('keeps the message when a field cannot be serialized', () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;

    const parsed = JSON.parse(line({ loop })) as Record<string, unknown>;

    expect(parsed).to.include({ level: 'info', message: 'request' });
    expect(parsed).to.not.have.property('loop');
  });
});

describe('LineBufferTransport', () => {
  function sink() {
    const writes: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        writes.push(chunk.toString());
        done();
      },
    });
    return { writes, out };
  }

  it('writes the lines of one event-loop turn in a single write, one JSON line each', async () => {
    const { writes, out } = sink();
    const logger = createLogger({ out });

    logger.info('request', { status: 200 });
    logger.info('request', { status: 404 });
    expect(writes).to.deep.equal([]);
    await new Promise<void>((r) => setImmediate(r));
    await new Promise<void>((r) => setImmediate(r));

    expect(writes).to.have.length(1);
    const lines = (writes[0] as string).trimEnd().split('\n').map((l) => JSON.parse(l) as { status: number });
    expect(lines.map((l) => l.status)).to.deep.equal([200, 404]);
  });

  it('writes what it holds when flushed, as before an exit', () => {
    const { writes, out } = sink();
    const logger = createLogger({ out });

    logger.warn('stopping');
    flushLogs(logger);

    expect(writes.join('')).to.match(/"message":"stopping"/);
  });
});
