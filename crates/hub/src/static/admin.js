// The admin page (/hub/admin): lists, filters, sorts and pages users through
// the REST API (server-side, so it stays fast over thousands of users), and
// adds, edits and deletes users, starts and stops their servers, and manages
// groups, all through the REST API with the page's XSRF token.
//
// Every piece of data is put into the page as text (textContent, text nodes,
// attribute values), never parsed as HTML, so a user or group name that
// contains markup is shown as typed (upstream's GHSA-x7xh class of bug).
'use strict';

(() => {
  const root = document.getElementById('admin');
  if (!root) return;

  const API = root.dataset.api;
  const XSRF = root.dataset.xsrf;
  const DEFAULT_LIMIT = Number(root.dataset.limit) || 50;
  const PAGINATION = 'application/jupyterhub-pagination+json';
  const POLL_MS = 1000;
  const WAIT_MS = 300_000;
  const SORTS = ['id', 'name', '-name', 'last_activity', '-last_activity'];
  const STATES = ['', 'active', 'ready', 'inactive'];
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  // ---- REST API ---------------------------------------------------------

  /** A refused or failed API request, with the message to show the admin. */
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /** Calls `{hub}api{path}`; resolves to the parsed JSON body (or null),
   * rejects with an ApiError carrying the API's {"message"}. */
  async function api(method, path, body, paginated = false) {
    const headers = { 'X-XSRFToken': XSRF, Accept: paginated ? PAGINATION : 'application/json' };
    const init = { method, headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(API + path, init);
    } catch (e) {
      throw new ApiError(0, 'The hub could not be reached; check the connection and try again.');
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (!response.ok) {
      const message =
        data && typeof data.message === 'string' && data.message
          ? data.message
          : `${response.status} ${response.statusText}`.trim();
      throw new ApiError(response.status, message);
    }
    return data;
  }

  const userPath = (name) => `/users/${enc(name)}`;
  const serverPath = (name, server) =>
    server ? `/users/${enc(name)}/servers/${enc(server)}` : `/users/${enc(name)}/server`;
  const groupPath = (name) => `/groups/${enc(name)}`;

  // ---- DOM helpers (text only) -----------------------------------------

  /** Builds an element; `text` and children strings become text nodes. */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'text') node.textContent = value;
      else if (key === 'class') node.className = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  /** Visible text plus hidden words that make a button's name unique. */
  const named = (visible, hidden) => [visible, el('span', { class: 'visually-hidden', text: ` ${hidden}` })];

  /** The row ("user\0server") whose button was used last: where the focus
   * goes when that button is disabled or replaced while its request runs. */
  let focusRow = null;
  root.addEventListener('click', (event) => {
    const button = event.target.closest('[data-row]');
    if (button) focusRow = button.dataset.row;
  });

  /** Re-rendering replaces controls; keep the keyboard focus on the same
   * one, or on the used row's first button when that one went away. */
  function keepFocus(render) {
    const active = document.activeElement;
    const key = active && active.dataset ? active.dataset.key : undefined;
    render();
    const controls = () => [...root.querySelectorAll('[data-key]')];
    if (key) {
      const again = controls().find((n) => n.dataset.key === key);
      if (again && !again.disabled) {
        again.focus();
        return;
      }
    }
    const lost = key || !document.activeElement || document.activeElement === document.body;
    if (lost && focusRow) {
      const fallback = controls().find((n) => n.dataset.row === focusRow && !n.disabled);
      if (fallback) {
        fallback.focus();
        focusRow = null;
      }
    }
  }

  const statusBox = $('admin-status');
  const errorBox = $('admin-error');
  /** Says `text` in the live region (read out by screen readers, shown on screen). */
  function announce(text) {
    statusBox.textContent = text;
  }
  function showError(text) {
    $('admin-error-text').textContent = text;
    errorBox.hidden = false;
  }
  function clearError() {
    errorBox.hidden = true;
    $('admin-error-text').textContent = '';
  }
  $('admin-error-close').addEventListener('click', clearError);

  function ago(iso) {
    const then = Date.parse(iso);
    if (Number.isNaN(then)) return String(iso);
    const seconds = Math.max(0, Math.round((Date.now() - then) / 1000));
    const unit = (n, word) => `${n} ${word}${n === 1 ? '' : 's'} ago`;
    if (seconds < 60) return 'just now';
    if (seconds < 3600) return unit(Math.floor(seconds / 60), 'minute');
    if (seconds < 86400) return unit(Math.floor(seconds / 3600), 'hour');
    return unit(Math.floor(seconds / 86400), 'day');
  }
  const when = (iso) =>
    iso ? el('time', { datetime: iso, title: iso, text: ago(iso) }) : el('span', { class: 'muted', text: 'Never' });

  /** Asks the admin to confirm in a modal dialog; resolves to true or false. */
  function confirmAction(text, yesLabel) {
    const dialog = $('confirm-dialog');
    $('confirm-text').textContent = text;
    $('confirm-yes').textContent = yesLabel;
    dialog.returnValue = '';
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true });
      dialog.showModal();
      $('confirm-no').focus();
    });
  }

  for (const button of root.querySelectorAll('dialog [data-close]')) {
    button.addEventListener('click', () => button.closest('dialog').close());
  }

  // ---- Users: view state ------------------------------------------------

  const view = { offset: 0, limit: DEFAULT_LIMIT, sort: 'id', name_filter: '', state: '' };
  {
    const q = new URLSearchParams(location.search);
    const int = (v, d) => (/^\d+$/.test(v || '') ? Number(v) : d);
    view.offset = int(q.get('offset'), 0);
    view.limit = Math.min(Math.max(int(q.get('limit'), DEFAULT_LIMIT), 1), 500);
    if (SORTS.includes(q.get('sort'))) view.sort = q.get('sort');
    view.name_filter = q.get('name_filter') || '';
    if (STATES.includes(q.get('state') || '')) view.state = q.get('state') || '';
  }
  const table = $('users-table');
  const nameFilter = $('name-filter');
  const stateFilter = $('state-filter');
  const pageSize = $('page-size');
  nameFilter.value = view.name_filter;
  stateFilter.value = view.state;
  if (![...pageSize.options].some((o) => o.value === String(view.limit))) {
    pageSize.append(el('option', { value: view.limit, text: String(view.limit) }));
  }
  pageSize.value = String(view.limit);

  /** The current page's users by name, and each user's <tbody>. */
  let users = new Map();
  const bodies = new Map();
  let pagination = { offset: 0, limit: view.limit, total: 0 };

  /** Keeps the view in the address, so a reload or a shared link shows the same page. */
  function saveView() {
    const q = new URLSearchParams();
    if (view.offset) q.set('offset', view.offset);
    if (view.limit !== DEFAULT_LIMIT) q.set('limit', view.limit);
    if (view.sort !== 'id') q.set('sort', view.sort);
    if (view.name_filter) q.set('name_filter', view.name_filter);
    if (view.state) q.set('state', view.state);
    const search = q.toString();
    history.replaceState(null, '', `${location.pathname}${search ? `?${search}` : ''}${location.hash}`);
  }

  let loadSeq = 0;
  let filterTimer;
  /** Loads the current page of users (one paginated API request) and shows it. */
  async function loadUsers() {
    const seq = ++loadSeq;
    // Whatever triggered the load, the name filter is what the box says now.
    clearTimeout(filterTimer);
    view.name_filter = nameFilter.value.trim();
    const params = new URLSearchParams({ include_stopped_servers: '1', offset: view.offset, limit: view.limit });
    if (view.sort !== 'id') params.set('sort', view.sort);
    if (view.name_filter) params.set('name_filter', view.name_filter);
    if (view.state) params.set('state', view.state);
    table.setAttribute('aria-busy', 'true');
    let data;
    try {
      data = await api('GET', `/users?${params}`, undefined, true);
    } catch (e) {
      if (seq === loadSeq) {
        table.removeAttribute('aria-busy');
        showError(`Could not load the users: ${e.message}`);
      }
      return;
    }
    if (seq !== loadSeq) return;
    const page = data._pagination;
    if (page.offset && page.total <= page.offset) {
      // Past the end (users were deleted, or the filter narrowed): first page.
      view.offset = 0;
      await loadUsers();
      return;
    }
    pagination = page;
    keepFocus(() => renderUsers(data.items));
    table.removeAttribute('aria-busy');
    saveView();
  }

  function renderUsers(items) {
    users = new Map(items.map((u) => [u.name, u]));
    for (const body of bodies.values()) body.remove();
    bodies.clear();
    for (const user of items) {
      const body = userBody(user);
      bodies.set(user.name, body);
      table.append(body);
    }
    const { offset, total } = pagination;
    const shown = items.length;
    const summary = $('users-summary');
    summary.textContent =
      total === 0
        ? view.name_filter || view.state
          ? 'No users match the filter.'
          : 'There are no users.'
        : `Showing ${offset + 1}–${offset + shown} of ${total.toLocaleString('en')} user${total === 1 ? '' : 's'}`;
    const pages = Math.max(1, Math.ceil(total / view.limit));
    $('users-page').textContent = `Page ${Math.floor(offset / view.limit) + 1} of ${pages}`;
    $('users-prev').disabled = offset <= 0;
    $('users-next').disabled = offset + view.limit >= total;
    for (const th of table.querySelectorAll('th[data-sort]')) {
      const key = th.dataset.sort;
      const sort = view.sort === key ? 'ascending' : view.sort === `-${key}` ? 'descending' : 'none';
      th.setAttribute('aria-sort', sort);
      th.querySelector('button').dataset.arrow = { ascending: '▲', descending: '▼', none: '' }[sort];
    }
  }

  /** A user's servers, default first (shown even before it ever ran), then named ones by name. */
  function serversOf(user) {
    const servers = user.servers || {};
    const named = Object.values(servers)
      .filter((s) => s.name)
      .sort((a, b) => a.name.localeCompare(b.name));
    const fallback = { name: '', ready: false, pending: null, stopped: true, url: null, last_activity: null };
    return [servers[''] || fallback, ...named];
  }

  /** What a server is doing: running, starting, stopping or stopped. */
  function serverState(server) {
    if (server.pending === 'spawn') return 'starting';
    if (server.pending) return 'stopping';
    if (server.ready) return 'running';
    return 'stopped';
  }

  const serverLabel = (name, server) => (server ? `server ${server} of ${name}` : `${name}'s server`);

  function userBody(user) {
    const body = el('tbody', { class: 'user' });
    body.dataset.user = user.name;
    serversOf(user).forEach((server, index) => body.append(serverRow(user, server, index === 0)));
    return body;
  }

  function serverRow(user, server, first) {
    const state = serverState(server);
    const row = el('tr', { class: first ? 'user-first' : 'user-more' });
    row.dataset.server = server.name;
    row.dataset.state = state;
    const nameCell = el('td', { class: 'user-name' }, first ? el('strong', { text: user.name }) : el('span', { class: 'muted', text: user.name }));
    const adminCell = el('td', { class: 'user-admin' }, first ? (user.admin ? 'Yes' : 'No') : '');
    const serverCell = el('td', { class: 'server-name' }, server.name ? server.name : el('span', { class: 'muted', text: 'default' }));
    const activity = server.last_activity || (first ? user.last_activity : null);
    const stateCell = el('td', { class: 'server-state' }, el('span', { class: `state state-${state}`, text: state }));
    const actions = el('div', { class: 'row-actions' });
    const label = serverLabel(user.name, server.name);
    const rowKey = `${user.name}\u0000${server.name}`;
    const key = (what) => `${what}\u0000${rowKey}`;
    if (state === 'stopped') {
      actions.append(
        el('button', { type: 'button', class: 'small start', dataset: { key: key('start'), row: rowKey }, onclick: () => startOne(user.name, server.name) }, ...named('Start', label)),
      );
      if (server.name) {
        actions.append(
          el('button', { type: 'button', class: 'small secondary remove', dataset: { key: key('remove'), row: rowKey }, onclick: () => removeServer(user.name, server.name) }, ...named('Delete', label)),
        );
      }
    } else if (state !== 'stopping') {
      actions.append(
        el('button', { type: 'button', class: 'small danger stop', dataset: { key: key('stop'), row: rowKey }, onclick: () => stopOne(user.name, server.name) }, ...named('Stop', label)),
      );
    }
    if (state === 'running' && typeof server.url === 'string' && /^(\/|https?:\/\/)/.test(server.url)) {
      actions.append(el('a', { class: 'button small secondary open', href: server.url, dataset: { key: key('open'), row: rowKey } }, ...named('Open', label)));
    }
    if (first) {
      actions.append(
        el('button', { type: 'button', class: 'small secondary edit', dataset: { key: key('edit'), row: rowKey }, onclick: () => openEdit(user.name) }, ...named('Edit', `user ${user.name}`)),
      );
    }
    row.append(nameCell, adminCell, serverCell, el('td', { class: 'activity' }, when(activity)), stateCell, el('td', {}, actions));
    return row;
  }

  /** Shows a server as `state` at once, before the hub has answered. */
  function markRow(name, server, state) {
    const body = bodies.get(name);
    const row = body && [...body.rows].find((r) => r.dataset.server === server);
    if (!row) return;
    row.dataset.state = state;
    const badge = row.querySelector('.state');
    badge.className = `state state-${state}`;
    badge.textContent = state;
    for (const button of row.querySelectorAll('button.start, button.stop, button.remove')) button.disabled = true;
  }

  /** Reads one user again and re-renders their rows; null when the user is gone. */
  async function refreshUser(name) {
    let user;
    try {
      user = await api('GET', `${userPath(name)}?include_stopped_servers=1`);
    } catch (e) {
      if (e.status === 404) {
        const body = bodies.get(name);
        if (body) body.remove();
        bodies.delete(name);
        return null;
      }
      throw e;
    }
    const old = bodies.get(name);
    if (old) {
      keepFocus(() => {
        const body = userBody(user);
        old.replaceWith(body);
        bodies.set(name, body);
      });
    }
    users.set(name, user);
    return user;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  /** Polls the user model until the server reaches `done` (true) or gives up (false). */
  async function waitFor(name, server, wantRunning) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const user = await refreshUser(name);
      const model = user && user.servers ? user.servers[server] : undefined;
      const state = model ? serverState(model) : 'stopped';
      if (wantRunning && state === 'running') return true;
      if (!wantRunning && state === 'stopped') return true;
      if (wantRunning && state === 'stopped') return false; // the start failed
      if (Date.now() > deadline) return false;
      await sleep(POLL_MS);
    }
  }

  /** Starts one server and follows it until it runs; true when it does. */
  async function start(name, server) {
    markRow(name, server, 'starting');
    try {
      await api('POST', serverPath(name, server));
    } catch (e) {
      await refreshUser(name).catch(() => null);
      throw e;
    }
    if (!(await waitFor(name, server, true))) {
      throw new ApiError(0, `${serverLabel(name, server)} did not start; see the hub's log`);
    }
  }

  /** Stops one server and follows it until it has stopped. */
  async function stop(name, server) {
    markRow(name, server, 'stopping');
    try {
      await api('DELETE', serverPath(name, server));
    } catch (e) {
      await refreshUser(name).catch(() => null);
      throw e;
    }
    if (!(await waitFor(name, server, false))) {
      throw new ApiError(0, `${serverLabel(name, server)} did not stop in time`);
    }
  }

  async function startOne(name, server) {
    clearError();
    const label = serverLabel(name, server);
    announce(`Starting ${label}…`);
    try {
      await start(name, server);
      announce(`Started ${label}.`);
    } catch (e) {
      announce(`Could not start ${label}.`);
      showError(`Could not start ${label}: ${e.message}`);
    }
  }

  async function stopOne(name, server) {
    clearError();
    const label = serverLabel(name, server);
    announce(`Stopping ${label}…`);
    try {
      await stop(name, server);
      announce(`Stopped ${label}.`);
    } catch (e) {
      announce(`Could not stop ${label}.`);
      showError(`Could not stop ${label}: ${e.message}`);
    }
  }

  async function removeServer(name, server) {
    clearError();
    const ok = await confirmAction(`Delete the server "${server}" of ${name}? Its record is removed (files in the user's home stay).`, 'Delete server');
    if (!ok) return;
    try {
      await api('DELETE', serverPath(name, server), { remove: true });
      await refreshUser(name);
      announce(`Deleted ${serverLabel(name, server)}.`);
    } catch (e) {
      showError(`Could not delete ${serverLabel(name, server)}: ${e.message}`);
    }
  }

  /** Runs `jobs` ([label, fn]) at once, saying in the live region how far they got. */
  async function bulk(verb, done, jobs) {
    clearError();
    const total = jobs.length;
    let finished = 0;
    const failures = [];
    const report = () => announce(`${verb}: ${finished} of ${total} ${done}${failures.length ? `, ${failures.length} failed` : ''}…`);
    report();
    await Promise.all(
      jobs.map(async ([label, job]) => {
        try {
          await job();
          finished += 1;
        } catch (e) {
          failures.push(`${label}: ${e.message}`);
        }
        report();
      }),
    );
    announce(`${verb} finished: ${finished} of ${total} ${done}${failures.length ? `, ${failures.length} failed` : ''}.`);
    if (failures.length) showError(`${verb}: ${failures.length} failed. ${failures.join('; ')}`);
  }

  $('start-all').addEventListener('click', async (event) => {
    const button = event.currentTarget;
    const jobs = [];
    for (const user of users.values()) {
      const server = serversOf(user)[0];
      if (serverState(server) === 'stopped') jobs.push([serverLabel(user.name, ''), () => start(user.name, '')]);
    }
    if (!jobs.length) {
      announce('Every default server on this page is already running.');
      return;
    }
    button.disabled = true;
    await bulk('Start All', 'running', jobs);
    button.disabled = false;
  });

  $('stop-all').addEventListener('click', async (event) => {
    const button = event.currentTarget;
    const jobs = [];
    for (const user of users.values()) {
      for (const server of serversOf(user)) {
        const state = serverState(server);
        if (state === 'running' || state === 'starting') {
          jobs.push([serverLabel(user.name, server.name), () => stop(user.name, server.name)]);
        }
      }
    }
    if (!jobs.length) {
      announce('No server on this page is running.');
      return;
    }
    button.disabled = true;
    await bulk('Stop All', 'stopped', jobs);
    button.disabled = false;
  });

  // ---- Users: filters, sorting, pages -------------------------------------

  nameFilter.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      view.name_filter = nameFilter.value.trim();
      view.offset = 0;
      loadUsers();
    }, 300);
  });
  stateFilter.addEventListener('change', () => {
    view.state = stateFilter.value;
    view.offset = 0;
    loadUsers();
  });
  pageSize.addEventListener('change', () => {
    view.limit = Number(pageSize.value);
    view.offset = 0;
    loadUsers();
  });
  $('user-filters').addEventListener('submit', (event) => {
    event.preventDefault();
    clearTimeout(filterTimer);
    view.name_filter = nameFilter.value.trim();
    view.offset = 0;
    loadUsers();
  });
  for (const button of table.querySelectorAll('th button.sort')) {
    button.dataset.key = `sort-${button.dataset.sort}`;
    button.addEventListener('click', () => {
      const key = button.dataset.sort;
      view.sort = view.sort === key ? `-${key}` : key;
      view.offset = 0;
      loadUsers();
    });
  }
  $('users-prev').addEventListener('click', () => {
    view.offset = Math.max(0, view.offset - view.limit);
    loadUsers();
  });
  $('users-next').addEventListener('click', () => {
    if (pagination.offset + view.limit < pagination.total) {
      view.offset = pagination.offset + view.limit;
      loadUsers();
    }
  });

  // ---- Users: add, edit, delete -----------------------------------------

  const addDialog = $('add-users-dialog');
  $('add-users-open').addEventListener('click', () => {
    $('add-users-error').hidden = true;
    addDialog.showModal();
    $('add-usernames').focus();
  });
  $('add-users-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const names = [
      ...new Set(
        $('add-usernames')
          .value.split('\n')
          .map((line) => line.trim())
          .filter(Boolean),
      ),
    ];
    const errorLine = $('add-users-error');
    if (!names.length) {
      errorLine.textContent = 'Type at least one user name.';
      errorLine.hidden = false;
      return;
    }
    const submit = $('add-users-submit');
    submit.disabled = true;
    try {
      const created = await api('POST', '/users', { usernames: names, admin: $('add-admin').checked });
      const added = (created || []).map((u) => u.name);
      addDialog.close();
      $('add-usernames').value = '';
      $('add-admin').checked = false;
      await loadUsers();
      announce(`Added ${added.length} user${added.length === 1 ? '' : 's'}: ${added.join(', ')}.`);
    } catch (e) {
      errorLine.textContent = `Could not add users: ${e.message}`;
      errorLine.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });

  const editDialog = $('edit-user-dialog');
  let editing = null;
  function openEdit(name) {
    const user = users.get(name);
    if (!user) return;
    editing = user;
    $('edit-user-current').textContent = user.name;
    $('edit-user-name').value = user.name;
    $('edit-user-admin').checked = Boolean(user.admin);
    $('edit-user-error').hidden = true;
    editDialog.showModal();
    $('edit-user-name').focus();
  }
  function editError(text) {
    const line = $('edit-user-error');
    line.textContent = text;
    line.hidden = false;
  }
  $('edit-user-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!editing) return;
    const name = $('edit-user-name').value.trim();
    const admin = $('edit-user-admin').checked;
    const changes = {};
    if (name && name !== editing.name) changes.name = name;
    if (admin !== Boolean(editing.admin)) changes.admin = admin;
    if (!Object.keys(changes).length) {
      editDialog.close();
      return;
    }
    try {
      const saved = await api('PATCH', userPath(editing.name), changes);
      editDialog.close();
      await loadUsers();
      announce(`Saved user ${saved ? saved.name : name}.`);
    } catch (e) {
      editError(`Could not save: ${e.message}`);
    }
  });
  $('edit-user-delete').addEventListener('click', async () => {
    if (!editing) return;
    const name = editing.name;
    editDialog.close();
    const ok = await confirmAction(
      `Delete the user "${name}"? Their servers are stopped and their tokens removed. This cannot be undone.`,
      'Delete user',
    );
    if (!ok) return;
    try {
      await api('DELETE', userPath(name));
      await loadUsers();
      announce(`Deleted user ${name}.`);
    } catch (e) {
      showError(`Could not delete ${name}: ${e.message}`);
    }
  });

  // ---- Groups -------------------------------------------------------------

  const groupsView = { offset: 0, limit: DEFAULT_LIMIT, total: 0, loaded: false };
  const groupsList = $('groups-list');

  async function loadGroups() {
    let data;
    try {
      data = await api('GET', `/groups?offset=${groupsView.offset}&limit=${groupsView.limit}`, undefined, true);
    } catch (e) {
      showError(`Could not load the groups: ${e.message}`);
      return;
    }
    const page = data._pagination;
    if (page.offset && page.total <= page.offset) {
      groupsView.offset = 0;
      await loadGroups();
      return;
    }
    groupsView.total = page.total;
    groupsView.loaded = true;
    keepFocus(() => {
      groupsList.replaceChildren(...data.items.map((group, i) => groupItem(group, i)));
    });
    $('groups-summary').textContent =
      page.total === 0 ? 'There are no groups.' : `Showing ${page.offset + 1}–${page.offset + data.items.length} of ${page.total} group${page.total === 1 ? '' : 's'}`;
    $('groups-page').textContent = `Page ${Math.floor(page.offset / groupsView.limit) + 1} of ${Math.max(1, Math.ceil(page.total / groupsView.limit))}`;
    $('groups-prev').disabled = page.offset <= 0;
    $('groups-next').disabled = page.offset + groupsView.limit >= page.total;
  }

  /** Runs a group change, then shows the groups again; false if it failed. */
  async function changeGroup(done, action) {
    clearError();
    try {
      await action();
      await loadGroups();
      announce(done);
      return true;
    } catch (e) {
      showError(`${e.message}`);
      return false;
    }
  }

  function groupItem(group, index) {
    const id = `group-${index}`;
    const key = (what) => `${what}\u0000${group.name}`;
    const members = (group.users || []).slice().sort();
    const memberList = members.length
      ? el(
          'ul',
          { class: 'members', 'aria-label': `Members of ${group.name}` },
          ...members.map((member) =>
            el(
              'li',
              { dataset: { member } },
              el('span', { text: member }),
              el(
                'button',
                {
                  type: 'button',
                  class: 'small secondary',
                  dataset: { key: key(`remove-${member}`) },
                  onclick: () =>
                    changeGroup(`Removed ${member} from ${group.name}.`, () =>
                      api('DELETE', `${groupPath(group.name)}/users`, { users: [member] }),
                    ),
                },
                ...named('Remove', `${member} from ${group.name}`),
              ),
            ),
          ),
        )
      : el('p', { class: 'muted', text: 'No members.' });

    const memberInput = el('input', { type: 'text', id: `${id}-add`, autocomplete: 'off', spellcheck: 'false', required: true });
    const addForm = el(
      'form',
      {
        class: 'admin-inline add-member',
        onsubmit: async (event) => {
          event.preventDefault();
          const member = memberInput.value.trim();
          if (!member) return;
          await changeGroup(`Added ${member} to ${group.name}.`, () =>
            api('POST', `${groupPath(group.name)}/users`, { users: [member] }),
          );
        },
      },
      el('div', {}, el('label', { for: `${id}-add` }, 'Add a member', el('span', { class: 'visually-hidden', text: ` to ${group.name}` })), memberInput),
      el('button', { type: 'submit', dataset: { key: key('add') } }, ...named('Add member', `to ${group.name}`)),
    );

    const propsText = el('textarea', { id: `${id}-props`, rows: 4, spellcheck: 'false' });
    propsText.value = JSON.stringify(group.properties || {}, null, 2);
    const propsError = el('p', { class: 'error', role: 'alert', hidden: true });
    const propsForm = el(
      'form',
      {
        class: 'group-properties',
        onsubmit: async (event) => {
          event.preventDefault();
          let properties;
          try {
            properties = JSON.parse(propsText.value);
          } catch (e) {
            properties = undefined;
          }
          if (!properties || typeof properties !== 'object' || Array.isArray(properties)) {
            propsError.textContent = 'Properties must be a JSON object, for example {"course": "physics"}.';
            propsError.hidden = false;
            return;
          }
          propsError.hidden = true;
          await changeGroup(`Saved the properties of ${group.name}.`, () =>
            api('PUT', `${groupPath(group.name)}/properties`, properties),
          );
        },
      },
      el('label', { for: `${id}-props` }, 'Properties (a JSON object)', el('span', { class: 'visually-hidden', text: ` of ${group.name}` })),
      propsText,
      propsError,
      el('button', { type: 'submit', class: 'secondary', dataset: { key: key('props') } }, ...named('Save properties', `of ${group.name}`)),
    );

    const remove = el(
      'button',
      {
        type: 'button',
        class: 'danger small delete-group',
        dataset: { key: key('delete') },
        onclick: async () => {
          const ok = await confirmAction(`Delete the group "${group.name}"? Its members stay, without this group.`, 'Delete group');
          if (ok) await changeGroup(`Deleted group ${group.name}.`, () => api('DELETE', groupPath(group.name)));
        },
      },
      ...named('Delete group', group.name),
    );

    const item = el(
      'li',
      { class: 'admin-group', 'aria-labelledby': `${id}-name` },
      el('div', { class: 'group-head' }, el('h2', { id: `${id}-name`, text: group.name }), remove),
      el('h3', { text: `Members (${members.length})` }),
      memberList,
      addForm,
      propsForm,
    );
    item.dataset.group = group.name;
    return item;
  }

  $('create-group').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = $('new-group-name');
    const name = input.value.trim();
    if (!name) return;
    const created = await changeGroup(`Created group ${name}.`, () => api('POST', groupPath(name)));
    if (created) input.value = '';
  });
  $('groups-prev').addEventListener('click', () => {
    groupsView.offset = Math.max(0, groupsView.offset - groupsView.limit);
    loadGroups();
  });
  $('groups-next').addEventListener('click', () => {
    groupsView.offset += groupsView.limit;
    loadGroups();
  });

  // ---- Tabs -----------------------------------------------------------------

  const tabs = [$('tab-users'), $('tab-groups')];
  function showTab(tab, focus) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute('aria-selected', String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute('aria-controls')).hidden = !selected;
    }
    if (focus) tab.focus();
    const hash = tab.id === 'tab-groups' ? '#groups' : '';
    if (location.hash !== hash) history.replaceState(null, '', `${location.pathname}${location.search}${hash}`);
    if (tab.id === 'tab-groups' && !groupsView.loaded) loadGroups();
  }
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => showTab(tab, false));
    tab.addEventListener('keydown', (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) {
        event.preventDefault();
        showTab(tabs[(i + step + tabs.length) % tabs.length], true);
      }
    });
  });

  if (location.hash === '#groups') showTab(tabs[1], false);
  loadUsers();
})();
