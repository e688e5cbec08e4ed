// A gateway with --jwt-secret: a token's forced filter holds whatever the page asks for.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, eventually, Gateway, launchBrowser, openChat, signJwt, sql } from './lib/harness.js';

const SECRET = 'browser-test-secret-0123456789-abcdefghij';
const inMinutes = (m) => Math.floor(Date.now() / 1000) + m * 60;

describe('tokens', () => {
  const gateway = new Gateway('auth', ['--jwt-secret', SECRET]);
  let browser;

  before(async () => {
    await gateway.start();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await gateway.stop();
  });

  test("a page with a room-2 token never receives room 1's messages, even subscribing without a filter", async () => {
    const token = signJwt({ tables: ['messages'], filter: 'room=eq.2', exp: inMinutes(10) }, SECRET);
    const { page, errors } = await openChat(browser, gateway.base, { room: 2, name: 'bob', token });
    const run = Date.now();
    const secret = `room 1 only ${run}`;
    const visible = `room 2 ${run}`;
    await api(gateway.base, 'POST', '/api/messages', { room: 1, author: 'ada', body: secret });

    // Everything the log holds, unfiltered, through the page's own connection.
    await page.evaluate(() => {
      window.unfiltered = [];
      window.pgpulseDemo.rt.subscribe({ table: 'messages', from: 'beginning' }, (e) => {
        window.unfiltered.push({ op: e.op, room: (e.new ?? e.old)?.room, body: (e.new ?? e.old)?.body });
      });
    });
    await api(gateway.base, 'POST', '/api/messages', { room: 1, author: 'ada', body: `${secret} (live)` });
    await api(gateway.base, 'POST', '/api/messages', { room: 2, author: 'ada', body: visible });

    // Room 2's message was written last: once it is here, room 1's would have been too.
    await eventually(() => page.evaluate((v) => window.unfiltered.some((e) => e.body === v), visible), 'the room 2 message');
    await page.locator('#messages .body', { hasText: visible }).waitFor({ timeout: 2000 });
    const unfiltered = await page.evaluate(() => window.unfiltered);
    assert.deepEqual(unfiltered.filter((e) => e.room !== 2 && e.op !== 'TRUNCATE'), []);
    assert.ok(Number(await sql(`SELECT count(*) FROM messages WHERE room = 1 AND body LIKE 'room 1 only ${run}%'`)) === 2);
    assert.equal(await page.locator('#messages .body', { hasText: secret }).count(), 0);
    assert.deepEqual(errors, []);
  });

  test('a page without a token, or with an expired one, stops and says why', async () => {
    for (const [token, reason] of [[undefined, /token is required/], [signJwt({ tables: ['messages'], exp: inMinutes(-5) }, SECRET), /expired/]]) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${gateway.base}/?room=1${token ? `&token=${token}` : ''}`);
      await page.locator('#status[data-state="closed"]').waitFor({ timeout: 10_000 });
      assert.match(await page.textContent('#status .label'), reason);
      await context.close();
    }
  });

  test('a token for other tables gets the error forbidden, shown on the page', async () => {
    const token = signJwt({ tables: ['rooms'], exp: inMinutes(10) }, SECRET);
    const { page } = await openChat(browser, gateway.base, { room: 1, name: 'eve', token });
    await page.locator('#notice', { hasText: 'forbidden' }).waitFor({ timeout: 5000 });
    assert.equal(await page.getAttribute('#status', 'data-state'), 'open');
  });
});
