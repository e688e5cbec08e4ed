// A gateway killed (SIGKILL) and restarted while rows are written: the page reconnects by
// itself and shows every row it missed, exactly once, in order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { api, eventually, Gateway, launchBrowser, messageBodies, openChat, sleep, sql, sqlScript } from './lib/harness.js';

describe('gateway restart', () => {
  const gateway = new Gateway('restart');
  let browser;

  before(async () => {
    await gateway.start();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await gateway.stop();
  });

  test('the page reconnects by itself after a kill -9 and shows every missed row exactly once', async (t) => {
    const room = 3;
    const run = Date.now();
    const { page } = await openChat(browser, gateway.base, { room, name: 'ada' });
    // Beside the page's own subscription, record raw deliveries and state changes through the
    // page's client, to see repeats that the page's keyed rendering would hide.
    await page.evaluate((r) => {
      window.deliveries = [];
      window.states = [];
      window.serverErrors = [];
      const { rt } = window.pgpulseDemo;
      rt.on('state', (s) => window.states.push(`${s.state}${s.reason ? ` (${s.reason})` : ''}`));
      rt.on('error', (e) => window.serverErrors.push(`${e.sub?.id}: ${e.code}: ${e.message}`));
      rt.subscribe({ table: 'messages', filter: `room=eq.${r}`, from: 'now' }, (e) => {
        window.deliveries.push({ id: e.id, row: (e.new ?? e.old).id });
      });
    }, room);
    const before = `before the restart ${run}`;
    await api(gateway.base, 'POST', '/api/messages', { room, author: 'ada', body: before });
    await page.locator('#messages .body', { hasText: before }).waitFor({ timeout: 2000 });

    // 30 rows, one transaction each, about 100 ms apart, written straight to PostgreSQL while
    // the gateway goes down and comes back.
    const count = 30;
    const bodies = Array.from({ length: count }, (_, i) => `row ${String(i + 1).padStart(2, '0')} of ${run}`);
    const writer = sqlScript(bodies.map((b) =>
      `INSERT INTO messages (room, author, body) VALUES (${room}, 'writer', '${b}');\nSELECT pg_sleep(0.1);`).join('\n'));
    await sleep(600);
    await gateway.kill('SIGKILL');
    const killedAt = Date.now();
    await page.locator('#status[data-state="reconnecting"]').waitFor({ timeout: 5000 });
    await sleep(1200);
    await gateway.start();
    const restartedAt = Date.now();
    t.diagnostic(`gateway down for ${restartedAt - killedAt} ms`);
    await writer;

    await page.locator('#status[data-state="open"]').waitFor({ timeout: 20_000 });
    t.diagnostic(`page open again ${Date.now() - restartedAt} ms after the restart`);
    const ours = async () => (await messageBodies(page)).filter((b) => b.endsWith(`of ${run}`));
    try {
      await eventually(async () => (await ours()).length >= count, `all ${count} rows in the page`, 15_000);
    } catch (error) {
      const seen = await ours();
      const report = await page.evaluate(() => ({
        deliveries: window.deliveries,
        states: window.states,
        serverErrors: window.serverErrors,
        cursors: [...window.pgpulseDemo.rt._subs.values()].map((s) => [s.id, s.spec.filter, s.cursor]),
      }));
      t.diagnostic(`page shows ${seen.length}: ${seen.join(' | ')}`);
      t.diagnostic(JSON.stringify(report));
      t.diagnostic(await sql(`SELECT string_agg(id::text || ':' || body, ' | ' ORDER BY id) FROM messages WHERE body LIKE '% of ${run}'`));
      throw error;
    }
    await sleep(300); // a repeat would come right behind
    assert.deepEqual(await ours(), bodies, 'every row once, in order');

    const deliveries = await page.evaluate(() => window.deliveries);
    const ids = deliveries.map((d) => d.id);
    assert.equal(new Set(ids).size, ids.length, 'no event delivered twice');
    assert.equal(deliveries.length, count + 1, 'the row before the restart and every row during it');
    const states = await page.evaluate(() => window.states);
    assert.ok(states.some((s) => s.startsWith('reconnecting')) && states.at(-1) === 'open', `states: ${states.join(', ')}`);
    assert.deepEqual(await page.evaluate(() => window.serverErrors), []);
    assert.equal(Number(await sql(`SELECT count(*) FROM messages WHERE body LIKE '% of ${run}'`)), count);
  });
});
