// Home with named servers: a person adds a server with a name (refused
// names and the per-user limit are explained on the page), it starts and
// opens, is stopped, started again from its row, stopped and deleted.
// The services they may use are listed; an admin sees an Admin link, they
// do not.
// Params: url, user, password, admin.
import { run } from './lib.mjs';

const rowOf = (page, name) => page.locator(`tr.server-row[data-server-name="${name}"]`);

await run(async (t) => {
  const { page, params, result } = t;
  const user = params.user;
  const home = `${params.url}/hub/home`;
  page.on('dialog', (dialog) => {
    result.dialog = dialog.message();
    dialog.accept();
  });

  await page.goto(home);
  await page.locator('#username_input').fill(user);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');
  result.empty = {
    navLinks: await page.locator('header nav a').allInnerTexts(),
    named: await t.text('#named-servers'),
    services: await page.locator('#service-list a').evaluateAll((as) => as.map((a) => ({ text: a.textContent, href: a.getAttribute('href') }))),
  };
  await t.audit('home-named-empty');

  // A refused name: the page says why, keeps the name, marks the field.
  await page.locator('#new-server-name').fill('Bad Name!');
  await page.locator('#new-server-button').click();
  await page.waitForLoadState();
  await t.expectConsoleError(/status of 400/);
  result.badName = {
    path: t.path(),
    error: await t.text('#new-server-error'),
    kept: await page.locator('#new-server-name').inputValue(),
    invalid: await page.locator('#new-server-name').getAttribute('aria-invalid'),
  };
  await t.audit('home-named-bad-name');

  // A good name: created and started, through the pending page, to the server.
  await page.locator('#new-server-name').fill('analysis');
  await page.locator('#new-server-button').click();
  await page.waitForURL((u) => u.pathname.startsWith(`/user/${user}/analysis/`), { timeout: 150_000, waitUntil: 'commit' });
  result.createdLanding = t.path();
  t.step('created and started');

  await page.goto(home);
  const row = rowOf(page, 'analysis');
  result.running = {
    row: await row.innerText(),
    openHref: await row.locator('a.open-server').getAttribute('href'),
    url: await row.locator('a.server-link').innerText(),
    lastActivity: await row.locator('time').innerText(),
    lastActivityExact: await row.locator('time').getAttribute('datetime'),
  };
  await t.audit('home-named-running');

  // Over the limit of one named server: a clear message.
  await page.locator('#new-server-name').fill('second');
  await page.locator('#new-server-button').click();
  await page.waitForLoadState();
  await t.expectConsoleError(/status of 400/);
  result.overLimit = await t.text('#new-server-error');

  // Open it from its row.
  await rowOf(page, 'analysis').locator('a.open-server').click();
  await page.waitForURL((u) => u.pathname.startsWith(`/user/${user}/analysis/`), { waitUntil: 'commit' });
  result.opened = t.path();

  // Stop it from its row.
  await page.goto(home);
  await rowOf(page, 'analysis').locator('button.stop-server').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');
  const stopDeadline = Date.now() + 60_000;
  while ((await rowOf(page, 'analysis').getAttribute('data-phase')) !== 'stopped') {
    if (Date.now() > stopDeadline) throw new Error('the server did not stop');
    await page.waitForTimeout(500);
    await page.reload();
  }
  result.stopped = await rowOf(page, 'analysis').innerText();
  await t.audit('home-named-stopped');

  // Start it again from its row, then stop it again.
  await rowOf(page, 'analysis').locator('button.start-server').click();
  await page.waitForURL((u) => u.pathname.startsWith(`/user/${user}/analysis/`), { timeout: 150_000, waitUntil: 'commit' });
  result.restartedLanding = t.path();
  await page.goto(home);
  await rowOf(page, 'analysis').locator('button.stop-server').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');
  const again = Date.now() + 60_000;
  while ((await rowOf(page, 'analysis').getAttribute('data-phase')) !== 'stopped') {
    if (Date.now() > again) throw new Error('the server did not stop again');
    await page.waitForTimeout(500);
    await page.reload();
  }

  // Delete: DELETE …/servers/analysis with {"remove": true}, after a confirmation.
  await rowOf(page, 'analysis').locator('button.delete-server').click();
  await page.waitForFunction(() => !document.querySelector('tr.server-row[data-server-name="analysis"]'));
  result.afterDelete = {
    rows: await page.locator('tr.server-row').count(),
    empty: await t.text('#no-named-servers'),
  };
  t.step('deleted');

  // The admin sees the Admin link.
  await page.goto(`${params.url}/hub/logout`);
  await page.goto(home);
  await page.locator('#username_input').fill(params.admin);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');
  result.admin = {
    navLinks: await page.locator('header nav a').allInnerTexts(),
    adminHref: await page.getByRole('link', { name: 'Admin' }).getAttribute('href'),
  };
  await t.audit('home-admin');
  // Other pages too: the token page's header.
  await page.goto(`${params.url}/hub/token`);
  result.adminOnTokenPage = await page.locator('header nav a').allInnerTexts();
});
