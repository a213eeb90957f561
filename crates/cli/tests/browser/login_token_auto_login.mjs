// Authenticator.auto_login with the dummy (form) authenticator: the hub
// never shows the form; as upstream, the login page tries the credentials
// of the request itself, finds none and answers 403.
// Params: url.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const response = await page.goto(`${params.url}/hub/`);
  await t.expectConsoleError(/status of 403/);
  const url = new URL(page.url());
  result.refused = {
    status: response.status(),
    path: url.pathname,
    next: url.searchParams.get('next'),
    heading: await t.text('h1'),
    text: await t.text('main'),
    forms: await page.locator('form').count(),
    usernameFields: await page.locator('#username_input').count(),
  };
  await t.audit('auto-login-refused');
});
