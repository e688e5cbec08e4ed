// pgpulse browser client: subscribe to row changes over the gateway's WebSocket, or Server-Sent
// Events where WebSocket cannot open; reconnect by itself and resume every subscription from
// the last event it delivered, so nothing is lost and nothing repeats. The wire protocol is
// docs/protocol.md. No dependency, no build step: a plain ES module.

const DEFAULTS = {
  transport: 'auto',
  backoff: { initialMs: 500, maxMs: 30_000 },
  heartbeatMs: 15_000, // the server's heartbeat; none for 3 periods means the connection is dead
  dedupeWindow: 10_000, // event ids remembered per subscription, a safety net against repeats
};

// Close codes of docs/protocol.md after which reconnecting cannot help: a client bug.
const FATAL_CLOSE = new Map([
  [1003, 'binary frames are not part of the protocol'],
  [1009, 'message too big'],
]);
const CLOSE_TOKEN = 1008;

/**
 * Opens a realtime connection to a pgpulse gateway.
 * @param {string} url the WebSocket URL, such as `ws://host:port/ws` (or a path like `/ws`)
 * @param {import('./pgpulse.js').ConnectOptions} [options]
 */
export function connect(url, options = {}) {
  return new Realtime(url, options);
}

/** The delay before reconnect attempt `attempt` (1, 2, ...): exponential, capped, jittered. */
export function backoffDelay(attempt, { initialMs, maxMs }, random = Math.random) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  // "Equal jitter": never below half the ceiling, so a crowd of clients spreads out without
  // any of them hammering the server right away.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** The SSE endpoint beside a WebSocket endpoint: ws://h/ws -> http://h/sse, wss -> https. */
export function deriveSseUrl(wsUrl) {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = url.pathname.endsWith('/ws') ? url.pathname.slice(0, -3) + '/sse' : '/sse';
  url.search = '';
  url.hash = '';
  return url.toString();
}

function resolveWsUrl(url) {
  const base = globalThis.location?.href;
  const resolved = base ? new URL(url, base) : new URL(url);
  if (resolved.protocol === 'http:') resolved.protocol = 'ws:';
  if (resolved.protocol === 'https:') resolved.protocol = 'wss:';
  return resolved.toString();
}

function withQuery(url, params) {
  const u = new URL(url);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') u.searchParams.set(key, value);
  }
  return u.toString();
}

function reportError(error) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
  else setTimeout(() => { throw error; });
}

class Subscription {
  constructor(realtime, id, spec, handler, dedupeWindow) {
    this.id = id;
    this.spec = { ...spec };
    this.handler = handler;
    /** The cursor to resume from: the last delivered event's id, or where the server started. */
    this.cursor = spec.from ?? null;
    this.active = true;
    this._realtime = realtime;
    this._seen = new Set();
    this._seenOrder = [];
    this._dedupeWindow = dedupeWindow;
  }

  unsubscribe() {
    if (!this.active) return;
    this.active = false;
    this._realtime._unsubscribe(this);
  }

  // Returns false for a repeat (already delivered), true after handing the event over.
  _deliver(event) {
    if (!this.active) return false;
    if (typeof event?.id === 'string') {
      if (this._seen.has(event.id)) return false;
      this._seen.add(event.id);
      this._seenOrder.push(event.id);
      if (this._seenOrder.length > this._dedupeWindow) {
        this._seen.delete(this._seenOrder.shift());
      }
      this.cursor = event.id;
    }
    try {
      this.handler(event);
    } catch (error) {
      reportError(error);
    }
    return true;
  }

  // The server's starting point for a subscription that has delivered nothing yet: resuming
  // from it (rather than from "now" again) keeps what happened during a disconnect.
  _started(cursor) {
    if (this._seenOrder.length === 0 && typeof cursor === 'string' && cursor !== '') {
      this.cursor = cursor;
    }
  }

  _wireSpec() {
    const { table, schema, filter, ops, columns } = this.spec;
    return { table, schema, filter, ops, columns, from: this.cursor ?? undefined };
  }
}

