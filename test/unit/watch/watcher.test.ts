import { expect } from 'chai';
import { makeAlarm, type Alarm, type Scope } from '../../../src/alarm/model.js';
import type { HistoryEntry } from '../../../src/alarm/store.js';
import { createEvent } from '../../../src/event/event.js';
import { ALARM_CHANGE, type ChangeBatch } from '../../../src/watch/feed.js';
import { WatchMessage } from '../../../src/watch/message.js';
import { noopWatchMetrics, type WatchMetrics } from '../../../src/watch/metrics.js';
import { Watcher, type CloseReason, type ReplaySource, type WatchSink } from '../../../src/watch/watcher.js';

const SCOPE: Scope = { domain: 'd', project: 'p' };

function alarm(revision: number, scope: Scope = SCOPE): Alarm {
  return makeAlarm({
    domain: scope.domain,
    project: scope.project,
    id: `A${revision}`,
    source: '',
    status: 'ACTIVATED',
    severity: 'major',
    fieldsJson: '{}',
    count: 1,
    raisedAt: revision,
    updatedAt: revision,
    revision,
  });
}

const message = (revision: number) => WatchMessage.change('raise', alarm(revision), revision);
const batch = (...revs: number[]) => createEvent<ChangeBatch>(ALARM_CHANGE, 'd/p', '', { scope: SCOPE, messages: revs.map(message) });

/** A sink that records what it is given and flushes when told (or at once). */
class FakeSink implements WatchSink {
  readonly written: WatchMessage[] = [];
  readonly ends: CloseReason[] = [];
  private pending: ((err?: Error | null) => void)[] = [];
  constructor(private readonly autoFlush = true) {}

  write(m: WatchMessage, done?: (err?: Error | null) => void): void {
    this.written.push(m);
    if (!done) return;
    if (this.autoFlush) queueMicrotask(() => done());
    else this.pending.push(done);
  }

  flush(err?: Error): void {
    for (const d of this.pending.splice(0)) d(err);
  }

  end(reason: CloseReason): void {
    this.ends.push(reason);
  }

  get revisions(): number[] {
    return this.written.map((m) => m.revision);
  }
}

function counting(): WatchMetrics & { counts: Record<string, number> } {
  const counts: Record<string, number> = { queued: 0, written: 0, discarded: 0, dropped: 0, resynced: 0 };
  return {
    counts,
    queued: (_s, n) => void (counts.queued = (counts.queued ?? 0) + n),
    written: (_s, run) => void (counts.written = (counts.written ?? 0) + run.length),
    discarded: (_s, n) => void (counts.discarded = (counts.discarded ?? 0) + n),
    dropped: (_s, n) => void (counts.dropped = (counts.dropped ?? 0) + n),
    resynced: () => void (counts.resynced = (counts.resynced ?? 0) + 1),
    terminated: () => undefined,
    refused: () => undefined,
  };
}

