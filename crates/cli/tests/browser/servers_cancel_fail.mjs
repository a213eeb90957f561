// A spawn that takes a while and then fails (Spawner.cmd sleeps, then exits 3):
// first the person cancels it from the pending page, then starts again and
// waits: the page shows the failure (no internals) and a "Try again" link;
// reloaded, the pending page is upstream's "Spawn failed" page.
// Params: url, user, password.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const user = params.user;

  await page.goto(`${params.url}/hub/login`);
  await page.locator('#username_input').fill(user);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === `/hub/spawn-pending/${user}`);
  await page.locator('#progress-log li').first().waitFor();
  result.pending = {
    heading: await t.text('h1'),
    firstLine: await t.text('#progress-log li'),
    cancel: await t.text('#cancel'),
  };
  await t.audit('spawn-pending');

  // Cancel: DELETE through the REST API, then home.
  await page.locator('#cancel').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');
  result.afterCancel = { path: t.path(), text: await t.text('main') };
  t.step('cancelled');

  // Again, and this time wait for the failure.
  await page.locator('button#start').click();
  await page.waitForURL((u) => u.pathname === `/hub/spawn-pending/${user}`);
  await page.locator('#spawn-failed').waitFor({ state: 'visible', timeout: 90_000 });
  result.failed = {
    heading: await t.text('h1'),
    title: await page.title(),
    intro: await page.locator('#pending-intro').isVisible(),
    message: await t.text('#spawn-failed-message'),
    tryAgain: await t.text('#try-again'),
    tryAgainHref: await page.locator('#try-again').getAttribute('href'),
    focused: await page.evaluate(() => document.activeElement && document.activeElement.id),
    barFailed: await page.locator('#progress-bar').evaluate((b) => b.classList.contains('failed')),
    value: await page.locator('#progress-bar').getAttribute('aria-valuenow'),
    log: await page.locator('#progress-log li').allInnerTexts(),
    cancelHidden: await page.locator('#cancel').isHidden(),
  };
  await t.audit('spawn-failed');

  // The pending page, reloaded after the failure: "Spawn failed" (500, as upstream).
  const reloaded = await page.reload();
  await t.expectConsoleError(/status of 500/);
  result.failedPage = {
    status: reloaded.status(),
    title: await page.title(),
    heading: await t.text('h1'),
    message: await t.text('#failed-message'),
    relaunch: await t.text('a#start'),
    relaunchHref: await page.locator('a#start').getAttribute('href'),
  };
  await t.audit('not-running-failed');
});
