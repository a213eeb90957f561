// Shared harness of the real-browser tests: headless Chromium driven by
// playwright-core (installed by scripts/setup.sh), one fresh profile per run.
//
// A scenario module calls `run(async (t) => { ... })`. It gets its parameters
// as one JSON argument (`t.params`, always with `url`: the hub's public URL)
// and reports what the user saw by setting fields of `t.result`. The harness
// prints exactly one JSON line on stdout:
//   {"ok": true|false, "error": "...", "steps": [...], "pageErrors": [...],
//    "consoleErrors": [...], ...scenario fields}
// Uncaught page exceptions and console errors are collected, never ignored;
// a scenario that expects one (Chromium logs "Failed to load resource: the
// server responded with a status of 404" for a 4xx document or fetch too)
// removes it with `await t.expectConsoleError(regex)`.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const browserDir = process.env.FERROHUB_BROWSER || '/opt/ferrohub/browser';
const require = createRequire(path.join(browserDir, 'package.json'));
const { chromium } = require('playwright-core');
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// The widths a page is checked and photographed at: a desktop and a phone.
const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
};

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function run(scenario) {
  const params = JSON.parse(process.argv[2] || '{}');
  const started = Date.now();
  const result = { ok: false, steps: [], pageErrors: [], consoleErrors: [] };
  let browser;
  let page;
  const t = {
    params,
    result,
    /** Marks progress (shown with its time when a scenario fails). */
    step(name) {
      result.steps.push({ name, ms: Date.now() - started });
    },
    /** Removes the collected console errors matching `re`; fails if none
     * arrives within two seconds. */
    async expectConsoleError(re) {
      const deadline = Date.now() + 2_000;
      while (!result.consoleErrors.some((e) => re.test(e.text))) {
        if (Date.now() > deadline) throw new Error(`expected a console error matching ${re}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      result.consoleErrors = result.consoleErrors.filter((e) => !re.test(e.text));
    },
    /** The trimmed visible text of the first element matching `selector`,
     * retried while a reload (e.g. a meta refresh) replaces the document. */
    async text(selector, timeout = 10_000) {
      const deadline = Date.now() + timeout;
      for (;;) {
        try {
          return (await page.locator(selector).first().innerText({ timeout: 2_000 })).trim();
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    /** The path of the page's current URL. */
    path() {
      return new URL(page.url()).pathname;
    },
    /** Checks the current page as it stands, in light and dark colours at a
     * desktop's and a phone's width: axe-core's violations (all impacts; the
     * Rust side refuses serious and critical ones), whether the page scrolls
     * sideways at a phone's width, and a full-page screenshot of each of the
     * four into `params.artifacts/<name>-<scheme>-<viewport>.png`. Appends
     * `{name, path, checks: [...]}` to `result.audits`. */
    async audit(name) {
      const checks = [];
      const original = page.viewportSize();
      for (const scheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme: scheme });
        for (const [viewportName, size] of Object.entries(VIEWPORTS)) {
          await page.setViewportSize(size);
          await page.waitForTimeout(50);
          const hasAxe = await page.evaluate(() => typeof window.axe !== 'undefined');
          if (!hasAxe) await page.addScriptTag({ content: AXE_SOURCE });
          const violations = await page.evaluate(async () => {
            const found = await window.axe.run(document, { resultTypes: ['violations'] });
            return found.violations.map((v) => ({
              id: v.id,
              impact: v.impact,
              help: v.help,
              targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
            }));
          });
          const overflow = await page.evaluate(
            () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
          );
          let screenshot = null;
          if (params.artifacts) {
            fs.mkdirSync(params.artifacts, { recursive: true });
            screenshot = path.join(params.artifacts, `${name}-${scheme}-${viewportName}.png`);
            await page.screenshot({ path: screenshot, fullPage: true });
          }
          checks.push({ scheme, viewport: viewportName, violations, overflow, screenshot });
        }
      }
      await page.emulateMedia({ colorScheme: null });
      if (original) await page.setViewportSize(original);
      result.audits = result.audits || [];
      result.audits.push({ name, path: t.path(), checks });
      t.step(`audited ${name}`);
    },
  };
  try {
    browser = await chromium.launch({
      executablePath: process.env.FERROHUB_CHROMIUM || '/usr/bin/chromium',
      // `params.chromiumArgs`: a scenario's own flags (e.g. host-resolver
      // rules that send made-up host names to the loopback interface).
      args: [...CHROMIUM_FLAGS, ...(params.chromiumArgs || [])],
      timeout: 60_000,
    });
    result.browserVersion = browser.version();
    // `params.ignoreHTTPSErrors`: the hub serves a certificate the test made
    // itself (crates/cli/tests/tls_and_addresses.rs, reverse_proxies.rs).
    const context = await browser.newContext({ ignoreHTTPSErrors: !!params.ignoreHTTPSErrors });
    context.setDefaultTimeout(30_000);
    context.setDefaultNavigationTimeout(60_000);
    const watch = (p) => {
      p.on('pageerror', (e) =>
        result.pageErrors.push({ url: p.url(), text: String(e && (e.stack || e.message || e)) }),
      );
      p.on('console', (m) => {
        if (m.type() === 'error') {
          result.consoleErrors.push({ url: p.url(), text: m.text(), at: m.location().url });
        }
      });
    };
    context.on('page', watch);
    // Everything a page needs is served by the hub (or the user's server
    // behind the same proxy): any request elsewhere is recorded, and fails
    // the test on the Rust side. `params.allowedOrigins` names the other
    // sites a scenario visits on purpose (an OAuth identity provider).
    const expectedOrigins = new Set([new URL(params.url).origin, ...(params.allowedOrigins || [])]);
    context.on('request', (r) => {
      const u = new URL(r.url());
      if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) return;
      const origin = `${u.protocol.replace('ws', 'http')}//${u.host}`;
      if (!expectedOrigins.has(origin)) {
        result.externalRequests = result.externalRequests || [];
        result.externalRequests.push(r.url());
      }
    });
    page = await context.newPage();
    t.page = page;
    t.context = context;
    t.step('browser started');
    await scenario(t);
    result.ok = true;
  } catch (e) {
    result.error = String((e && e.stack) || e);
    if (page) {
      result.failedAt = page.url();
      result.failedPageText = await page
        .locator('body')
        .innerText({ timeout: 2_000 })
        .then((s) => s.slice(0, 2_000))
        .catch(() => null);
      if (params.screenshot) {
        await page.screenshot({ path: params.screenshot, fullPage: true }).catch(() => {});
        result.screenshot = params.screenshot;
      }
    }
  } finally {
    result.ms = Date.now() - started;
    if (browser) await browser.close().catch(() => {});
    process.stdout.write(JSON.stringify(result) + '\n');
  }
}
