// The spawn-pending page: follows the server's progress stream (same-origin
// EventSource, authenticated by the login cookie), moves the progress bar,
// logs each event, goes to the server once it is ready, shows the failure
// and a "Try again" link if it fails, and cancels the spawn on request
// (DELETE of the server through the REST API, with the page's XSRF token).
'use strict';

(() => {
  const root = document.getElementById('spawn-pending');
  if (!root) return;
  const bar = document.getElementById('progress-bar');
  const message = document.getElementById('progress-message');
  const log = document.getElementById('progress-log');
  const failed = document.getElementById('spawn-failed');
  const failedMessage = document.getElementById('spawn-failed-message');
  const cancel = document.getElementById('cancel');
  const cancelStatus = document.getElementById('cancel-status');
  let finished = false;

  const setProgress = (value) => {
    const percent = Math.max(0, Math.min(100, Number(value) || 0));
    bar.setAttribute('aria-valuenow', String(percent));
    bar.setAttribute('aria-valuetext', `${percent}%`);
    bar.style.width = `${percent}%`;
  };

  const addLine = (text) => {
    const item = document.createElement('li');
    item.textContent = text;
    log.appendChild(item);
  };

  const source = new EventSource(root.dataset.progressUrl);
  source.onmessage = (e) => {
    let event;
    try {
      event = JSON.parse(e.data);
    } catch (_) {
      return;
    }
    if (event.progress !== undefined) setProgress(event.progress);
    if (event.message) {
      message.textContent = event.message;
      addLine(event.message);
    }
    if (event.ready) {
      finished = true;
      source.close();
      cancel.hidden = true;
      window.location.assign(root.dataset.nextUrl || event.url);
    } else if (event.failed) {
      finished = true;
      source.close();
      cancel.hidden = true;
      bar.classList.add('failed');
      // The page no longer says it is starting; the alert says why it stopped.
      document.querySelector('#spawn-pending h1').textContent = 'Spawn failed';
      document.title = 'Spawn failed - ferrohub';
      document.getElementById('pending-intro').hidden = true;
      message.hidden = true;
      failedMessage.textContent = event.message || 'The server could not be started.';
      failed.hidden = false;
      document.getElementById('try-again').focus();
    }
  };
  source.onerror = () => {
    // The stream ended without a last event (the hub restarted, or the
    // server is no longer starting): the page itself says what is going on.
    if (!finished && source.readyState === EventSource.CLOSED) window.location.reload();
  };

  cancel.hidden = false;
  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    cancelStatus.textContent = 'Cancelling…';
    finished = true;
    source.close();
    try {
      const response = await fetch(root.dataset.serverApiUrl, {
        method: 'DELETE',
        credentials: 'same-origin',
        headers: { 'X-XSRFToken': root.dataset.xsrf, Accept: 'application/json' },
      });
      if (!response.ok && response.status !== 202) {
        const body = await response.json().catch(() => ({}));
        throw new Error(body.message || `status ${response.status}`);
      }
      window.location.assign(root.dataset.homeUrl);
    } catch (err) {
      cancelStatus.textContent = `Could not cancel: ${err.message}`;
      cancel.disabled = false;
    }
  });
})();
