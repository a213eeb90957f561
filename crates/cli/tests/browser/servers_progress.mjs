// Live progress: a person signs in, lands on the spawn-pending page and
// watches the progress bar move (every aria-valuenow it takes, with when)
// and the event log fill, until the page takes them to JupyterLab.
// Then the same without JavaScript: the page's <noscript> meta refresh
// reloads it until the server is ready, and the hub sends the browser on.
// Params: url, user, password, noscriptUser.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const user = params.user;
  const values = [];
  const lines = [];
  const started = Date.now();
  // Bound before any page loads, so no step of the bar is missed; the
  // observer is installed into every document the tab opens.
  await page.exposeBinding('__seenProgress', (_source, value) => {
    values.push({ value: Number(value), ms: Date.now() - started });
  });
  await page.exposeBinding('__seenLogLine', (_source, text) => {
    lines.push(text);
  });
  await page.addInitScript(() => {
    document.addEventListener('DOMContentLoaded', () => {
      const bar = document.getElementById('progress-bar');
      const log = document.getElementById('progress-log');
      if (!bar || !log) return;
      window.__seenProgress(bar.getAttribute('aria-valuenow'));
      new MutationObserver(() => window.__seenProgress(bar.getAttribute('aria-valuenow'))).observe(bar, {
        attributes: true,
        attributeFilter: ['aria-valuenow'],
      });
      new MutationObserver((records) => {
        for (const r of records) for (const n of r.addedNodes) window.__seenLogLine(n.textContent);
      }).observe(log, { childList: true });
    });
  });

  await page.goto(`${params.url}/hub/login`);
  await page.locator('#username_input').fill(user);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname.startsWith('/hub/spawn-pending/'), { waitUntil: 'domcontentloaded' });
  result.pendingPath = t.path();
  result.heading = await t.text('h1');
  result.bar = {
    role: await page.locator('#progress-bar').getAttribute('role'),
    label: await page.locator('#progress-bar').getAttribute('aria-label'),
    min: await page.locator('#progress-bar').getAttribute('aria-valuemin'),
    max: await page.locator('#progress-bar').getAttribute('aria-valuemax'),
  };
  result.logLive = await page.locator('#progress-log').getAttribute('aria-live');
  result.cancelVisible = await page.locator('#cancel').isVisible();
  t.step('pending page');

  await page.waitForURL((u) => u.pathname.startsWith(`/user/${user}/`), { timeout: 150_000, waitUntil: 'commit' });
  result.landedOn = t.path();
  result.values = values;
  result.lines = lines;
  t.step('redirected to the server');
  await page.locator('#jp-main-dock-panel').waitFor({ state: 'visible', timeout: 90_000 });
  result.labTitle = await page.title();

  // Without JavaScript (a fresh browser context, so a fresh login).
  const plain = await t.context.browser().newContext({ javaScriptEnabled: false });
  const tab = await plain.newPage();
  const loads = [];
  tab.on('framenavigated', (frame) => {
    if (frame === tab.mainFrame()) loads.push(new URL(frame.url()).pathname);
  });
  await tab.goto(`${params.url}/hub/login`);
  await tab.locator('#username_input').fill(params.noscriptUser);
  await tab.locator('#password_input').fill(params.password);
  await tab.locator('#login_submit').click();
  await tab.waitForURL((u) => u.pathname.startsWith('/hub/spawn-pending/'));
  result.noscript = {
    refresh: await tab.locator('noscript meta[http-equiv=refresh]').count(),
    note: (await tab.locator('main').innerText()).includes('This page reloads itself every 2 seconds'),
  };
  await tab.waitForURL((u) => u.pathname.startsWith(`/user/${params.noscriptUser}/`), { timeout: 150_000, waitUntil: 'commit' });
  result.noscript.loads = loads;
  await plain.close();
});
