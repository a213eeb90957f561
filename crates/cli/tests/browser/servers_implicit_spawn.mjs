// JupyterHub.implicit_spawn_seconds: the "not running" page counts down
// visibly and then starts the server by itself; the person may also stop
// the countdown.
// Params: url, user, password, seconds.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const user = params.user;

  await page.goto(`${params.url}/hub/login`);
  await page.locator('#username_input').fill(user);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');

  await page.goto(`${params.url}/user/${user}/`);
  await t.expectConsoleError(/status of 424/);
  const first = Number(await t.text('#countdown'));
  await page.waitForTimeout(2_100);
  const later = Number(await t.text('#countdown'));
  result.countdown = { first, later, text: await t.text('#implicit-spawn'), role: await page.locator('#countdown').getAttribute('role') };
  await t.audit('not-running-countdown');

  // Stopping the countdown keeps the person on the page.
  await page.locator('#cancel-implicit').click();
  await page.waitForTimeout(Number(params.seconds) * 1000 + 1_000);
  result.cancelled = { path: t.path(), text: await t.text('#implicit-spawn') };
  await t.audit('not-running-countdown-cancelled');

  // Left alone, the page launches the server by itself.
  const requested = [];
  page.on('request', (r) => {
    if (r.isNavigationRequest()) requested.push(new URL(r.url()).pathname);
  });
  const loaded = Date.now();
  await page.goto(`${params.url}/user/${user}/`);
  await t.expectConsoleError(/status of 424/);
  await page.waitForURL((u) => u.pathname === `/user/${user}/`, { timeout: 120_000, waitUntil: 'commit' });
  result.autoLaunchAfterMs = Date.now() - loaded;
  result.landedOn = t.path();
  result.requested = requested;
});
