// Error pages as a person sees them: a 404 under /hub/; a login form whose
// XSRF field was tampered with and a wrong password, each refused with its
// message on the form, after which the same form still signs in.
// Params: url, user, password (the right one), wrongPassword.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;

  // A page that does not exist: readable HTML with the status in it.
  const missing = await page.goto(`${params.url}/hub/nonexistent`);
  // Chromium logs each 4xx document as a console error.
  await t.expectConsoleError(/status of 404/);
  result.notFound = {
    status: missing.status(),
    contentType: missing.headers()['content-type'],
    title: await page.title(),
    heading: await t.text('h1'),
    message: await t.text('main .error'),
    linkText: await t.text('main a.button'),
    linkHref: await page.locator('main a.button').getAttribute('href'),
    navLinks: await page.locator('header nav a').count(),
  };
  await t.audit('error-404');
  // Its link leads somewhere useful: the hub, which asks for a login.
  await page.locator('main a.button').click();
  await page.waitForURL((u) => u.pathname === '/hub/login');
  result.notFound.linkLandsOn = t.path();
  await t.audit('login');
  t.step('404 page');

  // A form whose hidden XSRF field was tampered with is refused, on the form.
  await page.goto(`${params.url}/hub/home`);
  await page.locator('form input[name=_xsrf]').evaluate((input) => (input.value = 'forged'));
  await page.locator('#username_input').fill(params.user);
  await page.locator('#password_input').fill(params.password);
  const [forged] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/hub/login'),
    page.locator('#login_submit').click(),
  ]);
  await page.waitForLoadState();
  await t.expectConsoleError(/status of 403/);
  result.forgedXsrf = {
    status: forged.status(),
    alert: await t.text('[role=alert]'),
    cookies: (await t.context.cookies()).map((c) => c.name).sort(),
  };
  t.step('forged xsrf');

  // A wrong password: the form comes back with the error and the name kept.
  await page.locator('#password_input').fill(params.wrongPassword);
  const [failed] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/hub/login'),
    page.locator('#login_submit').click(),
  ]);
  await page.waitForLoadState();
  await t.expectConsoleError(/status of 403/);
  result.failedLogin = {
    status: failed.status(),
    path: t.path(),
    title: await page.title(),
    alert: await t.text('[role=alert]'),
    username: await page.locator('#username_input').inputValue(),
    password: await page.locator('#password_input').inputValue(),
    xsrf: await page.locator('form input[name=_xsrf]').inputValue(),
    cookies: (await t.context.cookies()).map((c) => c.name).sort(),
  };
  t.step('failed login');

  // The re-rendered form (its XSRF field, its next) still signs in.
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');
  result.afterRetry = {
    path: t.path(),
    heading: await t.text('h1'),
    navUser: await t.text('header nav span'),
  };

  // Signed in, a missing page renders the same way, with the header of
  // every signed-in page: who is signed in, and the way home and out.
  const again = await page.goto(`${params.url}/hub/nonexistent`);
  await t.expectConsoleError(/status of 404/);
  result.notFoundSignedIn = {
    status: again.status(),
    heading: await t.text('h1'),
    navUser: await t.text('header nav span'),
    navLinks: await page.locator('header nav a').allTextContents(),
  };
  // So does an error a handler raises (a token that is not the user's).
  const refused = await page.goto(`${params.url}/hub/spawn/somebody-else`);
  await t.expectConsoleError(/status of 40/);
  result.refusedSignedIn = {
    status: refused.status(),
    title: await page.title(),
    navUser: await t.text('header nav span'),
  };
  // The header's link out works from an error page.
  await page.locator('header nav a', { hasText: 'Log out' }).click();
  await page.waitForURL((u) => u.pathname === '/hub/login');
  result.loggedOutFromErrorPage = t.path();
  t.step('signed in after a failure');
});
