// The chat demo: every change of the `messages` table of one room, live. The page writes
// through the demo API (POST / PATCH / DELETE /api/messages) and shows only what comes back as
// events, so two windows on one room always agree.
import { connectFromPage, notify, params, showState } from './common.js';

const ROOMS = [1, 2, 3];
const list = document.getElementById('messages');
const empty = document.getElementById('empty');
const scroller = document.getElementById('scroller');
const composer = document.getElementById('composer');
const authorInput = document.getElementById('author');
const bodyInput = document.getElementById('body');
const notice = document.getElementById('notice');
const roomNav = document.getElementById('rooms');

const rt = connectFromPage();
showState(rt, document.getElementById('status'));
rt.on('error', (e) => notify(notice, `${e.code}: ${e.message}`));

let room = pickRoom(params.get('room'));
let subscription = null;
const messages = new Map(); // row id -> { row, edited, element }

authorInput.value = params.get('name') || localStorage.getItem('pgpulse.author') || `guest-${Math.floor(Math.random() * 900 + 100)}`;
authorInput.addEventListener('change', () => {
  localStorage.setItem('pgpulse.author', authorInput.value.trim());
  for (const m of messages.values()) render(m);
});

function pickRoom(value) {
  const n = Number(value);
  return ROOMS.includes(n) ? n : 1;
}

// --- rooms -------------------------------------------------------------------------------------

for (const n of ROOMS) {
  const link = document.createElement('a');
  link.href = `?${withParam('room', n)}`;
  link.textContent = `Room ${n}`;
  link.dataset.room = n;
  link.addEventListener('click', (e) => {
    e.preventDefault();
    if (n === room) return;
    history.pushState(null, '', link.href);
    enterRoom(n);
  });
  roomNav.append(link);
}
addEventListener('popstate', () => enterRoom(pickRoom(new URLSearchParams(location.search).get('room'))));

function withParam(key, value) {
  const p = new URLSearchParams(location.search);
  p.set(key, value);
  return p.toString();
}

function enterRoom(n) {
  room = n;
  subscription?.unsubscribe();
  messages.clear();
  list.replaceChildren();
  for (const link of roomNav.children) link.setAttribute('aria-current', String(Number(link.dataset.room) === n));
  document.title = `Room ${n} · pgpulse chat`;
  empty.textContent = `No messages in room ${n} yet. Say hi!`;
  updateEmpty();
  // From the beginning, so the room's history shows; live changes follow without a gap.
  subscription = rt.subscribe(
    { table: 'messages', schema: 'public', filter: `room=eq.${n}`, from: 'beginning' },
    onChange,
  );
}

// --- events ------------------------------------------------------------------------------------

function onChange(event) {
  switch (event.op) {
    case 'INSERT':
      upsert(event.new, false);
      break;
    case 'UPDATE':
      // An UPDATE moving a message into this room arrives as an UPDATE of a row we lack.
      upsert(event.new, messages.has(event.new.id) || event.old?.room === event.new.room);
      break;
    case 'DELETE':
      remove(event.old.id);
      break;
    case 'TRUNCATE':
      messages.clear();
      list.replaceChildren();
      break;
  }
  updateEmpty();
}

function upsert(row, edited) {
  let m = messages.get(row.id);
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  if (m) {
    m.row = row;
    m.edited ||= edited;
    render(m);
    if (atBottom) scroller.scrollTop = scroller.scrollHeight;
    return;
  }
  m = { row, edited, element: document.createElement('li') };
  messages.set(row.id, m);
  render(m);
  // Keep id order, whatever order rows come in (an UPDATE can bring in an older one).
  let before = null;
  for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
    if (Number(node.dataset.id) < row.id) break;
    before = node;
  }
  list.insertBefore(m.element, before);
  if (atBottom || row.author === authorInput.value.trim()) scroller.scrollTop = scroller.scrollHeight;
}

function remove(id) {
  const m = messages.get(id);
  if (!m) return;
  messages.delete(id);
  m.element.remove();
}

function updateEmpty() {
  empty.hidden = messages.size > 0;
}