class Realtime {
  constructor(url, options) {
    this.url = resolveWsUrl(url);
    this.sseUrl = options.sseUrl ?? deriveSseUrl(this.url);
    this.options = options;
    this._token = options.token;
    this._getToken = options.getToken;
    this._transportMode = options.transport ?? DEFAULTS.transport;
    if (!['auto', 'websocket', 'sse'].includes(this._transportMode)) {
      throw new TypeError(`transport must be auto, websocket or sse, not ${this._transportMode}`);
    }
    this._backoff = { ...DEFAULTS.backoff, ...options.backoff };
    this._heartbeatMs = options.heartbeatMs ?? DEFAULTS.heartbeatMs;
    this._dedupeWindow = options.dedupeWindow ?? DEFAULTS.dedupeWindow;
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this._EventSource = options.EventSource ?? globalThis.EventSource;
    this._fetch = 'fetch' in options ? options.fetch : globalThis.fetch?.bind(globalThis);
    this._setTimeout = options.setTimeout ?? globalThis.setTimeout.bind(globalThis);
    this._clearTimeout = options.clearTimeout ?? globalThis.clearTimeout.bind(globalThis);
    this._random = options.random ?? Math.random;

    this._listeners = { state: new Set(), error: new Set() };
    this._subs = new Map();
    this._nextSub = 1;
    this._state = null;
    this._attempt = 0;
    this._generation = 0; // bumps on every teardown, so late callbacks of old sockets do nothing
    this._transport = null; // the transport of the attempt under way or open
    this._opened = { websocket: false, sse: false }; // ever opened, for 'auto'
    this._lastOpenFailed = false; // the last attempt failed before opening
    this._sseOpened = false; // every EventSource of the current SSE attempt has opened
    this._ws = null;
    this._sources = new Map(); // subscription id -> EventSource (SSE)
    this._retryTimer = null;
    this._watchdog = null;

    this._onOnline = () => {
      if (this._state === 'reconnecting' && this._retryTimer !== null) {
        this._clearTimeout(this._retryTimer);
        this._retryTimer = null;
        this._open();
      }
    };
    globalThis.addEventListener?.('online', this._onOnline);

    this._setState('connecting', { attempt: 0 });
    this._open();
  }

  /** 'connecting' | 'open' | 'reconnecting' | 'closed' */
  get state() {
    return this._state;
  }

  /** 'websocket' or 'sse': the transport in use or being tried. */
  get transport() {
    return this._transport;
  }

  on(name, listener) {
    const set = this._listeners[name];
    if (!set) throw new TypeError(`unknown event ${name}: use 'state' or 'error'`);
    set.add(listener);
    return () => set.delete(listener);
  }

  off(name, listener) {
    this._listeners[name]?.delete(listener);
  }

  subscribe(spec, handler) {
    if (!spec || typeof spec.table !== 'string' || spec.table === '') {
      throw new TypeError('subscribe needs a table');
    }
    if (typeof handler !== 'function') throw new TypeError('subscribe needs an event handler');
    if (this._state === 'closed') throw new Error('this connection is closed');
    const sub = new Subscription(this, `s${this._nextSub++}`, spec, handler, this._dedupeWindow);
    this._subs.set(sub.id, sub);
    if (this._state === 'open') {
      if (this._transport === 'websocket') this._sendSubscribe(sub);
      else this._openSource(sub, this._generation);
    }
    return sub;
  }

  close() {
    if (this._state === 'closed') return;
    this._finish('closed by the client');
  }

  // --- internals ---------------------------------------------------------------------------

  _emit(name, value) {
    for (const listener of [...this._listeners[name]]) {
      try {
        listener(value);
      } catch (error) {
        reportError(error);
      }
    }
  }

  _setState(state, details = {}) {
    this._state = state;
    this._emit('state', { state, transport: this._transport, ...details });
  }

  _chooseTransport() {
    if (this._transportMode !== 'auto') return this._transportMode;
    if (this._opened.websocket) return 'websocket';
    if (this._opened.sse) return 'sse';
    // Neither has worked yet: WebSocket first, then SSE, alternating (see _failedToOpen).
    return this._transport === 'websocket' && this._lastOpenFailed ? 'sse' : 'websocket';
  }

  async _open() {
    const generation = ++this._generation;
    this._transport = this._chooseTransport();
    if (this._getToken) {
      try {
        this._token = await this._getToken();
      } catch (error) {
        if (generation !== this._generation) return;
        this._emit('error', { code: 'token_refresh_failed', message: String(error?.message ?? error), sub: null });
        this._scheduleReconnect('token refresh failed');
        return;
      }
      if (generation !== this._generation) return;
    }
    if (this._transport === 'websocket') this._openWebSocket(generation);
    else this._openSse(generation);
  }

