// Logging out with the header's "Log out" link ends the session: the hub's
// pages ask for a login again and the login cookies are gone.
// Params: url, user, password.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const home = `${params.url}/hub/home`;

  await page.goto(home);
  await page.locator('#username_input').fill(params.user);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');
  const names = async () => (await t.context.cookies()).map((c) => c.name).sort();
  result.signedIn = {
    navUser: await t.text('header nav span'),
    cookies: await names(),
  };
  t.step('signed in');

  await page.getByRole('link', { name: 'Log out' }).click();
  await page.waitForURL((u) => u.pathname === '/hub/login');
  result.afterLogout = {
    path: t.path(),
    heading: await t.text('h1'),
    navLinks: await page.locator('header nav a').count(),
    cookies: await names(),
  };
  t.step('logged out');

  // The home page is no longer reachable without signing in again.
  await page.goto(home);
  result.homeAgain = {
    path: t.path(),
    next: new URL(page.url()).searchParams.get('next'),
    heading: await t.text('h1'),
  };
  // And neither is the REST API with what the browser still holds.
  result.apiUserStatus = await page.evaluate(async () => (await fetch('/hub/api/user')).status);
  await t.expectConsoleError(/status of 403/);
  t.step('home asks for a login');
});