function watcher(sink: WatchSink, options: { queueSize?: number; metrics?: WatchMetrics; clock?: () => number; onEnd?: (r: CloseReason) => void } = {}) {
  return new Watcher({
    id: 'w1',
    scope: SCOPE,
    scheme: 'Embedded',
    sink,
    queueSize: options.queueSize ?? 100,
    sendTimeoutMs: 1000,
    metrics: options.metrics ?? noopWatchMetrics,
    onEnd: (_w, r) => options.onEnd?.(r),
    clock: options.clock,
  });
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Watcher', () => {
  it('is a bus subscriber of its domain/project, in a group of its own', () => {
    const w = watcher(new FakeSink());
    expect([w.type, w.subject, w.group, w.domain, w.scheme]).to.deep.equal([ALARM_CHANGE, 'd/p', 'w1', 'd', 'Embedded']);
  });

  it('switches from replay to live with no gap and no duplicate while changes keep being published', async () => {
    const history: HistoryEntry[] = [];
    let published = 0;
    const sink = new FakeSink();
    const w = watcher(sink, { queueSize: 6 });
    // Each history read lets two more changes be committed and published meanwhile; their live
    // events reach the watcher during the replay and again after it.
    const publish = () => {
      for (let i = 0; i < 2; i += 1) {
        published += 1;
        history.push({ revision: published, action: 'raise', alarm: alarm(published), at: published });
        w.onMessage(batch(published));
      }
    };
    for (let i = 0; i < 10; i += 1) publish();
    const source: ReplaySource = {
      published: () => published,
      committed: () => published,
      async history(_scope, since, limit) {
        const page = history.filter((e) => e.revision > since).slice(0, limit);
        if (published < 40) publish();
        await settle();
        return page;
      },
    };
    await w.start(source, 5);
    for (let i = 0; i < 3; i += 1) publish();
    await settle();
    await settle();
    expect(sink.revisions).to.deep.equal(Array.from({ length: published - 5 }, (_, i) => i + 6));
  });

  it('finishes a replay when the rest of the history belongs to other scopes', async () => {
    const sink = new FakeSink();
    const w = watcher(sink);
    const source: ReplaySource = {
      published: () => 100,
      committed: () => 100,
      history: async (_scope, since) =>
        [7, 50].filter((r) => r > since).map((r) => ({ revision: r, action: 'raise', alarm: alarm(r), at: r })),
    };
    await w.start(source, 0);
    w.onMessage(batch(100, 101));
    await settle();
    expect(sink.revisions).to.deep.equal([7, 50, 101]);
  });

  it('drops the backlog for one RESYNC when its queue overflows, and counts what was lost', async () => {
    const sink = new FakeSink(false);
    const metrics = counting();
    const w = watcher(sink, { queueSize: 3, metrics });
    await w.start({ published: () => 0, committed: () => 0, history: async () => [] }, undefined);
    w.onMessage(batch(1)); // written at once (the first run), flushed later
    w.onMessage(batch(2, 3, 4)); // queued: 2, 3, 4
    w.onMessage(batch(5, 6)); // 5 overflows: 2, 3, 4 and 5 are lost for RESYNC(5); 6 queued
    expect(w.queued).to.equal(2);
    sink.flush();
    await settle();
    sink.flush();
    expect(sink.written.map((m) => [m.action, m.revision])).to.deep.equal([
      ['RAISE', 1],
      ['RESYNC', 5],
      ['RAISE', 6],
    ]);
    expect(metrics.counts).to.deep.include({ dropped: 4, resynced: 1 });
    expect(metrics.counts.queued, 'every queued message is written or discarded').to.equal(
      (metrics.counts.written ?? 0) + (metrics.counts.discarded ?? 0),
    );
  });

  it('ends itself when a run is not flushed within the send timeout', async () => {
    let now = 0;
    const ends: CloseReason[] = [];
    const sink = new FakeSink(false);
    const w = watcher(sink, { clock: () => now, onEnd: (r) => ends.push(r) });
    await w.start({ published: () => 0, committed: () => 0, history: async () => [] }, undefined);
    w.onMessage(batch(1));
    now = 1000;
    w.tick(now);
    expect(w.ended).to.equal(undefined);
    now = 1001;
    w.tick(now);
    expect(w.ended).to.equal('send-timeout');
    expect(sink.ends).to.deep.equal(['send-timeout']);
    w.end('peer');
    expect(ends, 'ends once').to.deep.equal(['send-timeout']);
  });

  it('starts with a RESYNC when since is beyond the newest committed revision', async () => {
    const sink = new FakeSink();
    const w = watcher(sink);
    await w.start({ published: () => 3, committed: () => 4, history: async () => [] }, 9);
    await settle();
    expect(sink.written.map((m) => m.text)).to.deep.equal(['{"action":"RESYNC","revision":3}']);
  });

  it('ends with history-error when the history cannot be read', async () => {
    const sink = new FakeSink();
    const w = watcher(sink);
    const failing: ReplaySource = {
      published: () => 5,
      committed: () => 5,
      history: () => Promise.reject(new Error('disk I/O error')),
    };
    let error: unknown;
    await w.start(failing, 0).catch((err: unknown) => (error = err));
    expect((error as Error).message).to.equal('disk I/O error');
    expect(sink.ends).to.deep.equal(['history-error']);
  });
});
