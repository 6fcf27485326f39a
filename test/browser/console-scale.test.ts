/**
 * The console with 10,000 active alarms: only the rows in view are in the document, scrolling
 * reaches the last row, and 100 changes a second are applied as they come. The times are
 * printed, not asserted (benchmarks measure; tests check behaviour): first render, a scroll to
 * the end, a scripted scroll's frame times, and how long after the last change the page shows it.
 */
import { setTimeout as until } from 'node:timers/promises';
import { expect } from 'chai';
import { startServer, type RunningServer } from '../../src/root.js';
import { expectNoProblems, raise, useBrowser } from './harness.js';

const ALARMS = 10_000;
const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'indeterminate'];

/** `n` alarms over 200 ids, with sources and severities spread. */
function manyAlarms(n: number, from = 0): object[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return { id: `Alarm${String(i % 200).padStart(3, '0')}`, source: `host-${i}`, severity: SEVERITIES[i % 5], fields: { detail: `problem number ${i}` } };
  });
}

describe('console in the browser: 10,000 alarms', function () {
  this.timeout(120_000);
  const browser = useBrowser();
  let server: RunningServer;

  before(async function () {
    this.timeout(60_000);
    server = await startServer({ port: 0, dataDir: ':memory:' });
    for (let i = 0; i < ALARMS; i += 1000) await raise(server.url, manyAlarms(1000, i));
  });

  after(() => server?.close());

  it('renders only the rows in view, scrolls to the last, and keeps up with 100 changes a second', async () => {
    const p = await browser.open(server.url);
    const { page } = p;
    await page.locator('.counts', { hasText: '10,000 active alarms' }).waitFor();
    const firstRender = await page.evaluate(() => performance.getEntriesByName('console-first-render')[0]?.startTime);
    const inDocument = await page.locator('tr.row').count();
    expect(inDocument, 'rows in the document').to.be.within(10, 120);
    expect(await page.locator('table.alarms').getAttribute('aria-rowcount')).to.equal(String(ALARMS + 1));

    const scrolled = await page.evaluate(async () => {
      const scroller = document.querySelector('.scroller') as HTMLElement;
      const frames: number[] = [];
      let last = performance.now();
      const started = last;
      // A scripted scroll through the list: 120 frames, each 400 px further (11 rows).
      for (let i = 0; i < 120; i += 1) {
        scroller.scrollTop += 400;
        await new Promise(requestAnimationFrame);
        const now = performance.now();
        frames.push(now - last);
        last = now;
      }
      const toEnd = performance.now();
      scroller.scrollTop = scroller.scrollHeight;
      return { total: toEnd - started, frames: frames.sort((a, b) => a - b), endAt: toEnd };
    });
    await page.locator(`tr[aria-rowindex="${ALARMS + 1}"]`).waitFor();
    expect(await page.locator('tr.row').count(), 'rows in the document at the end').to.be.within(10, 120);
    const median = scrolled.frames[Math.floor(scrolled.frames.length / 2)] ?? 0;
    const worst = scrolled.frames[scrolled.frames.length - 1] ?? 0;
    console.log(`      first render of ${ALARMS} alarms: ${Math.round(firstRender ?? -1)} ms after navigation; ${inDocument} rows in the document`);
    console.log(`      scripted scroll, 120 frames: ${Math.round(scrolled.total)} ms, frame median ${median.toFixed(1)} ms, worst ${worst.toFixed(1)} ms`);

    // 100 new alarms a second for 3 seconds, each its own commit.
    const started = Date.now();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 300; i += 1) {
      await until(Math.max(0, started + i * 10 - Date.now()));
      writes.push(raise(server.url, { id: 'Burst', source: `burst-${i}`, severity: 'critical', fields: { detail: `change ${i}` } }));
    }
    await Promise.all(writes);
    const committed = Date.now();
    await page.locator('.counts', { hasText: '10,300 active alarms' }).waitFor({ timeout: 10_000 });
    console.log(`      300 changes at 100/s in ${committed - started} ms; the page showed the last ${Date.now() - committed} ms after its commit`);
    await page.waitForFunction(() => document.title.startsWith('(10300) '));
    expectNoProblems(p);
  });
});
