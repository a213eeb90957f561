// The stop-pending page: asks the REST API (same-origin, login cookie) every
// second whether the server is still stopping, then reloads, and the hub
// shows the page that offers to start it again.
'use strict';

(() => {
  const root = document.getElementById('stop-pending');
  if (!root) return;
  const server = root.dataset.serverName || '';
  const status = document.getElementById('stop-status');
  let checks = 0;

  const stillStopping = async () => {
    const response = await fetch(root.dataset.userApiUrl, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    // Without read access to the user model, reload the page every 5 s instead.
    if (!response.ok) return checks % 5 !== 0;
    const model = await response.json();
    const entry = model.servers && model.servers[server];
    return Boolean(entry && entry.pending === 'stop');
  };

  const poll = async () => {
    checks += 1;
    let stopping = true;
    try {
      stopping = await stillStopping();
    } catch (_) {
      stopping = checks % 5 !== 0;
    }
    if (stopping) {
      // (The status line stays as it is: a live region that changed every
      // second would be read out every second.)
      setTimeout(poll, 1000);
    } else {
      status.textContent = 'The server has stopped.';
      window.location.reload();
    }
  };
  setTimeout(poll, 1000);
})();
