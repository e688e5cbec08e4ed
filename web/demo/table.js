// The live table demo: the rows of any captured table as their changes arrive, each change
// flashing its row, with a running events-per-second figure.
// Query string: ?table=messages&schema=public&filter=room%3Deq.1&from=beginning|now|<cursor>
import { connectFromPage, notify, params, showState } from './common.js';

const table = params.get('table') || 'messages';
const schema = params.get('schema') || 'public';
const filter = params.get('filter') || undefined;
const from = params.get('from') || 'beginning';

const head = document.getElementById('head');
const body = document.getElementById('body');
const empty = document.getElementById('empty');
const notice = document.getElementById('notice');
const caption = document.getElementById('caption');
const counters = {
  total: document.getElementById('total'),
  rows: document.getElementById('rows'),
  rate: document.getElementById('rate'),
  INSERT: document.getElementById('n-insert'),
  UPDATE: document.getElementById('n-update'),
  DELETE: document.getElementById('n-delete'),
};

document.getElementById('table-name').value = table;
document.title = `${table} · pgpulse live table`;
caption.textContent = `${schema}.${table}${filter ? ` where ${filter}` : ''}`;

const rt = connectFromPage();
showState(rt, document.getElementById('status'));
rt.on('error', (e) => {
  notify(notice, `${e.code}: ${e.message}`);
  empty.textContent = e.message;
});

const columns = []; // in first-seen order (table order, as the server sends rows)
const rows = new Map(); // key -> <tr>
const counts = { total: 0, INSERT: 0, UPDATE: 0, DELETE: 0, TRUNCATE: 0 };
const recent = []; // arrival times (ms) of the events of the last second

// A row's identity: its `id` column when it has one, else the whole row.
const keyOf = (row) => (row && 'id' in row ? `id:${JSON.stringify(row.id)}` : JSON.stringify(row));

rt.subscribe({ table, schema, filter, from }, (event) => {
  counts.total++;
  counts[event.op]++;
  recent.push(performance.now());
  switch (event.op) {
    case 'INSERT':
      put(keyOf(event.new), event.new, 'insert');
      break;
    case 'UPDATE': {
      const oldKey = keyOf(event.old);
      const newKey = keyOf(event.new);
      if (oldKey !== newKey && rows.has(oldKey)) {
        rows.get(oldKey).remove();
        rows.delete(oldKey);
      }
      put(newKey, event.new, 'update');
      break;
    }
    case 'DELETE': {
      const key = keyOf(event.old);
      const tr = rows.get(key);
      if (tr) {
        rows.delete(key);
        flash(tr, 'delete');
        tr.addEventListener('animationend', () => tr.remove(), { once: true });
        setTimeout(() => tr.remove(), 1500); // in case animations are off
      }
      break;
    }
    case 'TRUNCATE':
      rows.clear();
      body.replaceChildren();
      break;
  }
  showCounts();
});

function put(key, row, kind) {
  for (const column of Object.keys(row)) {
    if (!columns.includes(column)) {
      columns.push(column);
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = column;
      head.append(th);
      for (const tr of body.children) tr.append(document.createElement('td'));
    }
  }
  let tr = rows.get(key);
  if (!tr) {
    tr = document.createElement('tr');
    rows.set(key, tr);
    body.append(tr);
  }
  tr.dataset.key = key;
  const cells = columns.map((column) => {
    const td = document.createElement('td');
    const value = row[column];
    td.textContent = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
    if (value === null) td.className = 'null';
    if (typeof value === 'number') td.className = 'num';
    return td;
  });
  tr.replaceChildren(...cells);
  flash(tr, kind);
}

function flash(tr, kind) {
  tr.classList.remove('flash-insert', 'flash-update', 'flash-delete');
  void tr.offsetWidth; // restart the animation when a row changes twice in a row
  tr.classList.add(`flash-${kind}`);
}

function showCounts() {
  counters.total.textContent = counts.total.toLocaleString();
  counters.rows.textContent = rows.size.toLocaleString();
  counters.INSERT.textContent = counts.INSERT.toLocaleString();
  counters.UPDATE.textContent = counts.UPDATE.toLocaleString();
  counters.DELETE.textContent = counts.DELETE.toLocaleString();
  empty.hidden = rows.size > 0;
}

// Events per second over the last second, refreshed four times a second.
setInterval(() => {
  const now = performance.now();
  while (recent.length && recent[0] < now - 1000) recent.shift();
  counters.rate.textContent = recent.length.toLocaleString();
}, 250);

showCounts();

// Watching another table keeps the other parameters (token, transport).
document.getElementById('pick').addEventListener('submit', (e) => {
  e.preventDefault();
  const next = new URLSearchParams(location.search);
  next.set('table', document.getElementById('table-name').value.trim());
  next.delete('filter');
  location.search = next.toString();
});
