// Unit tests of the browser client against fake WebSocket / EventSource classes and a manual
// clock: no network, no real time.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { backoffDelay, connect, deriveSseUrl } from '../pgpulse.js';
import { FakeClock, event, flush, makeFakeEventSource, makeFakeWebSocket } from '../test-support/fakes.js';

const URL_WS = 'ws://127.0.0.1:9000/ws';

function setup(options = {}) {
  const clock = new FakeClock();
  const WS = makeFakeWebSocket();
  const ES = makeFakeEventSource();
  const states = [];
  const errors = [];
  const rt = connect(options.url ?? URL_WS, {
    WebSocket: WS,
    EventSource: ES,
    fetch: null,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    random: () => 0.5,
    backoff: { initialMs: 1000, maxMs: 8000 },
    ...options,
  });
  rt.on('state', (s) => states.push(s));
  rt.on('error', (e) => errors.push(e));
  const lastWs = () => WS.instances.at(-1);
  const lastEs = () => ES.instances.at(-1);
  return { rt, clock, WS, ES, states, errors, lastWs, lastEs };
}

describe('backoff', () => {
  test('delays double from initialMs, stay within [half, full] of the step, and are capped at maxMs', () => {
    const b = { initialMs: 500, maxMs: 30_000 };
    assert.equal(backoffDelay(1, b, () => 0), 250);
    assert.equal(backoffDelay(1, b, () => 1), 500);
    assert.equal(backoffDelay(2, b, () => 1), 1000);
    assert.equal(backoffDelay(3, b, () => 1), 2000);
    assert.equal(backoffDelay(7, b, () => 1), 30_000);
    assert.equal(backoffDelay(100, b, () => 0), 15_000);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(4, b);
      assert.ok(d >= 2000 && d <= 4000, `jittered delay ${d} out of range`);
    }
  });

  test('reconnect attempts follow the backoff while the server stays away, then reset once open', async () => {
    const { clock, WS, states, lastWs } = setup();
    lastWs().open();
    lastWs().serverClose(1006);
    const delays = [];
    for (let attempt = 1; attempt <= 5; attempt++) {
      const s = states.at(-1);
      assert.equal(s.state, 'reconnecting');
      assert.equal(s.attempt, attempt);
      delays.push(s.delayMs);
      assert.deepEqual(clock.pendingDelays(), [s.delayMs]);
      const count = WS.instances.length;
      clock.advance(s.delayMs - 1);
      assert.equal(WS.instances.length, count, 'no attempt before the delay has passed');
      clock.advance(1);
      assert.equal(WS.instances.length, count + 1, 'an attempt once the delay has passed');
      lastWs().failToOpen();
      await flush();
    }
    // random() = 0.5: three quarters of 1000, 2000, 4000, 8000, then the 8000 cap.
    assert.deepEqual(delays, [750, 1500, 3000, 6000, 6000]);
    clock.advance(states.at(-1).delayMs);
    lastWs().open();
    assert.equal(states.at(-1).state, 'open');
    lastWs().serverClose(1006);
    assert.equal(states.at(-1).attempt, 1, 'attempts count again from 1 after a successful open');
    assert.equal(states.at(-1).delayMs, 750);
  });
});

describe('states', () => {
  test('connecting, then open, then reconnecting with the close reason, then open again', () => {
    const { clock, states, lastWs } = setup();
    assert.deepEqual(states, []); // the first state is emitted inside connect(), before on()
    lastWs().open();
    lastWs().serverClose(1011, 'internal error');
    clock.advance(states.at(-1).delayMs);
    lastWs().open();
    assert.deepEqual(states.map((s) => s.state), ['open', 'reconnecting', 'open']);
    assert.match(states[1].reason, /1011 internal error/);
    assert.equal(states[1].transport, 'websocket');
  });

  test('rt.state starts as connecting and close() ends in closed without any further attempt', () => {
    const { rt, clock, WS, states, lastWs } = setup();
    assert.equal(rt.state, 'connecting');
    lastWs().open();
    rt.close();
    assert.equal(rt.state, 'closed');
    assert.equal(states.at(-1).reason, 'closed by the client');
    assert.equal(lastWs().closedByClient, 1000);
    clock.advance(60_000);
    assert.equal(WS.instances.length, 1);
    assert.throws(() => rt.subscribe({ table: 'messages' }, () => {}), /closed/);
  });

  test('the token goes in the query string', () => {
    const { lastWs } = setup({ token: 'abc.def.ghi' });
    assert.equal(new URL(lastWs().url).searchParams.get('token'), 'abc.def.ghi');
  });
});

