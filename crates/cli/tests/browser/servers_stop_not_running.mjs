// A server that is not running: /user/<name>/ shows the "not running" page
// (424) with a Launch button, which starts it. While it stops (the server
// ignores SIGINT, so stopping takes LocalProcessSpawner.interrupt_timeout),
// its URL shows the stop-pending page, which waits and then offers a start.
// Params: url, user, password.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const user = params.user;

  await page.goto(`${params.url}/hub/login`);
  await page.locator('#username_input').fill(user);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');

  const response = await page.goto(`${params.url}/user/${user}/`);
  await t.expectConsoleError(/status of 424/);
  result.notRunning = {
    status: response.status(),
    path: t.path(),
    title: await page.title(),
    heading: await t.text('h1'),
    message: await t.text('#not-running-message'),
    launch: await t.text('a#start'),
    launchHref: await page.locator('a#start').getAttribute('href'),
    countdown: await page.locator('#implicit-spawn').count(),
  };
  await t.audit('not-running');

  await page.locator('a#start').click();
  await page.waitForURL((u) => u.pathname === `/user/${user}/`, { timeout: 120_000 });
  result.launchedTo = t.path();
  result.served = await t.text('body');
  t.step('launched');

  // Stop it (not waiting for the answer) and look at its URL meanwhile.
  await page.goto(`${params.url}/hub/home`);
  await page.evaluate((u) => {
    const xsrf = document.cookie.split('; ').find((c) => c.startsWith('_xsrf='))?.slice(6) || '';
    fetch(`/hub/api/users/${u}/server`, { method: 'DELETE', headers: { 'X-XSRFToken': decodeURIComponent(xsrf) } }).catch(() => {});
  }, user);
  await page.waitForTimeout(500);
  await page.goto(`${params.url}/hub/user/${user}/`);
  result.stopPending = {
    path: t.path(),
    title: await page.title(),
    heading: await t.text('h1'),
    status: await t.text('#stop-status'),
  };
  await t.audit('stop-pending');
  // The page waits for the stop and then shows the start button.
  await page.locator('a#start').waitFor({ timeout: 60_000 });
  result.afterStop = {
    path: t.path(),
    heading: await t.text('h1'),
    launch: await t.text('a#start'),
  };
  await t.audit('stopped-after-stop-pending');
});
