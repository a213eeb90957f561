// Login text, default_url, the token page's scopes and authorized
// applications, and shutdown_on_logout, as one user goes through them on a
// hub configured with announcement_login, default_url = /hub/home,
// shutdown_on_logout and an OAuth service ("tokenview") that shows the
// OAuth token it holds.
// Params: url, user, password.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const hub = `${params.url}/hub`;

  // The hub's root goes to default_url, which asks for a login first.
  await page.goto(`${hub}/`);
  await page.waitForSelector('#username_input');
  const loginUrl = new URL(page.url());
  result.login = {
    path: loginUrl.pathname,
    next: loginUrl.searchParams.get('next'),
    announcement: await t.text('.announcement'),
    announcementBold: await t.text('.announcement b'),
    heading: await t.text('h1'),
  };
  await t.audit('login-announcement');

  await page.locator('#username_input').fill(params.user);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');
  // Signed in, a login without ?next= goes to default_url too (not to the
  // spawn page, where redirect_to_server would send it).
  await page.goto(`${hub}/login`);
  await page.waitForURL((u) => !u.pathname.endsWith('/login'));
  result.loginWithoutNext = t.path();
  t.step('signed in');

  // A real OAuth login to a service: confirm, then read the token it got.
  await page.goto(`${params.url}/services/tokenview/`);
  await page.waitForSelector('#authorize');
  await page.locator('#authorize').click();
  await page.waitForSelector('#oauth-token');
  result.service = {
    user: await t.text('#user'),
    path: t.path(),
  };
  const oauthToken = (await t.text('#oauth-token')).trim();
  result.oauthToken = oauthToken;
  t.step('service authorized');

  // The user's real server, which logs the browser in with OAuth as well.
  await page.goto(`${hub}/spawn`);
  await page.waitForURL((u) => u.pathname.startsWith(`/user/${params.user}/`), { timeout: 120_000 });
  await page.waitForFunction(() => document.title === 'JupyterLab', null, { timeout: 120_000 });
  result.serverPath = t.path();
  t.step('server open');

  // The token page: a scope the user does not hold is refused with the reason.
  await page.goto(`${hub}/token`);
  await page.locator('#token-note').fill('read my servers');
  await page.locator('#token-scopes').fill('admin:users');
  await page.locator('#request').click();
  await page.waitForSelector('#token-error');
  result.refused = {
    error: await t.text('#token-error'),
    keptScopes: await page.locator('#token-scopes').inputValue(),
    keptNote: await page.locator('#token-note').inputValue(),
    shown: await page.locator('#new-token').count(),
  };
  await t.audit('token-scope-refused');
  await t.expectConsoleError(/status of 400/);

  // A narrowed token is made, its scopes listed.
  await page.locator('#token-scopes').fill(`read:servers!user=${params.user}`);
  await page.locator('#request').click();
  await page.waitForSelector('#new-token');
  result.scoped = {
    token: (await t.text('#new-token')).trim(),
    rowScopes: await page.locator('#api-tokens tbody tr').first().locator('.token-scope').allTextContents(),
  };
  await page.locator('#api-tokens details summary').first().click();
  await t.audit('token-with-scopes');

  // Authorized Applications: the service and the server.
  await page.goto(`${hub}/token`);
  const apps = page.locator('#oauth-clients tbody tr');
  const rows = [];
  for (let i = 0; i < (await apps.count()); i++) {
    const row = apps.nth(i);
    rows.push({
      client: await row.getAttribute('data-client-id'),
      text: (await row.innerText()).trim(),
    });
  }
  result.applications = rows;
  await t.audit('token-authorized-apps');

  // The service's OAuth token works against the REST API until revoked.
  const apiUser = () =>
    page.evaluate(async (token) => {
      const r = await fetch('/hub/api/user', {
        headers: { Authorization: `token ${token}` },
        credentials: 'omit',
      });
      return { status: r.status, body: r.ok ? await r.json() : null };
    }, oauthToken);
  const before = await apiUser();
  result.oauthBefore = { status: before.status, name: before.body && before.body.name };
  await page
    .locator('#oauth-clients tr[data-client-id="service-tokenview"]')
    .getByRole('button', { name: /Revoke/ })
    .click();
  await page.waitForURL((u) => u.pathname === '/hub/token');
  await page.waitForSelector('#oauth-clients-section, #api-tokens-section');
  result.afterRevoke = {
    clients: await page.locator('#oauth-clients tbody tr').evaluateAll((rs) =>
      rs.map((r) => r.getAttribute('data-client-id')),
    ),
  };
  result.oauthAfter = (await apiUser()).status;
  await t.expectConsoleError(/status of 403/);
  t.step('application revoked');

  // Logging out (shutdown_on_logout) stops the server.
  await page.getByRole('link', { name: 'Log out' }).click();
  await page.waitForURL((u) => u.pathname === '/hub/login');
  result.afterLogout = t.path();
});