describe('subscriptions', () => {
  test('a subscription made before the socket opens is sent once it opens, with every field', () => {
    const { rt, lastWs } = setup();
    rt.subscribe(
      { table: 'messages', schema: 'public', filter: 'room=eq.1', ops: ['INSERT', 'DELETE'], columns: ['id', 'body'], from: 'beginning' },
      () => {},
    );
    assert.deepEqual(lastWs().sent, []);
    lastWs().open();
    assert.deepEqual(lastWs().sent, [
      { type: 'subscribe', id: 's1', table: 'messages', schema: 'public', filter: 'room=eq.1', ops: ['INSERT', 'DELETE'], columns: ['id', 'body'], from: 'beginning' },
    ]);
  });

  test('events reach the handler of their subscription only', () => {
    const { rt, lastWs } = setup();
    lastWs().open();
    const a = [];
    const b = [];
    rt.subscribe({ table: 'messages', filter: 'room=eq.1' }, (e) => a.push(e.id));
    rt.subscribe({ table: 'messages', filter: 'room=eq.2' }, (e) => b.push(e.id));
    lastWs().receive({ type: 'event', sub: 's1', event: event('1.1.1') });
    lastWs().receive({ type: 'event', sub: 's2', event: event('1.1.2') });
    lastWs().receive({ type: 'heartbeat' });
    lastWs().receive({ type: 'event', sub: 'nope', event: event('1.1.3') });
    assert.deepEqual(a, ['1.1.1']);
    assert.deepEqual(b, ['1.1.2']);
  });

  test('a batched frame (several messages, one per line) is delivered message by message, in order', () => {
    const { rt, lastWs } = setup();
    assert.equal(new URL(lastWs().url).searchParams.get('batch'), '1', 'the client asks for batches');
    lastWs().open();
    const got = [];
    rt.subscribe({ table: 'messages' }, (e) => got.push(e.id));
    const lines = [
      { type: 'subscribed', id: 's1', cursor: '1.1.0' },
      { type: 'event', sub: 's1', event: event('1.1.1') },
      { type: 'heartbeat' },
      { type: 'event', sub: 's1', event: event('1.1.2') },
    ].map((m) => JSON.stringify(m));
    lastWs().receiveText(lines.join('\n'));
    assert.deepEqual(got, ['1.1.1', '1.1.2']);
  });

  test('a repeated event id is delivered once', () => {
    const { rt, lastWs } = setup();
    lastWs().open();
    const got = [];
    rt.subscribe({ table: 'messages' }, (e) => got.push(e.id));
    for (const id of ['1.1.1', '1.1.2', '1.1.1', '1.1.2', '1.1.3']) {
      lastWs().receive({ type: 'event', sub: 's1', event: event(id) });
    }
    assert.deepEqual(got, ['1.1.1', '1.1.2', '1.1.3']);
  });

  test('a reconnect resubscribes every subscription from the last event it delivered', () => {
    const { rt, clock, states, lastWs } = setup();
    lastWs().open();
    const got = [];
    rt.subscribe({ table: 'messages', filter: 'room=eq.1', from: 'beginning' }, (e) => got.push(e.id));
    rt.subscribe({ table: 'messages', filter: 'room=eq.2', from: 'now' }, () => {});
    lastWs().receive({ type: 'subscribed', id: 's1', cursor: 'beginning' });
    lastWs().receive({ type: 'subscribed', id: 's2', cursor: '1.1.7' });
    lastWs().receive({ type: 'event', sub: 's1', event: event('1.1.8') });
    lastWs().receive({ type: 'event', sub: 's1', event: event('1.1.9') });
    lastWs().serverClose(1006);
    clock.advance(states.at(-1).delayMs);
    lastWs().open();
    const sent = lastWs().sent;
    assert.equal(sent.length, 2);
    assert.equal(sent[0].id, 's1');
    assert.equal(sent[0].from, '1.1.9', 'resumes after the last delivered event');
    assert.equal(sent[0].filter, 'room=eq.1');
    assert.equal(sent[1].from, '1.1.7', 'resumes from where the server started it (not "now" again)');
    // The server resends the last event (a safety net case): it is dropped; new ones flow.
    lastWs().receive({ type: 'event', sub: 's1', event: event('1.1.9') });
    lastWs().receive({ type: 'event', sub: 's1', event: event('1.1.10') });
    assert.deepEqual(got, ['1.1.8', '1.1.9', '1.1.10']);
    assert.equal(rt.subscribe({ table: 't' }, () => {}).cursor, null);
  });

  test('unsubscribe tells the server, drops later events, and is not resubscribed', () => {
    const { rt, clock, states, lastWs } = setup();
    lastWs().open();
    const got = [];
    const sub = rt.subscribe({ table: 'messages' }, (e) => got.push(e.id));
    sub.unsubscribe();
    assert.equal(sub.active, false);
    assert.deepEqual(lastWs().sent.at(-1), { type: 'unsubscribe', id: 's1' });
    lastWs().receive({ type: 'event', sub: 's1', event: event('1.1.1') });
    assert.deepEqual(got, []);
    lastWs().serverClose(1006);
    clock.advance(states.at(-1).delayMs);
    lastWs().open();
    assert.deepEqual(lastWs().sent, []);
  });

  test('a server error ends its subscription, reaches on("error") with code and message, and others go on', () => {
    const { rt, clock, states, errors, lastWs } = setup();
    lastWs().open();
    const bad = rt.subscribe({ table: 'messages', filter: 'body=like.x' }, () => {});
    const good = rt.subscribe({ table: 'messages' }, () => {});
    lastWs().receive({ type: 'error', id: 's1', code: 'invalid_filter', message: 'unknown operator "like" in "body=like.x"' });
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, 'invalid_filter');
    assert.match(errors[0].message, /unknown operator/);
    assert.equal(errors[0].sub, bad);
    assert.equal(bad.active, false);
    assert.equal(good.active, true);
    assert.equal(rt.state, 'open');
    lastWs().serverClose(1006);
    clock.advance(states.at(-1).delayMs);
    lastWs().open();
    assert.deepEqual(lastWs().sent.map((m) => m.id), ['s2']);
  });

  test('an exception in a handler does not stop delivery or move the state', () => {
    const reported = [];
    const original = globalThis.reportError;
    globalThis.reportError = (e) => reported.push(e);
    try {
      const { rt, lastWs } = setup();
      lastWs().open();
      const got = [];
      rt.subscribe({ table: 'messages' }, (e) => {
        got.push(e.id);
        throw new Error('app bug');
      });
      lastWs().receive({ type: 'event', sub: 's1', event: event('1.1.1') });
      lastWs().receive({ type: 'event', sub: 's1', event: event('1.1.2') });
      assert.deepEqual(got, ['1.1.1', '1.1.2']);
      assert.equal(reported.length, 2);
      assert.equal(rt.state, 'open');
    } finally {
      globalThis.reportError = original;
    }
  });
});

