// Signing in through an OpenID Connect provider in a real browser: the
// login page's "Sign in with" button, the provider's own login and consent
// pages, back through /hub/oauth_callback to JupyterLab. Then the pages a
// failed redirect login shows (an error from the provider, a callback whose
// state this browser never started, a user outside allowed_groups), each
// audited like every other page.
// Params: url, issuer (the provider's origin, in allowedOrigins), user, refusedUser.
import { run } from './lib.mjs';

/** Signs in at the provider's dev login and consent forms as `user`. */
async function providerLogin(t, user) {
  const { page, params } = t;
  await page.waitForURL((u) => u.origin === params.issuer, { waitUntil: 'commit' });
  await page.locator('input[name=login]').waitFor();
  await page.locator('input[name=login]').fill(user);
  await page.locator('input[name=password]').fill('any-password');
  await page.locator('button[type=submit]').click();
  // The consent form follows the first login of a browser.
  await page.waitForURL((u) => u.origin !== params.issuer || u.pathname.startsWith('/interaction/'), {
    waitUntil: 'commit',
  });
  if (new URL(page.url()).origin === params.issuer) {
    const consent = page.locator('input[name=prompt][value=consent]');
    await consent.waitFor({ state: 'attached' });
    await page.locator('button[type=submit]').click();
  }
}

/** Status, heading and message of an error page reached by `goto`. */
async function errorPage(t, url) {
  const response = await t.page.goto(url);
  return {
    status: response.status(),
    path: t.path(),
    heading: await t.text('h1'),
    text: await t.text('main'),
  };
}

await run(async (t) => {
  const { page, params, result } = t;
  const user = params.user;

  // A stranger at the hub's front door gets the provider's button.
  await page.goto(`${params.url}/hub/`);
  result.loginPath = t.path();
  result.button = await t.text('#service_login');
  result.passwordFields = await page.locator('input[type=password]').count();
  await t.audit('oauth-login');

  await page.locator('#service_login').click();
  await providerLogin(t, user);
  t.step('provider login');

  await page.waitForURL((u) => u.pathname === `/user/${user}/lab`, { timeout: 150_000, waitUntil: 'commit' });
  await page.locator('#jp-main-dock-panel').waitFor({ state: 'visible', timeout: 90_000 });
  await page.locator('.jp-Launcher').first().waitFor({ state: 'visible', timeout: 60_000 });
  result.labPath = t.path();
  result.labTitle = await page.title();
  t.step('lab shell');

  // The provider reports an error instead of a code.
  result.providerError = await errorPage(
    t,
    `${params.url}/hub/oauth_callback?error=access_denied&error_description=The+user+cancelled+the+sign-in&state=x`,
  );
  await t.expectConsoleError(/status of 400/);
  await t.audit('oauth-error-provider');

  // A callback this browser did not start (no state cookie).
  result.stateError = await errorPage(t, `${params.url}/hub/oauth_callback?code=forged&state=forged`);
  await t.expectConsoleError(/status of 400/);
  await t.audit('oauth-error-state');

  // Someone outside allowed_groups, in a browser with no cookies left.
  await t.context.clearCookies();
  await page.goto(`${params.url}/hub/oauth_login`);
  await providerLogin(t, params.refusedUser);
  await page.waitForURL((u) => u.pathname === '/hub/oauth_callback', { waitUntil: 'load' });
  result.refused = {
    path: t.path(),
    heading: await t.text('h1'),
    text: await t.text('main'),
  };
  await t.expectConsoleError(/status of 403/);
  await t.audit('oauth-refused');

  // The provider's own pages (not under test) ask for a web font and a
  // favicon it lacks; only the hub's pages are held to "no console errors,
  // nothing fetched from elsewhere".
  result.providerNoise = result.consoleErrors.filter((e) => new URL(e.url).origin === params.issuer).length;
  result.consoleErrors = result.consoleErrors.filter((e) => new URL(e.url).origin !== params.issuer);
  if (result.externalRequests) {
    result.externalRequests = result.externalRequests.filter((u) => !u.startsWith('https://fonts.googleapis.com/'));
    if (!result.externalRequests.length) delete result.externalRequests;
  }
});
