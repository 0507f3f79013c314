// The demo chat client: plain DOM, one WebSocket, the protocol in README.md ("Chat protocol").
// Logs in first: a name → a short-lived token from the local gateway's development issuer
// (/dev/token) → connect with ?token= (browsers cannot set headers on a WebSocket). Sends
// {"action":"join"|"leave"|"send", …}; shows joined / left / message / error as they arrive, with
// the verified names the server put in them, each event once (delivery is at-least-once, see
// firstSighting).
const $ = (id) => document.getElementById(id);
const wsBase = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;

const state = { ws: undefined, me: undefined, rooms: new Set(), pendingJoin: undefined };

// Delivery is at-least-once: a PostToConnection retried after a timeout or a reset may already have
// arrived, so the same event (same id, same bytes) can come twice. Remember the ids shown and drop a
// repeat. Bounded, oldest first out (a Set iterates in insertion order): a retry lands within
// seconds of the original, not a thousand events later, and a long-open tab must not grow forever.
const maxRememberedIds = 1000;
const seenIds = new Set();
let duplicatesDropped = 0;

/** True the first time an id is seen; events without an id (errors, gateway replies) always pass. */
const firstSighting = (id) => {
  if (typeof id !== 'string') return true;
  if (seenIds.has(id)) {
    duplicatesDropped += 1;
    $('duplicates').textContent = String(duplicatesDropped);
    return false;
  }
  seenIds.add(id);
  if (seenIds.size > maxRememberedIds) seenIds.delete(seenIds.values().next().value);
  return true;
};

// Names come from the server (the token the authorizer verified), never from what a client says.
const who = (id, name) => (id === state.me ? `${name ?? 'you'} (you)` : name ?? '?');

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
  list.replaceChildren(...[...state.rooms].sort().map((room) => {
    const li = document.createElement('li');
    li.textContent = `# ${room}`;
    return li;
  }));
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

const onMessage = (raw) => {
  let m;
  try {
    m = JSON.parse(raw);
  } catch {
    return add('system', { text: `(non-JSON message) ${raw}` });
  }
  if (!firstSighting(m?.id)) return;
  switch (m.type) {
    case 'joined':
      if (state.me === undefined && state.pendingJoin === m.room) {
        state.me = m.connectionId;
        $('connection-id').textContent = m.connectionId;
      }
      if (m.connectionId === state.me) {
        state.rooms.add(m.room);
        state.pendingJoin = undefined;
        renderRooms();
        $('target').value = m.room;
      }
      return add('system', { text: `${who(m.connectionId, m.name)} joined #${m.room}` });
    case 'left':
      if (m.connectionId === state.me) {
        state.rooms.delete(m.room);
        renderRooms();
      }
      return add('system', { text: `${who(m.connectionId, m.name)} left #${m.room}` });
    case 'message':
      return add(m.from?.id === state.me ? 'mine' : 'theirs', {
        meta: `<b>${escapeHtml(who(m.from?.id, m.from?.name))}</b> ${m.room ? `in #${escapeHtml(m.room)}` : 'to everyone'}`,
        text: m.text,
      });
    case 'error':
      return add('error', { text: `Error: ${m.message}` });
    default:
      // API Gateway's own replies ("Internal server error", "Forbidden") have only a message.
      return add('error', { text: `Gateway: ${m.message ?? raw}` });
  }
};

const send = (payload) => {
  if (state.ws?.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(payload));
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
  $('user').textContent = `${login.name} (${login.sub}, token valid ${Math.round(login.expiresIn / 60)} min${$('broadcast').checked ? ', may send to everyone' : ''})`;
  setStatus('connecting…', 'off');
  let opened = false;
  const ws = new WebSocket(`${wsBase}/?token=${encodeURIComponent(login.token)}`);
  state.ws = ws;
  ws.addEventListener('open', () => {
    opened = true;
    setStatus(`connected as ${name}`, 'on');
    setConnected(true);
    add('system', { text: `Connected to ${wsBase}` });
  });
  ws.addEventListener('message', (ev) => onMessage(ev.data));
  ws.addEventListener('close', (ev) => {
    setConnected(false);
    state.me = undefined;
    state.rooms.clear();
    renderRooms();
    $('connection-id').textContent = '–';
    if (!opened) {
      // The browser hides the HTTP status of a refused upgrade: 401 for a bad token, 403 when the
      // authorizer denies a valid one (a name the chat cannot show).
      setStatus('rejected', 'bad');
      $('user').textContent = '–';
      return add('error', { text: 'The gateway refused the connection (the authorizer said no). Names are 1–64 letters, digits, _ . or -' });
    }
    setStatus('disconnected', 'off');
    add('system', { text: `Disconnected (code ${ev.code}${ev.reason ? `: ${ev.reason}` : ''})` });
  });
});

$('disconnect').addEventListener('click', () => state.ws?.close(1000, 'bye'));

$('room-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const room = $('room').value.trim();
  if (!room) return;
  state.pendingJoin = room;
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
