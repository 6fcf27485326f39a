import { expect } from 'chai';
import { jsonLine } from '../../src/logger.js';

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
