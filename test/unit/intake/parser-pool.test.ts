import { expect } from 'chai';
import { parsePostableAlerts } from '../../../src/intake/alertmanager.js';
import type { IntakeBatch } from '../../../src/intake/op.js';
import { PostableAlertsParser, type ParsedBody } from '../../../src/intake/parser-pool.js';
import { Registry } from 'prom-client';

const NOW = Date.UTC(2026, 0, 15, 12);
const RESOLVE = 5 * 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

const alert = (n: number, over: Record<string, unknown> = {}) => ({
  labels: { alertname: 'HostDown', instance: `host-${n}:9100`, job: 'node', severity: n % 2 ? 'critical' : 'warning' },
  annotations: { summary: `host-${n} is down`, note: 'quote " and backslash \\ and \u00e9' },
  startsAt: '2026-01-15T11:55:00.123456789+01:00',
  endsAt: iso(NOW + 4 * 60_000),
  generatorURL: 'http://prometheus:9090/graph?g0.expr=up+%3D%3D+0',
  ...over,
});

/** Bodies as posted: raises, a clear, one without endsAt, invalid alerts beside valid ones, not an array, empty, not JSON. */
const BODIES: Record<string, string> = {
  'firing alerts': JSON.stringify([alert(1), alert(2), alert(3)]),
  'a resolved alert and one without endsAt': JSON.stringify([alert(4, { endsAt: iso(NOW - 1) }), alert(5, { endsAt: undefined })]),
  'invalid alerts beside valid ones': JSON.stringify([alert(6), { labels: {} }, alert(7, { startsAt: 'yesterday' }), 'no']),
  'an object': '{"alerts":[]}',
  'an empty body': '',
  'not JSON': '[{"labels":',
  'a lone surrogate': '[{"labels":{"alertname":"A","x":"\\ud800"}}]',
};

/** What parsePostableAlerts gives over JSON.parse, as the parser answers it: raises carry their fields as JSON text only. */
function expected(text: string): ParsedBody {
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch (err) {
    return { ok: false, malformed: (err as Error).message };
  }
  const batch: IntakeBatch = parsePostableAlerts(body, NOW, RESOLVE);
  return { ok: true, batch: { errors: batch.errors, ops: batch.ops.map((op) => (op.kind === 'raise' ? (({ fields: _, ...rest }) => rest)(op) : op)) } };
}

/** A thread module: answers each request with an empty batch, and ends its thread on the request it is told to. */
const dyingThread = (exitOn: number) =>
  new URL(
    `data:text/javascript,${encodeURIComponent(
      `import { parentPort } from 'node:worker_threads'; let n = 0;
       parentPort.on('message', (r) => { n += 1; if (n === ${exitOn}) process.exit(3); parentPort.postMessage({ id: r.id, batch: { ops: [], errors: [] } }); });`,
    )}`,
  );

describe('PostableAlertsParser', () => {
  const opened: PostableAlertsParser[] = [];
  const open = (options: ConstructorParameters<typeof PostableAlertsParser>[0]) => {
    const p = new PostableAlertsParser(options);
    opened.push(p);
    return p;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((p) => p.close()));
  });

  for (const threads of [0, 2]) {
    describe(`with ${threads} threads`, () => {
      for (const [name, text] of Object.entries(BODIES)) {
        it(`answers ${name} as parsePostableAlerts over JSON.parse does`, async () => {
          const parser = open({ threads });

          const parsed = await parser.parse(text, NOW, RESOLVE);

          expect(parsed).to.deep.equal(expected(text));
        });
      }

      it('answers many bodies at once, each its own', async () => {
        const parser = open({ threads });
        const texts = Array.from({ length: 50 }, (_, i) => JSON.stringify([alert(i), alert(i + 100)]));

        const answers = await Promise.all(texts.map((t) => parser.parse(t, NOW, RESOLVE)));

        expect(answers).to.deep.equal(texts.map(expected));
      });
    });
  }

  it('reads the bodies on the event loop when its thread cannot start, counts it, and does not start it again', async () => {
    const registry = new Registry();
    const lost: string[] = [];
    const parser = open({
      threads: 1,
      registry,
      onThreadLost: (err) => lost.push(err.message),
      entry: { url: new URL(`data:text/javascript,${encodeURIComponent('throw new Error("cannot start")')}`), options: {} },
    });
    const text = BODIES['firing alerts'] as string;

    const answers = [await parser.parse(text, NOW, RESOLVE), await parser.parse(text, NOW, RESOLVE)];

    expect(answers).to.deep.equal([expected(text), expected(text)]);
    expect(lost).to.deep.equal(['cannot start']);
    expect((await registry.getSingleMetric('alarm_center_intake_parser_threads_lost_total')?.get())?.values[0]?.value).to.equal(1);
  });

  it('reads the bodies a dead thread held on the event loop, and starts another thread', async () => {
    const lost: string[] = [];
    const parser = open({ threads: 1, onThreadLost: (err) => lost.push(err.message), entry: { url: dyingThread(2), options: {} } });
    const text = BODIES['firing alerts'] as string;
    const fromThread: ParsedBody = { ok: true, batch: { ops: [], errors: [] } };

    const first = await parser.parse(text, NOW, RESOLVE);
    const held = await parser.parse(text, NOW, RESOLVE);
    const next = await parser.parse(text, NOW, RESOLVE);

    expect(first, 'answered by the thread').to.deep.equal(fromThread);
    expect(held, 'the dead thread held it: read on the event loop').to.deep.equal(expected(text));
    expect(next, 'answered by the new thread').to.deep.equal(fromThread);
    expect(lost).to.deep.equal(['parser thread exited with code 3']);
  });
});
