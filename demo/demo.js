// The demo chat client: plain DOM and ws-outbox/client (client.js, a bundle of src/client), the
// protocol in README.md ("Chat protocol"). Logs in first: a name → a short-lived token from the
// local gateway's development issuer (/dev/token) → connect with ?token= (browsers cannot set
// headers on a WebSocket). The client reconnects by itself (the status says "reconnecting…"),
// resumes the session (its rooms come back, and what was missed meanwhile: "resumed: N missed
// messages delivered"), drops duplicates and keeps each room in order. Sends
// {"action":"join"|"leave"|"send", …}; shows joined / left / message / error as they arrive, with
// the verified names the server put in them.
import { WsOutboxClient } from './client.js';

const $ = (id) => document.getElementById(id);
const wsBase = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;

// `mine`: every connection id this tab had (a resume gives it a new one; its old messages are still its own).
const state = { client: undefined, me: undefined, mine: new Set(), rooms: new Set() };

// Delivery is at-least-once: a PostToConnection retried after a timeout or a reset may already have
// arrived, and a replay can overlap live delivery. The client drops a repeat (same id, or the same
// sequence in a room) and says so; the page counts them. It remembers the last 1,000 ids.
let duplicatesDropped = 0;

// Names come from the server (the token the authorizer verified), never from what a client says.
const who = (id, name) => (state.mine.has(id) ? `${name ?? 'you'} (you)` : (name ?? '?'));

const setStatus = (text, kind) => {
  $('status').textContent = text;
  $('status').className = `pill ${kind}`;
};

const add = (kind, parts) => {
  const li = document.createElement('li');
  li.className = kind;
  if (parts.meta) {
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.innerHTML = parts.meta; // built only from escaped values below
    li.append(meta);
  }
  li.append(document.createTextNode(parts.text));
  $('log').append(li);
  li.scrollIntoView({ block: 'end' });
};

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const renderRooms = () => {
  const list = $('rooms');
  list.replaceChildren(
    ...[...state.rooms].sort().map((room) => {
      const li = document.createElement('li');
      li.textContent = `# ${room}`;
      return li;
    }),
  );
  const target = $('target');
  const chosen = target.value;
  target.replaceChildren(new Option('Everyone', ''), ...[...state.rooms].sort().map((room) => new Option(`# ${room}`, room)));
  target.value = state.rooms.has(chosen) ? chosen : target.value;
};

const setConnected = (connected) => {
  $('connect').disabled = connected;
  $('name').disabled = connected;
  $('broadcast').disabled = connected;
  $('disconnect').disabled = !connected;
  for (const id of ['join', 'leave', 'text', 'send']) $(id).disabled = !connected;
};

const onMessage = (m) => {
  if (m.data !== undefined && m.type === undefined) return add('system', { text: `(non-JSON message) ${m.data}` });
  switch (m.type) {
    case 'joined':
      if (state.mine.has(m.connectionId)) {
        state.rooms.add(m.room);
        renderRooms();
        $('target').value = m.room;
      }
      return add('system', { text: `${who(m.connectionId, m.name)} joined #${m.room}` });
    case 'left':
      if (state.mine.has(m.connectionId)) {
        state.rooms.delete(m.room);
        renderRooms();
      }
      return add('system', { text: `${who(m.connectionId, m.name)} left #${m.room}` });
    case 'message':
      return add(state.mine.has(m.from?.id) ? 'mine' : 'theirs', {
        meta: `<b>${escapeHtml(who(m.from?.id, m.from?.name))}</b> ${m.room ? `in #${escapeHtml(m.room)}` : 'to everyone'}`,
        text: m.text,
      });
    case 'error':
      return add('error', { text: `Error: ${m.message}` });
    default:
      // API Gateway's own replies ("Internal server error", "Forbidden") have only a message.
      return add('error', { text: `Gateway: ${m.message ?? JSON.stringify(m)}` });
  }
};

// While reconnecting, sends wait in the client's queue (100 at most) and go out once resumed.
const send = (payload) => {
  try {
    state.client?.send(payload);
  } catch (error) {
    add('error', { text: error.message });
  }
};

/** A token for `name` from the development issuer, or an Error saying why not. */
const logIn = async (name, broadcast) => {
  const query = new URLSearchParams({ name });
  if (broadcast) query.set('scope', 'chat:broadcast');
  const res = await fetch(`/dev/token?${query}`);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message ?? `the development issuer answered ${res.status}`);
  return body;
};

