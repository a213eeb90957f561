// The admin page over thousands of users, markup in names, and groups: the
// admin pages, sorts (name, last activity, both directions) and filters
// (name, server state) the list, all answered by the REST API's pagination;
// names containing markup are shown as text; then the admin creates a group,
// adds and removes members, edits its properties (a bad JSON value is
// refused with a message) and deletes another group after confirming.
// Params: url, admin, password, markup (two user names with markup),
// members (two existing users), missing (a name that is no user).
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  result.dialogs = dialogs;

  await page.goto(`${params.url}/hub/login?next=%2Fhub%2Fadmin`);
  await page.locator('#username_input').fill(params.admin);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/admin');
  await page.locator('#users-summary', { hasText: 'Showing' }).waitFor();

  const names = () => page.locator('#users-table tbody.user').evaluateAll((bodies) => bodies.map((b) => b.dataset.user));
  const summary = () => t.text('#users-summary');
  const snapshot = async () => ({ summary: await summary(), names: await names(), page: await t.text('#users-page') });
  result.first = {
    ...(await snapshot()),
    prevDisabled: await page.locator('#users-prev').isDisabled(),
    sort: await page.locator('#users-table th[data-sort]').evaluateAll((ths) => ths.map((th) => th.getAttribute('aria-sort'))),
  };
  await t.audit('admin-many');

  // Sorting: one click ascending, the next descending; each waits for the
  // header's aria-sort, which is set when the API's page has been shown.
  const sortBy = async (key, direction) => {
    const started = Date.now();
    await page.locator(`#users-table th[data-sort="${key}"] button`).click();
    await page.locator(`#users-table th[data-sort="${key}"][aria-sort="${direction}"]`).waitFor();
    return { ...(await snapshot()), ms: Date.now() - started, url: new URL(page.url()).search };
  };
  result.nameAscending = await sortBy('name', 'ascending');
  result.nameDescending = await sortBy('name', 'descending');
  result.otherHeader = await page.locator('#users-table th[data-sort="last_activity"]').getAttribute('aria-sort');
  result.activityAscending = await sortBy('last_activity', 'ascending');
  result.activityDescending = await sortBy('last_activity', 'descending');
  t.step('sorted');

  // Paging (still sorted by last activity, descending).
  await page.locator('#users-next').click();
  await page.locator('#users-summary', { hasText: 'Showing 51–100' }).waitFor();
  result.secondPage = await snapshot();
  await sortBy('name', 'ascending');
  result.sortResetsOffset = await summary();

  // Filtering by name, then paging through the filtered list.
  await page.locator('#name-filter').fill('user-01');
  await page.locator('#users-summary', { hasText: 'of 100 users' }).waitFor();
  result.filtered = await snapshot();
  await page.locator('#users-next').click();
  await page.locator('#users-summary', { hasText: 'Showing 51–100 of 100 users' }).waitFor();
  result.filteredSecond = { ...(await snapshot()), nextDisabled: await page.locator('#users-next').isDisabled() };
  await page.locator('#name-filter').fill('');

  // Filtering by server state.
  await page.locator('#state-filter').selectOption('active');
  await page.locator('#users-summary', { hasText: 'No users match' }).waitFor();
  result.active = await snapshot();
  await page.locator('#state-filter').selectOption('inactive');
  await page.locator('#users-summary', { hasText: 'Showing 1–50 of 2,003' }).waitFor();
  result.inactive = await snapshot();
  await page.locator('#state-filter').selectOption('');
  await page.locator('#page-size').selectOption('10');
  await page.locator('#users-summary', { hasText: 'Showing 1–10 of' }).waitFor();
  result.pageSize = await snapshot();
  t.step('filtered');

  // Names with markup are text.
  const markup = [];
  for (const name of params.markup) {
    await page.locator('#name-filter').fill(name);
    await page.waitForFunction((n) => {
      const bodies = document.querySelectorAll('#users-table tbody.user');
      return bodies.length === 1 && bodies[0].dataset.user === n;
    }, name);
    const row = page.locator('#users-table tbody.user').first();
    await row.getByRole('button', { name: `Edit user ${name}` }).click();
    const editing = await t.text('#edit-user-current');
    await page.locator('#edit-user-dialog [data-close]').click();
    markup.push({
      name: await row.locator('strong').innerText(),
      data: await row.getAttribute('data-user'),
      editing,
      images: await page.locator('#users-table img, #users-table b').count(),
      startName: await row.locator('button.start').evaluate((b) => b.textContent),
    });
  }
  result.markup = markup;
  await t.audit('admin-markup');
  await page.locator('#name-filter').fill('');

  // Adding a user who exists: the API's message, in the dialog.
  await page.locator('#add-users-open').click();
  await page.locator('#add-usernames').fill(params.members[0]);
  await page.locator('#add-users-submit').click();
  await page.locator('#add-users-error:not([hidden])').waitFor();
  await t.expectConsoleError(/status of 409/);
  result.addExisting = await t.text('#add-users-error');
  await page.locator('#add-users-dialog [data-close]').click();
  t.step('markup and errors');

  // Groups.
  await page.locator('#tab-groups').click();
  await page.locator('#groups-summary', { hasText: 'There are no groups.' }).waitFor();
  result.groupsHash = new URL(page.url()).hash;
  result.groupsTabSelected = await page.locator('#tab-groups').getAttribute('aria-selected');
  const createGroup = async (name) => {
    await page.locator('#new-group-name').fill(name);
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.locator('#admin-status', { hasText: `Created group ${name}.` }).waitFor();
  };
  await createGroup('physics');
  await createGroup('scratch');
  const group = (name) => page.locator('#groups-list li.admin-group').filter({ has: page.locator(`h2:text-is("${name}")`) });
  const addMember = async (member) => {
    await group('physics').getByLabel('Add a member to physics').fill(member);
    await group('physics').getByRole('button', { name: 'Add member to physics' }).click();
  };
  for (const member of [...params.members, params.markup[0]]) {
    await addMember(member);
    await page.locator('#admin-status', { hasText: `Added ${member} to physics.` }).waitFor();
  }
  await group('physics').getByRole('button', { name: `Remove ${params.members[1]} from physics` }).click();
  await page.locator('#admin-status', { hasText: `Removed ${params.members[1]} from physics.` }).waitFor();
  result.members = await group('physics').locator('ul.members li').evaluateAll((lis) => lis.map((li) => li.dataset.member));
  result.memberImages = await page.locator('#groups-list img').count();

  await addMember(params.missing);
  await page.locator('#admin-error:not([hidden])').waitFor();
  await t.expectConsoleError(/status of 4\d\d/);
  result.missingMember = await t.text('#admin-error-text');
  await page.locator('#admin-error-close').click();

  const props = group('physics').getByLabel('Properties (a JSON object) of physics');
  await props.fill('[1, 2]');
  await group('physics').getByRole('button', { name: 'Save properties of physics' }).click();
  result.badProperties = await group('physics').locator('.group-properties .error').innerText();
  await props.fill('{"course": "physics 101", "seats": 30}');
  await group('physics').getByRole('button', { name: 'Save properties of physics' }).click();
  await page.locator('#admin-status', { hasText: 'Saved the properties of physics.' }).waitFor();
  result.propertiesShown = JSON.parse(await group('physics').getByLabel('Properties (a JSON object) of physics').inputValue());
  await t.audit('admin-groups');

  await group('scratch').getByRole('button', { name: 'Delete group scratch' }).click();
  result.groupConfirm = await t.text('#confirm-text');
  await page.locator('#confirm-yes').click();
  await page.locator('#admin-status', { hasText: 'Deleted group scratch.' }).waitFor();
  result.groupsLeft = await page.locator('#groups-list li.admin-group').evaluateAll((lis) => lis.map((li) => li.dataset.group));
  result.groupsSummary = await t.text('#groups-summary');
  t.step('groups');
});
