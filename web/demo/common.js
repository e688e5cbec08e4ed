// What both demo pages share: the connection (from the page's query string) and the
// connection-state indicator.
import { connect } from '/client/pgpulse.js';

export const params = new URLSearchParams(location.search);

/** Connects to the gateway that served this page; ?token= and ?transport= are passed on. */
export function connectFromPage() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const rt = connect(`${scheme}://${location.host}/ws`, {
    token: params.get('token') || undefined,
    transport: params.get('transport') || 'auto',
  });
  // For exploring from the browser console: pgpulseDemo.rt.subscribe({table: ...}, console.log)
  window.pgpulseDemo = { rt };
  return rt;
}

const LABELS = {
  connecting: 'connecting…',
  open: 'live',
  reconnecting: 'reconnecting…',
  closed: 'offline',
};

/** Keeps `element` (a .status with .dot and .label inside) in step with the connection. */
export function showState(rt, element) {
  const label = element.querySelector('.label');
  const render = (change) => {
    element.dataset.state = change.state;
    let text = LABELS[change.state];
    if (change.state === 'open' && change.transport === 'sse') text += ' (SSE)';
    if (change.state === 'reconnecting' && change.attempt > 1) text = `reconnecting (try ${change.attempt})…`;
    if (change.state === 'closed' && change.reason) text = `offline: ${change.reason}`;
    label.textContent = text;
    element.title = change.reason ? `${change.state}: ${change.reason}` : change.state;
  };
  render({ state: rt.state, transport: rt.transport });
  rt.on('state', render);
}

/** Shows a short message in `element` for a few seconds. */
export function notify(element, text, kind = 'error') {
  element.textContent = text;
  element.dataset.kind = kind;
  element.hidden = false;
  clearTimeout(element._timer);
  element._timer = setTimeout(() => { element.hidden = true; }, 6000);
}
