// Test doubles for the client: a manual clock, a WebSocket and an EventSource driven by hand.

export class FakeClock {
  constructor() {
    this.now = 0;
    this.timers = new Map();
    this.nextId = 1;
    this.setTimeout = (fn, ms) => {
      const id = this.nextId++;
      this.timers.set(id, { fn, at: this.now + ms, ms });
      return id;
    };
    this.clearTimeout = (id) => this.timers.delete(id);
  }

  /** The delays of the timers now pending, shortest first. */
  pendingDelays() {
    return [...this.timers.values()].map((t) => t.ms).sort((a, b) => a - b);
  }

  /** Moves time on by `ms`, running every timer that falls due, in order. */
  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      let next = null;
      for (const [id, t] of this.timers) if (t.at <= end && (!next || t.at < next[1].at)) next = [id, t];
      if (!next) break;
      this.timers.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = end;
  }
}

export function makeFakeWebSocket() {
  class FakeWS {
    static instances = [];
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedByClient = null;
      FakeWS.instances.push(this);
    }
    send(data) {
      if (this.readyState !== 1) throw new Error('send on a socket that is not open');
      this.sent.push(JSON.parse(data));
    }
    close(code) {
      this.closedByClient = code ?? 1005;
      this.readyState = 3;
    }
    // Driven by the test:
    open() {
      this.readyState = 1;
      this.onopen?.({});
    }
    receive(message) {
      this.onmessage?.({ data: JSON.stringify(message) });
    }
    receiveText(data) {
      this.onmessage?.({ data });
    }
    serverClose(code, reason = '') {
      this.readyState = 3;
      this.onclose?.({ code, reason, wasClean: code !== 1006 });
    }
    failToOpen() {
      this.readyState = 3;
      this.onerror?.({});
      this.onclose?.({ code: 1006, reason: '', wasClean: false });
    }
  }
  return FakeWS;
}

export function makeFakeEventSource() {
  class FakeES {
    static instances = [];
    constructor(url) {
      this.url = url;
      this.params = new URL(url).searchParams;
      this.readyState = 0;
      this.listeners = new Map();
      this.closed = false;
      FakeES.instances.push(this);
    }
    addEventListener(type, fn) {
      if (!this.listeners.has(type)) this.listeners.set(type, []);
      this.listeners.get(type).push(fn);
    }
    close() {
      this.closed = true;
      this.readyState = 2;
    }
    dispatch(type, event) {
      for (const fn of this.listeners.get(type) ?? []) fn(event);
    }
    // Driven by the test:
    open() {
      this.readyState = 1;
      this.dispatch('open', {});
    }
    emit(type, data) {
      this.dispatch(type, { data: JSON.stringify(data), lastEventId: data?.id ?? '' });
    }
    fail() {
      this.readyState = 0;
      this.dispatch('error', {});
    }
  }
  return FakeES;
}

/** Lets pending promise callbacks run (the client awaits getToken and its 401 probe). */
export const flush = () => new Promise((resolve) => setImmediate(resolve));

export function event(id, op = 'INSERT', row = { id: 1 }) {
  return {
    id,
    op,
    schema: 'public',
    table: 'messages',
    xid: 1,
    commit_time: '2026-11-24T07:42:31.052509Z',
    new: op === 'DELETE' ? null : row,
    old: op === 'INSERT' ? null : row,
  };
}