describe('close codes', () => {
  for (const [code, reason] of [[1001, 'server shutting down'], [4000, 'slow client: send queue full; reconnect and resume from your last cursor'], [1011, 'oops'], [1006, '']]) {
    test(`close ${code} reconnects and resumes`, () => {
      const { rt, clock, states, lastWs } = setup();
      lastWs().open();
      rt.subscribe({ table: 'messages' }, () => {});
      lastWs().receive({ type: 'event', sub: 's1', event: event('2.0.5') });
      lastWs().serverClose(code, reason);
      assert.equal(states.at(-1).state, 'reconnecting');
      clock.advance(states.at(-1).delayMs);
      lastWs().open();
      assert.equal(lastWs().sent[0].from, '2.0.5');
    });
  }

  test('close 1008 (token expired) without getToken ends in closed with the reason', async () => {
    const { rt, clock, WS, states, lastWs } = setup({ token: 't1' });
    lastWs().open();
    lastWs().serverClose(1008, 'token expired');
    assert.equal(rt.state, 'closed');
    assert.equal(states.at(-1).reason, 'token expired');
    clock.advance(120_000);
    assert.equal(WS.instances.length, 1);
  });

  test('close 1008 with getToken fetches a fresh token and reconnects with it', async () => {
    let n = 0;
    const { rt, clock, states, lastWs } = setup({ getToken: async () => `token-${++n}` });
    await flush();
    assert.equal(new URL(lastWs().url).searchParams.get('token'), 'token-1');
    lastWs().open();
    rt.subscribe({ table: 'messages' }, () => {});
    lastWs().receive({ type: 'event', sub: 's1', event: event('3.0.1') });
    lastWs().serverClose(1008, 'token expired');
    assert.equal(rt.state, 'reconnecting');
    clock.advance(states.at(-1).delayMs);
    await flush();
    assert.equal(new URL(lastWs().url).searchParams.get('token'), 'token-2');
    lastWs().open();
    assert.equal(lastWs().sent[0].from, '3.0.1');
  });

  test('close 1003 and 1009 (client bugs) end in closed instead of looping', () => {
    for (const code of [1003, 1009]) {
      const { rt, lastWs } = setup();
      lastWs().open();
      lastWs().serverClose(code, 'x');
      assert.equal(rt.state, 'closed');
    }
  });
});