$('connect-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('name').value.trim();
  if (!name) return;
  setStatus('logging in…', 'off');
  let login;
  try {
    login = await logIn(name, $('broadcast').checked);
  } catch (error) {
    setStatus('not logged in', 'bad');
    return add('error', { text: `Login failed: ${error.message}` });
  }
  $('user').textContent =
    `${login.name} (${login.sub}, token valid ${Math.round(login.expiresIn / 60)} min${$('broadcast').checked ? ', may send to everyone' : ''})`;
  setStatus('connecting…', 'off');
  let everOpened = false;
  let rejected = false;
  const broadcast = $('broadcast').checked;
  // Called at every (re)connect and ahead of expiry: the login's token first, then a fresh one each time.
  let first = login;
  const token = async () => {
    const fresh = first ?? (await logIn(name, broadcast));
    first = undefined;
    return { token: fresh.token, expiresAt: Date.now() + fresh.expiresIn * 1000 };
  };
  // maxQueue: the example's per-connection burst (RATE_BURST), so what was queued offline passes its rate limit at once.
  // ordered: your messages show in the order you sent them (one at a time, each acknowledged).
  const client = new WsOutboxClient({ url: `${wsBase}/`, token, dedupeSize: 1000, maxQueue: 10, ordered: true });
  state.client = client;
  client.on('open', ({ resumed, connectionId }) => {
    if (connectionId) {
      state.me = connectionId;
      state.mine.add(connectionId);
      $('connection-id').textContent = connectionId;
    }
    setStatus(`connected as ${name}`, 'on');
    setConnected(true);
    if (!everOpened) add('system', { text: `Connected to ${wsBase}` });
    else if (!resumed) add('system', { text: 'Reconnected with a new session' });
    everOpened = true;
  });
  client.on('resumed', ({ missed }) => add('system resumed', { text: `resumed: ${missed} missed message${missed === 1 ? '' : 's'} delivered` }));
  client.on('reset', ({ room, user, reason }) => {
    if (room) {
      state.rooms.delete(room);
      renderRooms();
    }
    add('error', {
      text: `${room ? `#${room}` : user ? 'your direct messages' : 'a stream'} could not be recovered (${reason}): what was sent meanwhile is lost${room ? '; join again' : ''}`,
    });
  });
  client.on('message', onMessage);
  // A refusal by the server also arrives as an error message (shown by onMessage). A send the
  // client could not get confirmed (no answer, or the session was lost with it in flight) is said here.
  client.on('refused', ({ reason, message }) => {
    if (reason !== 'error') add('error', { text: `A message may not have been sent: ${message}` });
  });
  client.on('duplicate', () => {
    duplicatesDropped += 1;
    $('duplicates').textContent = String(duplicatesDropped);
  });
  client.on('reconnecting', () => setStatus('reconnecting…', 'off'));
  client.on('close', (ev) => {
    if (!everOpened && ev.refused) {
      // The browser hides the HTTP status of a refused upgrade: 401 for a bad token, 403 when the
      // authorizer denies a valid one (a name the chat cannot show). Retrying would not help.
      rejected = true;
      client.close();
      setStatus('rejected', 'bad');
      $('user').textContent = '–';
      setConnected(false);
      return add('error', { text: 'The gateway refused the connection (the authorizer said no). Names are 1–64 letters, digits, _ . or -' });
    }
    if (ev.willReconnect) {
      setStatus('reconnecting…', 'off');
      // One line per lost connection, not one per failed attempt while the network is down.
      if (!ev.refused) add('system', { text: `Connection lost (code ${ev.code}${ev.reason ? `: ${ev.reason}` : ''}); reconnecting…` });
      return;
    }
    if (rejected) return;
    setConnected(false);
    state.rooms.clear();
    renderRooms();
    $('connection-id').textContent = '–';
    setStatus('disconnected', 'off');
  });
});

// Ends the session at once (close code 1000): the rooms hear "left".
$('disconnect').addEventListener('click', () => {
  state.client?.close();
  add('system', { text: 'Disconnected' });
});

$('room-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const room = $('room').value.trim();
  if (!room) return;
  send({ action: 'join', room });
});

$('leave').addEventListener('click', () => {
  const room = $('room').value.trim();
  if (room) send({ action: 'leave', room });
});

$('send-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value;
  if (!text.trim()) return;
  const room = $('target').value;
  send(room ? { action: 'send', room, text } : { action: 'send', text });
  $('text').value = '';
  $('text').focus();
});

$('wscat').textContent = `npx wscat -c "${wsBase}?token=$(curl -s '${location.origin}/dev/token?name=alice' | jq -r .token)"`;
renderRooms();