// --- rendering ---------------------------------------------------------------------------------

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

function hue(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360;
  return h;
}

function render(m) {
  const { row } = m;
  const li = m.element;
  if (li.querySelector('.edit-form')) {
    return; // being edited here: the form stays; the new text shows when it closes
  }
  li.className = 'message';
  li.classList.toggle('mine', row.author === authorInput.value.trim());
  li.dataset.id = row.id;

  const avatar = el('span', 'avatar', (row.author || '?').slice(0, 1).toUpperCase());
  avatar.style.setProperty('--hue', hue(row.author || ''));
  avatar.setAttribute('aria-hidden', 'true');

  const meta = el('div', 'meta');
  meta.append(el('span', 'author', row.author));
  const sent = new Date(row.sent_at);
  const time = el('time', 'time', Number.isNaN(sent.getTime()) ? '' : timeFormat.format(sent));
  time.dateTime = row.sent_at ?? '';
  time.title = Number.isNaN(sent.getTime()) ? '' : sent.toLocaleString();
  meta.append(time);
  if (m.edited) meta.append(el('span', 'edited', 'edited'));

  const body = el('p', 'body', row.body);

  const actions = el('div', 'actions');
  const edit = iconButton('edit', `Edit message ${row.id}`, ICONS.edit);
  edit.addEventListener('click', () => startEdit(m));
  const del = iconButton('delete', `Delete message ${row.id}`, ICONS.delete);
  del.addEventListener('click', () => api('DELETE', `/api/messages/${row.id}`));
  actions.append(edit, del);

  meta.append(actions);
  const bubble = el('div', 'bubble');
  bubble.append(meta, body);
  li.replaceChildren(avatar, bubble);
}

// Small inline icons (24x24 paths): no icon font, no external file.
const ICONS = {
  edit: 'M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4',
  delete: 'M5 7h14M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3',
};

function iconButton(className, label, path) {
  const button = el('button', className);
  button.type = 'button';
  button.title = label.replace(/ \d+$/, '');
  button.setAttribute('aria-label', label);
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const shape = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  shape.setAttribute('d', path);
  svg.append(shape);
  button.append(svg);
  return button;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function startEdit(m) {
  const body = m.element.querySelector('.body');
  const form = el('form', 'edit-form');
  const input = el('input', 'edit-input');
  input.value = m.row.body;
  input.maxLength = 2000;
  input.required = true;
  input.setAttribute('aria-label', 'New text');
  const save = el('button', 'save', 'Save');
  const cancel = el('button', 'cancel', 'Cancel');
  cancel.type = 'button';
  form.append(input, save, cancel);
  const close = () => {
    form.remove();
    render(m);
  };
  cancel.addEventListener('click', close);
  input.addEventListener('keydown', (e) => e.key === 'Escape' && close());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (text === '' || text === m.row.body) return close();
    save.disabled = true;
    if (await api('PATCH', `/api/messages/${m.row.id}`, { body: text })) close();
    else save.disabled = false;
  });
  body.replaceWith(form);
  m.element.querySelector('.actions').hidden = true;
  input.focus();
  input.select();
}

// --- writing -----------------------------------------------------------------------------------

async function api(method, path, body) {
  try {
    const response = await fetch(path, {
      method,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const reply = await response.json().catch(() => ({}));
    if (!response.ok) {
      notify(notice, reply.error || `${method} failed (${response.status})`);
      return null;
    }
    return reply;
  } catch (error) {
    notify(notice, `${method} failed: ${error.message}`);
    return null;
  }
}

composer.addEventListener('submit', async (e) => {
  e.preventDefault();
  const author = authorInput.value.trim();
  const body = bodyInput.value.trim();
  if (!author) return authorInput.focus();
  if (!body) return bodyInput.focus();
  localStorage.setItem('pgpulse.author', author);
  const send = composer.querySelector('button');
  send.disabled = true;
  const reply = await api('POST', '/api/messages', { room, author, body });
  send.disabled = false;
  if (reply) bodyInput.value = '';
  bodyInput.focus();
});

enterRoom(room);