describe('heartbeat watchdog', () => {
  test('silence for three heartbeat intervals means a dead connection: reconnect', () => {
    const { rt, clock, WS, states, lastWs } = setup({ heartbeatMs: 15_000 });
    lastWs().open();
    rt.subscribe({ table: 'messages' }, () => {});
    lastWs().receive({ type: 'event', sub: 's1', event: event('4.0.1') });
    // Heartbeats keep it alive for as long as they come.
    for (let i = 0; i < 10; i++) {
      clock.advance(15_000);
      lastWs().receive({ type: 'heartbeat' });
    }
    assert.equal(rt.state, 'open');
    const dead = lastWs();
    clock.advance(44_999);
    assert.equal(rt.state, 'open');
    clock.advance(1);
    assert.equal(rt.state, 'reconnecting');
    assert.match(states.at(-1).reason, /45000 ms/);
    assert.equal(dead.closedByClient, 1000);
    clock.advance(states.at(-1).delayMs);
    assert.equal(WS.instances.length, 2);
    lastWs().open();
    assert.equal(lastWs().sent[0].from, '4.0.1');
  });
});

describe('SSE fallback', () => {
  test("'auto' uses SSE when the WebSocket constructor throws (blocked)", () => {
    const { rt, ES, lastEs } = setup({
      WebSocket: class { constructor() { throw new Error('blocked by policy'); } },
    });
    assert.equal(rt.transport, 'sse');
    const got = [];
    rt.subscribe({ table: 'messages', from: 'beginning' }, (e) => got.push(e.id));
    assert.equal(ES.instances.length, 1);
    lastEs().open();
    assert.equal(rt.state, 'open');
    lastEs().emit('change', event('5.0.0'));
    assert.deepEqual(got, ['5.0.0']);
  });

  test("'auto' tries SSE at once when WebSocket fails to open, with the subscription in the URL", async () => {
    const { rt, WS, ES, states, lastWs, lastEs } = setup({ token: 'tok' });
    const got = [];
    rt.subscribe({ table: 'messages', filter: 'room=eq.1', ops: ['INSERT', 'UPDATE'], columns: ['id', 'body'], from: 'beginning' }, (e) => got.push(e.id));
    lastWs().failToOpen();
    await flush();
    assert.equal(ES.instances.length, 1);
    assert.equal(rt.transport, 'sse');
    const es = lastEs();
    assert.equal(es.url.split('?')[0], 'http://127.0.0.1:9000/sse');
    assert.equal(es.params.get('table'), 'messages');
    assert.equal(es.params.get('filter'), 'room=eq.1');
    assert.equal(es.params.get('ops'), 'INSERT,UPDATE');
    assert.equal(es.params.get('columns'), 'id,body');
    assert.equal(es.params.get('from'), 'beginning');
    assert.equal(es.params.get('token'), 'tok');
    es.open();
    assert.equal(rt.state, 'open');
    assert.equal(states.at(-1).transport, 'sse');
    es.emit('subscribed', { type: 'subscribed', id: 'sse', cursor: 'beginning' });
    es.emit('change', event('5.0.1'));
    es.emit('change', event('5.0.2'));
    es.emit('change', event('5.0.2'));
    assert.deepEqual(got, ['5.0.1', '5.0.2']);
    assert.equal(WS.instances.length, 1);
  });

  test('an SSE stream that drops reconnects with backoff, from the last event, and stays on SSE', () => {
    const { rt, clock, WS, ES, states, lastEs } = setup({ transport: 'sse' });
    const got = [];
    rt.subscribe({ table: 'messages', from: 'beginning' }, (e) => got.push(e.id));
    assert.equal(WS.instances.length, 0);
    lastEs().open();
    lastEs().emit('change', event('6.0.1'));
    const dropped = lastEs();
    dropped.fail();
    assert.equal(dropped.closed, true, 'the browser must not retry on its own');
    assert.equal(rt.state, 'reconnecting');
    clock.advance(states.at(-1).delayMs);
    assert.equal(ES.instances.length, 2);
    assert.equal(lastEs().params.get('from'), '6.0.1');
    lastEs().open();
    lastEs().emit('change', event('6.0.1'));
    lastEs().emit('change', event('6.0.2'));
    assert.deepEqual(got, ['6.0.1', '6.0.2']);
    assert.equal(WS.instances.length, 0);
  });

  test('one EventSource per subscription; open once all are; unsubscribe closes its own', () => {
    const { rt, ES, lastWs } = setup();
    const a = rt.subscribe({ table: 'messages', filter: 'room=eq.1' }, () => {});
    rt.subscribe({ table: 'messages', filter: 'room=eq.2' }, () => {});
    lastWs().failToOpen();
    return flush().then(() => {
      assert.equal(ES.instances.length, 2);
      ES.instances[0].open();
      assert.equal(rt.state, 'connecting');
      ES.instances[1].open();
      assert.equal(rt.state, 'open');
      a.unsubscribe();
      assert.equal(ES.instances[0].closed, true);
      assert.equal(ES.instances[1].closed, false);
      rt.subscribe({ table: 'messages', filter: 'room=eq.3' }, () => {});
      assert.equal(ES.instances.length, 3);
      assert.equal(ES.instances[2].params.get('filter'), 'room=eq.3');
    });
  });

  test("an SSE error event is the server's: reported, its subscription ended, no reconnect", () => {
    const { rt, clock, ES, errors, lastEs } = setup({ transport: 'sse' });
    const sub = rt.subscribe({ table: 'nope' }, () => {});
    lastEs().open();
    lastEs().emit('error', { type: 'error', id: 'sse', code: 'unknown_table', message: 'table public.nope does not exist or is not captured' });
    assert.equal(errors[0].code, 'unknown_table');
    assert.equal(errors[0].sub, sub);
    assert.equal(sub.active, false);
    assert.equal(lastEs().closed, true);
    assert.equal(rt.state, 'open');
    clock.advance(60_000);
    assert.equal(ES.instances.length, 1);
  });

  test("'auto' keeps WebSocket after it has worked once: a server restart does not switch to SSE", async () => {
    const { rt, clock, WS, ES, states, lastWs } = setup();
    rt.subscribe({ table: 'messages' }, () => {});
    lastWs().open();
    lastWs().serverClose(1006);
    for (let i = 0; i < 3; i++) {
      clock.advance(states.at(-1).delayMs);
      lastWs().failToOpen();
      await flush();
    }
    assert.equal(ES.instances.length, 0);
    clock.advance(states.at(-1).delayMs);
    assert.equal(WS.instances.length, 5);
  });

  test("'auto' alternates WebSocket and SSE, with backoff, while neither has ever opened", async () => {
    const { rt, clock, WS, ES, states, lastWs, lastEs } = setup();
    rt.subscribe({ table: 'messages' }, () => {});
    lastWs().failToOpen();
    await flush();
    assert.equal(ES.instances.length, 1);
    lastEs().fail();
    await flush();
    assert.equal(rt.state, 'reconnecting');
    clock.advance(states.at(-1).delayMs);
    assert.equal(WS.instances.length, 2);
    assert.equal(ES.instances.length, 1);
  });

  test("'websocket' never opens an EventSource", async () => {
    const { rt, clock, ES, states, lastWs } = setup({ transport: 'websocket' });
    rt.subscribe({ table: 'messages' }, () => {});
    lastWs().failToOpen();
    await flush();
    assert.equal(rt.state, 'reconnecting');
    clock.advance(states.at(-1).delayMs);
    assert.equal(ES.instances.length, 0);
  });
});

