import { expect } from 'chai';
import { Heartbeat } from '../../../src/watch/heartbeat.js';

describe('Heartbeat', () => {
  it('beats once per interval, and not again while a beat is being flushed', () => {
    const pending: ((err?: Error | null) => void)[] = [];
    const beat = new Heartbeat(100, 1000, 0, (flushed) => pending.push(flushed));
    expect(beat.tick(99)).to.equal(undefined);
    expect(pending).to.have.length(0);
    beat.tick(100);
    expect(pending).to.have.length(1);
    beat.tick(250);
    expect(pending, 'the first is still being flushed').to.have.length(1);
    (pending[0] as () => void)();
    beat.tick(250);
    expect(pending).to.have.length(2);
    (pending[1] as () => void)();
    beat.tick(300);
    expect(pending, 'the next is due an interval after the last one went').to.have.length(2);
    beat.tick(350);
    expect(pending).to.have.length(3);
  });

  it('answers send-timeout once a beat waits to be flushed past the send timeout', () => {
    const beat = new Heartbeat(100, 1000, 0, () => undefined);
    beat.tick(100);
    expect(beat.tick(1100)).to.equal(undefined);
    expect(beat.tick(1101)).to.equal('send-timeout');
  });

  it('treats a beat that failed to flush as stuck, ending the watcher at the send timeout', () => {
    const pending: ((err?: Error | null) => void)[] = [];
    const beat = new Heartbeat(100, 1000, 0, (flushed) => pending.push(flushed));
    beat.tick(100);
    (pending[0] as (err: Error) => void)(new Error('closed'));
    expect(beat.tick(5000)).to.equal('send-timeout');
  });
});
