/**
 * The end-of-run check of the watchers: every change committed to a project during the run
 * (counted from the project's history) should have reached each of its watchers, unless that
 * watcher got a RESYNC or was closed.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { ChildServer } from './children.js';
import { getJson } from './load.js';
import { watchersTally, type WatcherLayout } from './soak-children.js';
import type { Delivery } from './soak-summary.js';
import type { ProjectTally, WatchersTally } from './soak-watchers.js';

const HISTORY_PAGE = 10_000;
/** The tally counts as settled once it has not moved for this long. */
const QUIET_MS = 3000;
const SETTLE_TIMEOUT_MS = 120_000;
const POLL_MS = 250;

/** Changes committed to the project after revision `base`, counted from its history. */
async function changesSince(server: ChildServer, project: string, base: number): Promise<number> {
  let since = base;
  let count = 0;
  for (;;) {
    const url = `${server.url}/v4/${project}/admin/alarms/history?since=${since}&limit=${HISTORY_PAGE}`;
    const page = (await getJson(url)) as { history: { revision: number }[] };
    count += page.history.length;
    const last = page.history[page.history.length - 1];
    if (!last || page.history.length < HISTORY_PAGE) return count;
    since = last.revision;
  }
}

/** Whether watcher `i` got a RESYNC or was closed, so it cannot be expected to have every change. */
function troubled(t: ProjectTally, i: number): boolean {
  return (t.resyncs[i] as number) > 0 || (t.closed[i] as number) > 0;
}

/** Whether every watcher without trouble has received every change of its project. */
function allDelivered(tally: WatchersTally, changes: Record<string, number>): boolean {
  return Object.entries(tally.projects).every(([project, t]) => t.unique.every((u, i) => troubled(t, i) || u >= (changes[project] ?? 0)));
}

/** Waits until every watcher without trouble has every change, or the tally stops moving. */
async function settledTally(watchers: ChildServer, changes: Record<string, number>): Promise<WatchersTally> {
  const started = performance.now();
  let tally = await watchersTally(watchers);
  let movedAt = performance.now();
  const waiting = (): boolean =>
    !allDelivered(tally, changes) && performance.now() - movedAt < QUIET_MS && performance.now() - started < SETTLE_TIMEOUT_MS;
  while (waiting()) {
    await delay(POLL_MS);
    const next = await watchersTally(watchers);
    if (next.messages !== tally.messages) movedAt = performance.now();
    tally = next;
  }
  return tally;
}

function emptyDelivery(layout: WatcherLayout, changes: Record<string, number>, tally: WatchersTally, settleMs: number): Delivery {
  return {
    watchers: layout.projects.length * layout.watchersPerProject,
    changesPerProject: changes,
    expected: 0,
    received: 0,
    lost: 0,
    missedAfterResync: 0,
    extra: 0,
    duplicates: 0,
    messages: tally.messages,
    resyncs: tally.resyncs,
    watchersResynced: 0,
    closed: tally.closed,
    settleMs,
  };
}

/**
 * Compares what each watcher received with the changes of its project after revision `base`;
 * call it once every write of the run was answered (`lastAnswerAt`, a performance.now() time).
 */
export async function checkDelivery(
  server: ChildServer,
  watchers: ChildServer,
  layout: WatcherLayout,
  base: number,
  lastAnswerAt: number,
): Promise<Delivery> {
  const changes: Record<string, number> = {};
  for (const p of layout.projects) changes[p] = await changesSince(server, p, base);
  const tally = await settledTally(watchers, changes);
  const d = emptyDelivery(layout, changes, tally, performance.now() - lastAnswerAt);
  for (const [project, t] of Object.entries(tally.projects)) {
    const expected = changes[project] ?? 0;
    d.duplicates += t.duplicates;
    t.unique.forEach((u, i) => {
      d.expected += expected;
      d.received += u;
      d.extra += Math.max(0, u - expected);
      if (troubled(t, i)) d.missedAfterResync += Math.max(0, expected - u);
      else d.lost += Math.max(0, expected - u);
      if ((t.resyncs[i] as number) > 0) d.watchersResynced += 1;
    });
  }
  return d;
}
