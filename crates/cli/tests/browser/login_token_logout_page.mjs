// Under Authenticator.auto_login, a browser already signed in (its login
// cookies handed in as params.cookies, from before auto_login was turned
// on) goes straight through the login page, and logging out shows the
// logout page (with announcement_logout) instead of the login page, which
// would only sign it in again or fail.
// Params: url, cookies: [{name, value, path}].
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  await t.context.addCookies(
    params.cookies.map((c) => ({ name: c.name, value: c.value, url: `${params.url}${c.path}` })),
  );
  await page.goto(`${params.url}/hub/login?next=${encodeURIComponent('/hub/token')}`);
  await page.waitForURL((u) => u.pathname === '/hub/token');
  result.signedIn = { path: t.path(), navUser: await t.text('header nav span') };

  await page.getByRole('link', { name: 'Log out' }).click();
  await page.waitForSelector('#logout-main');
  result.logout = {
    path: t.path(),
    title: await page.title(),
    heading: await t.text('h1'),
    text: await t.text('#logout-main p'),
    announcement: await t.text('.announcement'),
    navLinks: await page.locator('header nav a').count(),
  };
  await t.audit('logout-page');

  // Signed out now: auto_login refuses again, and shows no form.
  const response = await page.goto(`${params.url}/hub/token`);
  await t.expectConsoleError(/status of 403/);
  result.after = {
    status: response.status(),
    path: t.path(),
    forms: await page.locator('form').count(),
  };
});