describe('refused tokens', () => {
  const refusing = (status, text) => async () => ({ status, text: async () => text });

  test('a 401 behind a failed open ends in closed with the server reason', async () => {
    const { rt, states, lastWs, lastEs } = setup({ token: 'old', fetch: refusing(401, 'token expired\n') });
    rt.subscribe({ table: 'messages' }, () => {});
    lastWs().failToOpen();
    await flush();
    lastEs().fail();
    await flush();
    await flush();
    assert.equal(rt.state, 'closed');
    assert.equal(states.at(-1).reason, 'token expired');
  });

  test('a failed open that is not a 401 (server down) goes on reconnecting', async () => {
    const { rt, lastWs } = setup({ transport: 'websocket', fetch: async () => { throw new TypeError('fetch failed'); } });
    lastWs().failToOpen();
    await flush();
    await flush();
    assert.equal(rt.state, 'reconnecting');
  });
});

describe('URLs', () => {
  test('the SSE URL is derived from the WebSocket URL', () => {
    assert.equal(deriveSseUrl('ws://127.0.0.1:8080/ws'), 'http://127.0.0.1:8080/sse');
    assert.equal(deriveSseUrl('wss://example.test/ws?token=x'), 'https://example.test/sse');
    assert.equal(deriveSseUrl('wss://example.test/realtime/ws'), 'https://example.test/realtime/sse');
    assert.equal(deriveSseUrl('ws://example.test/'), 'http://example.test/sse');
  });

  test('an explicit sseUrl wins', () => {
    const { rt } = setup({ sseUrl: 'http://127.0.0.1:9001/events' });
    assert.equal(rt.sseUrl, 'http://127.0.0.1:9001/events');
  });

  test('an unknown transport is refused', () => {
    assert.throws(() => connect(URL_WS, { transport: 'carrier-pigeon' }), /transport/);
  });
});

describe('runtimes', () => {
  test('a WebSocket that fires only an error when refused (Node 20) still leads to a retry', async () => {
    const { rt, clock, WS, states, lastWs } = setup({ transport: 'websocket' });
    lastWs().open();
    lastWs().serverClose(1006);
    clock.advance(states.at(-1).delayMs);
    lastWs().onerror({}); // no close event follows
    await flush();
    assert.equal(rt.state, 'reconnecting');
    assert.equal(states.at(-1).attempt, 2);
    clock.advance(states.at(-1).delayMs);
    assert.equal(WS.instances.length, 3);
  });

  test('an error followed by a close (browsers) counts as one failure', async () => {
    const { clock, states, lastWs } = setup({ transport: 'websocket' });
    lastWs().open();
    lastWs().serverClose(1006);
    clock.advance(states.at(-1).delayMs);
    lastWs().failToOpen(); // error, then close
    await flush();
    assert.deepEqual(states.map((s) => `${s.state}${s.attempt ?? ''}`), ['open', 'reconnecting1', 'reconnecting2']);
  });
});
