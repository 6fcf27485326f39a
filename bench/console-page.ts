/**
 * Part H's browser: Debian's Chromium, headless, driven by playwright-core through its
 * `executablePath` (nothing downloads a browser), and what the bench reads in the console's page:
 * the first render of a fresh page, and when each row first appears in the document.
 *
 * The browser is always closed by `withChromium`; should the bench exit first, playwright-core's
 * own `exit` handler kills it. Signals are left to the bench (run.ts exits on them).
 */
import fs from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Where the Debian `chromium` package installs the browser. */
export const CHROMIUM_BIN = '/usr/bin/chromium';

/** The window the console is measured in, as the browser tests size it. */
const VIEWPORT = { width: 1400, height: 900 };
/** Longest wait for a page to load, render or show something. */
const PAGE_TIMEOUT_MS = 60_000;
/**
 * What the browser itself logs of requests the page expects and handles (the cluster's verdict
 * is answered 400 while alarms are active); the page itself logs nothing.
 */
const BROWSER_NOTES = /the server responded with a status of 4\d\d/;

/** Whether Chromium is installed. */
export function chromiumInstalled(): boolean {
  try {
    fs.accessSync(CHROMIUM_BIN, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Launches headless Chromium, runs `fn` with it and always closes it. */
export async function withChromium<T>(fn: (browser: Browser) => Promise<T>): Promise<T> {
  const root = process.getuid?.() === 0;
  const browser = await chromium.launch({
    executablePath: CHROMIUM_BIN,
    headless: true,
    // Chromium refuses to run as root with its sandbox on.
    args: root ? ['--no-sandbox'] : [],
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}

/** A page in a context of its own (empty cache and storage), with the script errors it has had. */
export interface BenchPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors and console errors seen so far. */
  problems: string[];
}

/** Opens a fresh context whose pages run `init` before the page's own scripts, and a page in it (not navigated yet). */
async function newPage(browser: Browser, init: (arg: string) => void, arg: string): Promise<BenchPage> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  try {
    await context.addInitScript(init, arg);
    const page = await context.newPage();
    page.setDefaultTimeout(PAGE_TIMEOUT_MS);
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !BROWSER_NOTES.test(msg.text())) problems.push(`console error: ${msg.text()}`);
    });
    return { context, page, problems };
  } catch (err) {
    await context.close();
    throw err;
  }
}

/** What one fresh page load of the console showed; times in ms after navigation start. */
export interface FirstRender {
  /** The page's own mark `console-first-render`: the first rendered list has reached the screen. */
  markMs: number;
  /** When the count of active alarms first read `countText`. */
  countMs: number;
  /** Alarm rows in the document at the mark (the list renders only the rows in view). */
  rowsInDocument: number;
  problems: string[];
}

interface CountWatch {
  __benchCountAt?: number;
}

/** Notes, from the page's first script on, when the `.counts` text first starts with `expected`. */
function watchCount(expected: string): void {
  const observer = new MutationObserver(() => {
    if (!document.querySelector('.counts')?.textContent?.startsWith(expected)) return;
    (window as CountWatch).__benchCountAt = performance.now();
    observer.disconnect();
  });
  observer.observe(document, { childList: true, subtree: true, characterData: true });
}

/** Loads `url` in a fresh context and reads its first render; `countText` is the count it must show (e.g. "10,000 active alarms"). */
export async function firstRender(browser: Browser, url: string, countText: string): Promise<FirstRender> {
  const p = await newPage(browser, watchCount, countText);
  try {
    await p.page.goto(url);
    await p.page.waitForFunction(
      () => (window as CountWatch).__benchCountAt !== undefined && performance.getEntriesByName('console-first-render').length > 0,
    );
    const read = await p.page.evaluate(() => ({
      markMs: performance.getEntriesByName('console-first-render')[0]?.startTime ?? Number.NaN,
      countMs: (window as CountWatch).__benchCountAt ?? Number.NaN,
      rowsInDocument: document.querySelectorAll('tr.row').length,
    }));
    return { ...read, problems: p.problems };
  } finally {
    await p.context.close();
  }
}

interface RowWatch {
  __benchSeen?: Map<string, number>;
}

/**
 * Notes, from the page's first script on, the `Date.now()` at which a row whose source starts
 * with `prefix` is first in the document. Runs after every change to the document's tree, in the
 * microtask right after the render that made it: before layout and paint.
 */
function watchRows(prefix: string): void {
  const seen = new Map<string, number>();
  (window as RowWatch).__benchSeen = seen;
  new MutationObserver(() => {
    const now = Date.now();
    for (const cell of document.querySelectorAll('tr.row td.c-source')) {
      const source = cell.textContent ?? '';
      if (source.startsWith(prefix) && !seen.has(source)) seen.set(source, now);
    }
  }).observe(document, { childList: true, subtree: true });
}

/** A console page that notes when rows appear; close its context when done. */
export interface WatchedPage extends BenchPage {
  /** The `Date.now()` at which each source's row first appeared, so far. */
  seen(): Promise<Map<string, number>>;
}

/**
 * Opens `url` in a fresh context, noting when each row whose source starts with `prefix` first
 * appears, and resolves once the page shows `countText` and follows the project live.
 */
export async function openWatched(browser: Browser, url: string, prefix: string, countText: string): Promise<WatchedPage> {
  const p = await newPage(browser, watchRows, prefix);
  try {
    await p.page.goto(url);
    await p.page.locator('.counts', { hasText: countText }).waitFor();
    await p.page.locator('.connection.live').waitFor();
    const seen = async (): Promise<Map<string, number>> =>
      new Map(await p.page.evaluate(() => [...((window as RowWatch).__benchSeen ?? new Map<string, number>())]));
    return { ...p, seen };
  } catch (err) {
    await p.context.close();
    throw err;
  }
}
