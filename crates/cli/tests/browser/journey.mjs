// A person's whole visit, in one browser: sign in, start the server from
// home, pick a profile on the options form, watch the progress bar move,
// land in JupyterLab; from home create a named server (first profile),
// stop and delete it; on the token page create a token with narrowed scopes,
// use it, revoke it; revoke the OAuth application of their own server.
// Params: url, user, password.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const user = params.user;
  const home = `${params.url}/hub/home`;
  page.on('dialog', (dialog) => dialog.accept());

  // Every aria-valuenow the pending page's bar takes, from any document.
  const values = [];
  await page.exposeBinding('__seenProgress', (_source, value) => values.push(Number(value)));
  await page.addInitScript(() => {
    document.addEventListener('DOMContentLoaded', () => {
      const bar = document.getElementById('progress-bar');
      if (!bar) return;
      window.__seenProgress(bar.getAttribute('aria-valuenow'));
      new MutationObserver(() => window.__seenProgress(bar.getAttribute('aria-valuenow'))).observe(bar, {
        attributes: true,
        attributeFilter: ['aria-valuenow'],
      });
    });
  });

  await page.goto(home);
  await page.locator('#username_input').fill(user);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');
  t.step('signed in');

  // Start: the profiles form, then the second profile.
  await page.locator('button#start').click();
  await page.waitForURL((u) => u.pathname.startsWith('/hub/spawn'));
  result.formHeading = await t.text('h1');
  result.profiles = await page.locator('#spawn_form label').allInnerTexts();
  await page.getByLabel('Analysis').check();
  await t.audit('journey-spawn-form');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL((u) => u.pathname.startsWith(`/hub/spawn-pending/${user}`), { waitUntil: 'domcontentloaded' });
  result.pendingHeading = await t.text('h1');
  await page.waitForURL((u) => u.pathname.startsWith(`/user/${user}/`), { timeout: 150_000, waitUntil: 'commit' });
  await page.locator('#jp-main-dock-panel').waitFor({ state: 'visible', timeout: 90_000 });
  result.progressValues = values.splice(0);
  result.labPath = t.path();
  result.labTitle = await page.title();
  t.step('in JupyterLab');

  // A named server from home: created with a name, first profile, started,
  // then stopped and deleted from its row.
  await page.goto(home);
  await page.locator('#new-server-name').fill('scratch');
  await page.locator('#new-server-button').click();
  await page.waitForURL((u) => u.pathname.startsWith(`/hub/spawn/${user}/scratch`));
  await page.getByLabel('Quick').check();
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL((u) => u.pathname.startsWith(`/user/${user}/scratch/`), { timeout: 150_000, waitUntil: 'commit' });
  result.namedLanding = t.path();
  await page.goto(home);
  const row = page.locator('tr.server-row[data-server-name="scratch"]');
  result.namedRow = (await row.innerText()).replace(/\s+/g, ' ').trim();
  await t.audit('journey-home-two-servers');
  await row.locator('button.stop-server').click();
  const deadline = Date.now() + 60_000;
  while ((await row.getAttribute('data-phase')) !== 'stopped') {
    if (Date.now() > deadline) throw new Error('the named server did not stop');
    await page.waitForTimeout(500);
    await page.reload();
  }
  await row.locator('button.delete-server').click();
  await page.waitForFunction(() => !document.querySelector('tr.server-row[data-server-name="scratch"]'));
  result.namedRowsAfterDelete = await page.locator('tr.server-row').count();
  t.step('named server created, stopped, deleted');

  // A token that may only read this user's servers.
  await page.getByRole('link', { name: 'Token' }).click();
  await page.waitForURL((u) => u.pathname === '/hub/token');
  await page.locator('#token-note').fill('dashboard');
  await page.locator('#token-scopes').fill(`read:servers!user=${user}`);
  await page.locator('#request').click();
  await page.waitForSelector('#new-token');
  const token = (await t.text('#new-token')).trim();
  const api = (path) =>
    page.evaluate(
      async ([path, token]) => (await fetch(path, { headers: { Authorization: `token ${token}` }, credentials: 'omit' })).status,
      [path, token],
    );
  result.tokenUse = { own: await api(`/hub/api/users/${user}`), list: await api('/hub/api/users') };
  await t.audit('journey-token-created');
  await page.locator('#api-tokens tbody tr').filter({ hasText: 'dashboard' }).getByRole('button', { name: 'Revoke' }).click();
  await page.waitForURL((u) => u.pathname === '/hub/token');
  result.tokenAfterRevoke = await api(`/hub/api/users/${user}`);
  await t.expectConsoleError(/status of 403/);
  t.step('token made, used, revoked');

  // The OAuth application of the server opened in JupyterLab, revoked.
  const client = `jupyterhub-user-${user}`;
  result.applicationsBefore = await page.locator('#oauth-clients tbody tr').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-client-id')));
  await page.locator(`#oauth-clients tr[data-client-id="${client}"]`).getByRole('button', { name: /Revoke/ }).click();
  await page.waitForURL((u) => u.pathname === '/hub/token');
  result.applicationsAfter = await page.locator('#oauth-clients tbody tr').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-client-id')));
  await t.audit('journey-token-after-revoke');
});
