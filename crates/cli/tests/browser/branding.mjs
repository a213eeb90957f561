// Branding and overrides as a visitor sees them: a login page replaced
// through JupyterHub.template_paths, a footer added to every page by an
// override of one block of the built-in page.html, template_vars text, the
// configured logo in the header, and the versioned stylesheet and favicon.
// Params: url, user, password.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const loaded = [];
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/hub/static/') || u.pathname === '/hub/logo') {
      loaded.push({ path: u.pathname, query: u.search, status: r.status(), type: r.headers()['content-type'] });
    }
  });
  await page.goto(`${params.url}/hub/home`);
  await page.waitForURL((u) => u.pathname === '/hub/login');
  result.login = {
    title: await page.title(),
    heading: await t.text('h1'),
    welcome: await t.text('#welcome'),
    footer: await t.text('footer#site-footer'),
    announcement: await t.text('.announcement'),
    logoWidth: await page.locator('header img').evaluate((img) => img.naturalWidth),
    logoAlt: await page.locator('header img').getAttribute('alt'),
    favicon: await page.locator('link[rel=icon]').getAttribute('href'),
    // The stylesheet applied: the header has its dark background.
    headerBackground: await page.locator('header').evaluate((h) => getComputedStyle(h).backgroundColor),
  };
  await t.audit('custom-login');

  // The custom form signs in like the built-in one.
  await page.locator('#custom-user').fill(params.user);
  await page.locator('#custom-password').fill(params.password);
  await page.locator('#custom-submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');
  result.home = {
    heading: await t.text('h1'),
    footer: await t.text('footer#site-footer'),
    navUser: await t.text('header nav span'),
  };
  await t.audit('home-with-footer');
  result.loaded = loaded;
});
