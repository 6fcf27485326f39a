/**
 * A webhook loop waits for its pace (the notifications thread's pacer) before each attempt, and
 * delivers everything, in order, once it lets it go.
 */
import { expect } from 'chai';
import { makeAlarm } from '../../../src/alarm/model.js';
import type { HistoryEntry, WebhookCursor, WebhookStore } from '../../../src/alarm/store.js';
import { createSilentLogger } from '../../../src/logger.js';
import { WebhooksSchema } from '../../../src/notify/webhook-config.js';
import { noopWebhookMetrics } from '../../../src/notify/webhook-metrics.js';
import { WebhookDispatcher } from '../../../src/notify/webhooks.js';
import { waitFor } from '../../helpers/integration.js';
import { Receiver } from '../../helpers/webhook-receiver.js';

/** A history of `n` raises, and the cursor of webhook `name` before them, in memory. */
function memoryStore(n: number, name: string): WebhookStore {
  const history: HistoryEntry[] = Array.from({ length: n }, (_, i) => ({
    revision: i + 1,
    action: 'RAISE',
    at: 1000 + i,
    alarm: makeAlarm({ domain: 'd', project: 'p', id: `A${i + 1}`, source: '', status: 'ACTIVATED', severity: 'major', fieldsJson: '{}', count: 1, raisedAt: 1000 + i, updatedAt: 1000 + i, revision: i + 1 }),
  }));
  const cursors = new Map<string, WebhookCursor>([[name, { name, revision: 0 }]]);
  return {
    historyAfter: async (revision, limit) => history.filter((e) => e.revision > revision).slice(0, limit),
    webhookCursor: async (name) => cursors.get(name),
    advanceWebhookCursor: async (hook, revision) => void cursors.set(hook, { name: hook, revision: Math.max(revision, cursors.get(hook)?.revision ?? 0) }),
    noteWebhookError: async () => undefined,
    addWebhookFailure: async () => undefined,
    webhookFailures: async () => ({ failures: [], total: 0 }),
    queueWebhookFailures: async () => 0,
    removeWebhookFailure: async () => undefined,
  };
}

describe('a paced webhook', function () {
  this.timeout(10_000);
  let receiver: Receiver;
  let dispatcher: WebhookDispatcher | undefined;

  beforeEach(async () => {
    receiver = await Receiver.start();
  });

  afterEach(async () => {
    await dispatcher?.close();
    await receiver.close();
  });

  it('sends nothing until its pace lets it, then every change in order', async () => {
    let paced = 0;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    dispatcher = new WebhookDispatcher({
      hooks: WebhooksSchema.parse([{ name: 'paced', url: receiver.url() }]),
      store: memoryStore(3, 'paced'),
      revision: 0,
      externalUrl: () => '',
      metrics: noopWebhookMetrics,
      logger: createSilentLogger(),
      clock: Date.now,
      pace: () => {
        paced += 1;
        return gate;
      },
    });
    dispatcher.notify(3);
    await waitFor('the first attempt to wait for its pace', () => paced === 1);
    expect(receiver.at('/hook')).to.deep.equal([]);
    open();
    const arrivals = await receiver.waitForCount('/hook', 3);
    expect(arrivals.map((a) => a.revision)).to.deep.equal([1, 2, 3]);
    expect(paced).to.equal(3);
  });
});