  _openWebSocket(generation) {
    let ws;
    try {
      // batch=1: the server may put several messages in one frame, one per line.
      ws = new this._WebSocket(withQuery(this.url, { token: this._token, batch: 1 }));
    } catch (error) {
      this._failedToOpen(`WebSocket unavailable: ${error?.message ?? error}`);
      return;
    }
    this._ws = ws;
    let opened = false;
    ws.onopen = () => {
      if (generation !== this._generation) return;
      opened = true;
      this._opened.websocket = true;
      this._connected();
      for (const sub of this._subs.values()) this._sendSubscribe(sub);
    };
    ws.onmessage = (message) => {
      if (generation !== this._generation) return;
      this._feedWatchdog();
      const data = message.data;
      if (typeof data !== 'string' || !data.includes('\n')) return this._onWsMessage(data);
      for (const line of data.split('\n')) {
        if (generation !== this._generation) return; // a handler closed or reconnected
        this._onWsMessage(line);
      }
    };
    // Browsers follow an error with a close event, which says more; some runtimes (Node 20's
    // WebSocket) fire only the error when the connection is refused.
    ws.onerror = () => {
      if (generation !== this._generation || opened) return;
      this._ws = null;
      this._failedToOpen('WebSocket failed to open');
    };
    ws.onclose = (event) => {
      if (generation !== this._generation) return;
      this._ws = null;
      if (!opened) return this._failedToOpen(`WebSocket failed to open (${event.code})`);
      this._onWsClose(event.code, event.reason);
    };
  }

  _onWsClose(code, reason) {
    const text = reason ? `${code} ${reason}` : `${code}`;
    if (FATAL_CLOSE.has(code)) return this._finish(`server closed the connection: ${text}`);
    if (code === CLOSE_TOKEN) {
      if (this._getToken) return this._scheduleReconnect(`server closed the connection: ${text}`, 1);
      return this._finish(reason || 'token expired');
    }
    // 1001 shutdown, 1006 network, 1011 server error, 4000 slow client, anything else:
    // reconnect and resume from the last cursor.
    this._scheduleReconnect(`connection lost: ${text}`);
  }

