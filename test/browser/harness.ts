/**
 * Shared by the console's browser tests: Debian's Chromium driven by playwright-core (nothing
 * downloads a browser), the console built from the current source, pages that fail the test on
 * a script error or a Content-Security-Policy violation, and API calls beside the page.
 *
 * Chromium missing: the tests say so loudly and skip; under CI=true they fail (.ci/run installs it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import request from 'supertest';
import { buildConsole } from '../../web/build.js';
import { findProgram, requirePrograms } from '../helpers/programs.js';

export const CHROMIUM = { command: 'chromium', debianPackage: 'chromium' } as const;

/**
 * Where the tests save their screenshots: .screenshots/ (not tracked), so a test run leaves the
 * working tree as it was; with UPDATE_SCREENSHOTS=1, docs/, the ones the README shows.
 */
export const SCREENSHOTS = fileURLToPath(new URL(process.env.UPDATE_SCREENSHOTS === '1' ? '../../docs/' : '../../.screenshots/', import.meta.url));

let built: Promise<unknown> | undefined;

/** What the browser itself logs of failed requests the page expects and handles. */
const BROWSER_NOTES = /the server responded with a status of 4\d\d|net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE|INCOMPLETE_CHUNKED_ENCODING)/;

/** A page of the console with what went wrong in it: script errors and CSP violations. */
export interface ConsolePage {
  page: Page;
  context: BrowserContext;
  /** Uncaught errors, console errors and Content-Security-Policy violations seen so far. */
  problems: string[];
}

/**
 * The enclosing describe's browser: built console, Chromium launched before its tests (skipping
 * them when Chromium is missing) and closed after; every page opened is closed after each test.
 */
export function useBrowser(): { open(url: string, options?: { colorScheme?: 'light' | 'dark'; storage?: Record<string, string> }): Promise<ConsolePage> } {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];

  before(async function () {
    this.timeout(60_000);
    requirePrograms(this, [CHROMIUM]);
    built ??= buildConsole();
    await built;
    browser = await chromium.launch({ executablePath: findProgram(CHROMIUM.command), headless: true, args: ['--no-sandbox'] });
  });

  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
  });

  after(async () => {
    await browser?.close();
  });

  return {
    async open(url, options = {}) {
      if (!browser) throw new Error('the browser did not start');
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: options.colorScheme ?? 'light' });
      contexts.push(context);
      const problems: string[] = [];
      if (options.storage) {
        await context.addInitScript((entries: Record<string, string>) => {
          for (const [k, v] of Object.entries(entries)) sessionStorage.setItem(k, v);
        }, options.storage);
      }
      await context.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
      });
      const page = await context.newPage();
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('console', (msg) => {
        // The browser logs API calls answered 4xx (asking who a token is, an unhealthy verdict, a
        // panel whose route is missing) and a server it cannot reach (while one restarts); the
        // page itself logs nothing.
        if (msg.type() === 'error' && !BROWSER_NOTES.test(msg.text())) problems.push(`console error: ${msg.text()}`);
      });
      await page.goto(url);
      return { page, context, problems };
    },
  };
}

/** Fails when the page had script errors or CSP violations. */
export function expectNoProblems(p: ConsolePage): void {
  expect(p.problems, 'script errors or CSP violations in the page').to.deep.equal([]);
}

/** Raises (or clears) alarms over the API, as a service would. */
export async function raise(url: string, alarms: object | object[], headers: Record<string, string> = {}, project = 'default'): Promise<void> {
  const body = Array.isArray(alarms) ? { alarms } : alarms;
  const res = await request(url).post(`/v4/${project}/admin/alarms`).set(headers).send(body);
  expect(res.status, res.text).to.equal(200);
}

/** The alarms of a project over the API. */
export async function listed(url: string, headers: Record<string, string> = {}, project = 'default'): Promise<{ id: string; source: string; status: string; acknowledged: boolean; ackedBy?: string; ackComment?: string; ackExpiresAt?: string }[]> {
  const res = await request(url).get(`/v4/${project}/admin/alarms`).set(headers);
  expect(res.status, res.text).to.equal(200);
  return res.body.alarms;
}

/** Saves a screenshot of the page under `name` (see SCREENSHOTS). */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, name);
  await page.screenshot({ path: file });
  return file;
}

/** The table row of an alarm, found by its id button's text and its source cell. */
export function rowOf(page: Page, id: string, source = '') {
  return page.locator('tr.row').filter({ has: page.getByRole('button', { name: id, exact: true }) }).filter({ has: page.locator('td.c-source', { hasText: source }) });
}
