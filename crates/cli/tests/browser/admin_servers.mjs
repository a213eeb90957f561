// The admin page with real servers: an admin signs in, adds three users at
// once, narrows the list to them, stops and starts a named server from its
// row, uses Start All and Stop All while watching each row go from starting to
// running (and stopping to stopped), renames one user and makes them an
// admin, and deletes another after confirming.
// Params: url, admin, password, users (three names sharing `filter`), filter,
// rename (the new name for users[2]).
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const [first, second, third] = params.users;
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  result.dialogs = dialogs;

  await page.goto(`${params.url}/hub/admin`);
  result.loginNext = new URL(page.url()).searchParams.get('next');
  await page.locator('#username_input').fill(params.admin);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/admin');
  await page.locator('#users-summary', { hasText: 'Showing' }).waitFor();
  result.list = {
    title: await page.title(),
    heading: await t.text('h1'),
    navLinks: await page.locator('header nav a').allInnerTexts(),
    summary: await t.text('#users-summary'),
    rows: await page.locator('#users-table tbody tr').count(),
  };
  await t.audit('admin-list');

  // Add three users in one go.
  await page.locator('#add-users-open').click();
  await page.locator('#add-usernames').fill(params.users.join('\n'));
  result.addDialogFocused = await page.evaluate(() => document.activeElement.id);
  await t.audit('admin-add-users');
  await page.locator('#add-users-submit').click();
  await page.locator('#admin-status', { hasText: 'Added 3 users' }).waitFor();
  result.added = await t.text('#admin-status');
  t.step('added users');

  // Narrow the list to them.
  await page.locator('#name-filter').fill(params.filter);
  await page.locator('#users-summary', { hasText: 'of 3 users' }).waitFor();
  const names = () => page.locator('#users-table tbody.user').evaluateAll((bodies) => bodies.map((b) => b.dataset.user));
  const states = () =>
    page.locator('#users-table tbody.user tr').evaluateAll((rows) =>
      Object.fromEntries(rows.map((r) => [r.closest('tbody').dataset.user + '/' + r.dataset.server, r.dataset.state])),
    );
  result.filtered = { names: await names(), summary: await t.text('#users-summary'), url: page.url() };

  // A named server, started through the API (cookie + the page's XSRF
  // token), then stopped and started again from its row.
  const row = (user) => page.locator('#users-table tbody.user').filter({ has: page.locator(`strong:text-is("${user}")`) });
  result.namedCreated = await page.evaluate(async (user) => {
    const xsrf = document.getElementById('admin').dataset.xsrf;
    const headers = { 'X-XSRFToken': xsrf };
    const r = await fetch(`/hub/api/users/${user}/servers/nb`, { method: 'POST', headers });
    for (let i = 0; i < 300; i++) {
      const model = await (await fetch(`/hub/api/users/${user}`, { headers })).json();
      if (model.servers.nb && model.servers.nb.ready) break;
      await new Promise((done) => setTimeout(done, 500));
    }
    return r.status;
  }, first);
  await page.reload();
  await row(first).locator('tr[data-server="nb"][data-state="running"]').waitFor();
  result.namedRows = await row(first).locator('tr').evaluateAll((rows) => rows.map((r) => [r.dataset.server, r.dataset.state]));
  await row(first).getByRole('button', { name: `Stop server nb of ${first}` }).click();
  result.namedStopping = await row(first).locator('tr[data-server="nb"]').getAttribute('data-state');
  await row(first).locator('tr[data-server="nb"][data-state="stopped"]').waitFor({ timeout: 60_000 });
  result.namedStopped = await t.text('#admin-status');
  // The keyboard focus stayed in the row, on its new first button.
  result.focusAfterStop = await page.evaluate(() => document.activeElement.textContent);
  await row(first).getByRole('button', { name: `Start server nb of ${first}` }).click();
  result.namedStarting = await row(first).locator('tr[data-server="nb"]').getAttribute('data-state');
  await row(first).locator('tr[data-server="nb"][data-state="running"]').waitFor({ timeout: 150_000 });
  result.namedOpen = await row(first).getByRole('link', { name: `Open server nb of ${first}` }).getAttribute('href');
  result.namedStarted = await t.text('#admin-status');
  t.step('named server stopped and started from its row');

  // Start All, sampling every row's state while it runs.
  const seen = {};
  const sample = async () => {
    for (const [key, state] of Object.entries(await states())) {
      seen[key] = seen[key] || [];
      if (seen[key][seen[key].length - 1] !== state) seen[key].push(state);
    }
  };
  await sample();
  await page.locator('#start-all').click();
  const startDeadline = Date.now() + 180_000;
  while (!(await t.text('#admin-status')).startsWith('Start All finished')) {
    if (Date.now() > startDeadline) throw new Error('Start All did not finish');
    await sample();
    await page.waitForTimeout(100);
  }
  await sample();
  result.startAll = { seen: { ...seen }, status: await t.text('#admin-status'), error: await page.locator('#admin-error').isVisible() };
  // What the hub says, through the same API the page uses (cookie + XSRF).
  result.apiAfterStartAll = await page.evaluate(async (filter) => {
    const xsrf = document.getElementById('admin').dataset.xsrf;
    const r = await fetch(`/hub/api/users?name_filter=${encodeURIComponent(filter)}`, { headers: { 'X-XSRFToken': xsrf } });
    return Object.fromEntries((await r.json()).map((u) => [u.name, u.servers[''] ? u.servers[''].ready : false]));
  }, params.filter);
  await t.audit('admin-running');
  t.step('start all');

  for (const key of Object.keys(seen)) delete seen[key];
  await sample();
  await page.locator('#stop-all').click();
  const stopDeadline = Date.now() + 120_000;
  while (!(await t.text('#admin-status')).startsWith('Stop All finished')) {
    if (Date.now() > stopDeadline) throw new Error('Stop All did not finish');
    await sample();
    await page.waitForTimeout(100);
  }
  await sample();
  result.stopAll = { seen: { ...seen }, status: await t.text('#admin-status') };
  t.step('stop all');

  // The stopped named server stays listed until it is deleted.
  await row(first).getByRole('button', { name: `Delete server nb of ${first}` }).click();
  await page.locator('#confirm-yes').click();
  await page.locator('#admin-status', { hasText: `Deleted server nb of ${first}.` }).waitFor();
  result.afterRemove = await row(first).locator('tr').evaluateAll((rows) => rows.map((r) => r.dataset.server));

  // Edit: rename the third user and make them an admin.
  await row(third).getByRole('button', { name: `Edit user ${third}` }).click();
  await page.locator('#edit-user-name').fill(params.rename);
  await page.locator('#edit-user-admin').check();
  await t.audit('admin-edit-user');
  await page.locator('#edit-user-save').click();
  await page.locator('#admin-status', { hasText: `Saved user ${params.rename}` }).waitFor();
  result.afterEdit = { names: await names(), admin: await row(params.rename).locator('td.user-admin').first().innerText() };

  // Delete the second, confirming in the dialog; cancelling first keeps them.
  await row(second).getByRole('button', { name: `Edit user ${second}` }).click();
  await page.locator('#edit-user-delete').click();
  result.confirmText = await t.text('#confirm-text');
  await page.locator('#confirm-no').click();
  result.afterCancel = await names();
  await row(second).getByRole('button', { name: `Edit user ${second}` }).click();
  await page.locator('#edit-user-delete').click();
  await page.locator('#confirm-yes').click();
  await page.locator('#admin-status', { hasText: `Deleted user ${second}` }).waitFor();
  await page.locator('#users-summary', { hasText: 'of 2 users' }).waitFor();
  result.afterDelete = { names: await names(), summary: await t.text('#users-summary') };
  t.step('edited and deleted');
});