  _onWsMessage(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return; // not the protocol: ignore
    }
    switch (message?.type) {
      case 'event': {
        const sub = this._subs.get(message.sub);
        if (sub) sub._deliver(message.event);
        break;
      }
      case 'subscribed': {
        this._subs.get(message.id)?._started(message.cursor);
        break;
      }
      case 'error': {
        const sub = message.id ? this._subs.get(message.id) : undefined;
        this._serverError(sub, message);
        break;
      }
      default: // heartbeat, pong, unsubscribed: the watchdog was fed already
    }
  }

  // Every server error about a subscription means it was not created or was ended.
  _serverError(sub, message) {
    if (sub) {
      sub.active = false;
      this._subs.delete(sub.id);
      const source = this._sources.get(sub.id);
      if (source) {
        source.close();
        this._sources.delete(sub.id);
      }
    }
    this._emit('error', { code: message.code, message: message.message, sub: sub ?? null });
    this._checkSseOpen();
  }

  _sendSubscribe(sub) {
    this._send({ type: 'subscribe', id: sub.id, ...sub._wireSpec() });
  }

  _send(message) {
    if (this._ws && this._ws.readyState === 1) this._ws.send(JSON.stringify(message));
  }

  _unsubscribe(sub) {
    this._subs.delete(sub.id);
    if (this._transport === 'websocket') {
      this._send({ type: 'unsubscribe', id: sub.id });
    } else {
      this._sources.get(sub.id)?.close();
      this._sources.delete(sub.id);
    }
  }

  // --- SSE: one EventSource per subscription; the set of them acts as one connection ----------

  _openSse(generation) {
    if (!this._EventSource) {
      this._failedToOpen('EventSource unavailable');
      return;
    }
    this._sseOpened = false;
    for (const sub of this._subs.values()) this._openSource(sub, generation);
    // With nothing to stream the set is open at once; the first subscription opens its own.
    this._checkSseOpen();
  }

  // The set of EventSources counts as open once every subscription's source has opened.
  _checkSseOpen() {
    if (this._transport !== 'sse' || this._sseOpened) return;
    const sources = [...this._sources.values()];
    if (sources.length !== this._subs.size || !sources.every((s) => s.readyState === 1)) return;
    this._sseOpened = true;
    if (sources.length > 0) this._opened.sse = true; // proven to work, for 'auto'
    this._connected();
  }

  _openSource(sub, generation) {
    const { table, schema, filter, ops, columns, from } = sub._wireSpec();
    const url = withQuery(this.sseUrl, {
      table,
      schema,
      filter,
      ops: ops?.join(','),
      columns: columns?.join(','),
      from,
      token: this._token,
    });
    let source;
    try {
      source = new this._EventSource(url);
    } catch (error) {
      this._failedToOpen(`EventSource failed: ${error?.message ?? error}`);
      return;
    }
    this._sources.set(sub.id, source);
    let opened = false;
    const current = () => generation === this._generation && this._sources.get(sub.id) === source;
    source.addEventListener('open', () => {
      if (!current()) return;
      opened = true;
      this._opened.sse = true;
      this._checkSseOpen();
    });
    source.addEventListener('subscribed', (e) => {
      if (!current()) return;
      try {
        sub._started(JSON.parse(e.data).cursor);
      } catch { /* not the protocol */ }
    });
    source.addEventListener('change', (e) => {
      if (!current()) return;
      let event;
      try {
        event = JSON.parse(e.data);
      } catch {
        return;
      }
      sub._deliver(event);
    });
    source.addEventListener('error', (e) => {
      if (!current()) return;
      if (typeof e.data === 'string' && e.data !== '') {
        // The server's `error` event: the subscription is over (the response ends next).
        let message;
        try {
          message = JSON.parse(e.data);
        } catch {
          message = { code: 'invalid_response', message: e.data };
        }
        this._serverError(sub, message);
        return;
      }
      // The stream failed: treat the whole set as one lost connection, so state and backoff
      // behave as with WebSocket, and reopen every source from its subscription's cursor.
      if (!opened && !this._sseOpened) this._failedToOpen('EventSource failed to open');
      else this._scheduleReconnect('connection lost (SSE)');
    });
  }

  // --- connection life ----------------------------------------------------------------------

  _connected() {
    this._attempt = 0;
    this._lastOpenFailed = false;
    this._setState('open', {});
    this._feedWatchdog();
  }

  // Server heartbeats arrive on WebSocket only: SSE sends them as comment lines, which
  // EventSource does not expose, so the watchdog does not run for SSE.
  _feedWatchdog() {
    if (this._watchdog !== null) this._clearTimeout(this._watchdog);
    this._watchdog = null;
    if (this._transport !== 'websocket' || !(this._heartbeatMs > 0)) return;
    this._watchdog = this._setTimeout(() => {
      this._watchdog = null;
      this._scheduleReconnect(`no message or heartbeat for ${3 * this._heartbeatMs} ms`);
    }, 3 * this._heartbeatMs);
  }

  async _failedToOpen(reason) {
    this._teardown();
    const tryOther = this._transportMode === 'auto' && this._transport === 'websocket' &&
      !this._opened.websocket && !this._opened.sse;
    this._lastOpenFailed = true;
    if (tryOther) {
      // WebSocket may be blocked on this network: try SSE at once.
      this._open();
      return;
    }
    // Neither transport opens. A refused token looks the same as a dead server to WebSocket
    // and EventSource (both hide the HTTP status), so ask the server once, plainly.
    const generation = this._generation;
    const refusal = await this._probeAuth();
    if (generation !== this._generation || this._state === 'closed') return;
    if (refusal !== null && !this._getToken) return this._finish(refusal);
    this._scheduleReconnect(refusal ?? reason);
  }

  // The server's 401 reason (such as "token expired"), or null when it does not refuse us.
  async _probeAuth() {
    if (!this._fetch) return null;
    const controller = typeof AbortController === 'function' ? new AbortController() : null;
    const timer = this._setTimeout(() => controller?.abort(), 5000);
    try {
      const response = await this._fetch(withQuery(this.sseUrl, { token: this._token }), {
        signal: controller?.signal,
        cache: 'no-store',
      });
      if (response.status !== 401) return null;
      return (await response.text()).trim() || 'unauthorized';
    } catch {
      return null;
    } finally {
      this._clearTimeout(timer);
      controller?.abort();
    }
  }

  _scheduleReconnect(reason, attempt) {
    this._teardown();
    this._attempt = attempt ?? this._attempt + 1;
    const delayMs = backoffDelay(this._attempt, this._backoff, this._random);
    this._setState('reconnecting', { attempt: this._attempt, delayMs, reason });
    this._retryTimer = this._setTimeout(() => {
      this._retryTimer = null;
      this._open();
    }, delayMs);
  }

  // Drops the current socket or sources without letting their late callbacks act.
  _teardown() {
    this._generation++;
    if (this._retryTimer !== null) this._clearTimeout(this._retryTimer);
    if (this._watchdog !== null) this._clearTimeout(this._watchdog);
    this._retryTimer = null;
    this._watchdog = null;
    if (this._ws) {
      const ws = this._ws;
      this._ws = null;
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try {
        ws.close(1000);
      } catch { /* already closed */ }
    }
    for (const source of this._sources.values()) source.close();
    this._sources.clear();
  }

  _finish(reason) {
    this._teardown();
    globalThis.removeEventListener?.('online', this._onOnline);
    for (const sub of this._subs.values()) sub.active = false;
    this._subs.clear();
    this._setState('closed', { reason });
  }
}
