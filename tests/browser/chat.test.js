// The chat and live-table demo pages in a real browser against a real gateway and PostgreSQL.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  api, DESKTOP, eventually, Gateway, launchBrowser, messageBodies, openChat, OUTPUT, PHONE, ROOT,
  sql, sqlScript, watchConsole,
} from './lib/harness.js';

describe('chat demo', () => {
  const gateway = new Gateway('chat');
  let browser;
  let ada;
  let linus;
  const consoles = {}; // page name -> its console errors

  before(async () => {
    await gateway.start();
    browser = await launchBrowser();
    ada = await openChat(browser, gateway.base, { room: 1, name: 'ada' });
    linus = await openChat(browser, gateway.base, { room: 1, name: 'linus' });
    consoles['chat (ada)'] = ada.errors;
    consoles['chat (linus)'] = linus.errors;
  });

  after(async () => {
    await browser?.close();
    await gateway.stop();
  });

  const message = (page, text) => page.locator('#messages .message', { hasText: text });

  test('a message posted in one page appears in the other within one second', async (t) => {
    const text = `hello from ada ${Date.now()}`;
    // Timed inside the browser (one clock for both pages): from the composer's submit in one
    // page to the message in the other page's DOM, without the test driver's own latency.
    await linus.page.evaluate((wanted) => {
      window.arrival = new Promise((resolve) => {
        const list = document.getElementById('messages');
        const observer = new MutationObserver(() => {
          if ([...list.querySelectorAll('.body')].some((b) => b.textContent === wanted)) {
            observer.disconnect();
            resolve(Date.now());
          }
        });
        observer.observe(list, { childList: true, subtree: true, characterData: true });
      });
    }, text);
    await ada.page.evaluate(() => {
      document.getElementById('composer').addEventListener('submit', () => { window.sentAt = Date.now(); }, { capture: true, once: true });
    });
    await ada.page.fill('#body', text);
    await ada.page.press('#body', 'Enter');
    await message(linus.page, text).waitFor({ timeout: 5000 });
    const elapsed = (await linus.page.evaluate(() => window.arrival)) - (await ada.page.evaluate(() => window.sentAt));
    t.diagnostic(`posted in one page, shown in the other after ${elapsed} ms`);
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
    await message(ada.page, text).waitFor({ timeout: 1000 });
    assert.equal(await message(ada.page, text).getAttribute('class'), 'message mine');
    assert.equal(await message(linus.page, text).getAttribute('class'), 'message');
    assert.equal(await ada.page.inputValue('#body'), '', 'the composer is cleared');
  });

  test('an UPDATE and a DELETE made with SQL appear in both pages', async () => {
    const { body } = await api(gateway.base, 'POST', '/api/messages', { room: 1, author: 'grace', body: 'typo in tihs one' });
    const row = (page) => page.locator(`#messages .message[data-id="${body.id}"]`);
    for (const { page } of [ada, linus]) await row(page).waitFor({ timeout: 2000 });

    await sql(`UPDATE messages SET body = 'typo in this one' WHERE id = ${body.id}`);
    for (const { page } of [ada, linus]) {
      await row(page).locator('.body', { hasText: /^typo in this one$/ }).waitFor({ timeout: 2000 });
      assert.equal(await row(page).locator('.edited').count(), 1, 'marked as edited');
    }

    await sql(`DELETE FROM messages WHERE id = ${body.id}`);
    for (const { page } of [ada, linus]) await row(page).waitFor({ state: 'detached', timeout: 2000 });
  });

  test('the edit and delete buttons write through the API and both pages follow', async () => {
    const { body } = await api(gateway.base, 'POST', '/api/messages', { room: 1, author: 'ada', body: 'edit me' });
    const row = (page) => page.locator(`#messages .message[data-id="${body.id}"]`);
    await row(ada.page).waitFor();
    await row(ada.page).hover();
    await row(ada.page).locator('button.edit').click();
    await row(ada.page).locator('.edit-input').fill('edited in the page');
    await row(ada.page).locator('.edit-input').press('Enter');
    for (const { page } of [ada, linus]) {
      await row(page).locator('.body', { hasText: 'edited in the page' }).waitFor({ timeout: 2000 });
      await row(page).locator('.edited').waitFor();
    }
    await row(linus.page).hover();
    await row(linus.page).locator('button.delete').click();
    for (const { page } of [ada, linus]) await row(page).waitFor({ state: 'detached', timeout: 2000 });
  });

  test("a room shows only its own messages, and switching rooms loads the other room's history", async () => {
    const text = `only for room 2, ${Date.now()}`;
    await api(gateway.base, 'POST', '/api/messages', { room: 2, author: 'linus', body: text });
    const marker = `room 1 after it, ${Date.now()}`;
    await api(gateway.base, 'POST', '/api/messages', { room: 1, author: 'linus', body: marker });
    await message(ada.page, marker).waitFor({ timeout: 2000 });
    assert.equal(await message(ada.page, text).count(), 0);

    await ada.page.click('#rooms a[data-room="2"]');
    await message(ada.page, text).waitFor({ timeout: 2000 });
    assert.equal(await message(ada.page, marker).count(), 0);
    assert.match(ada.page.url(), /room=2/);
    await ada.page.click('#rooms a[data-room="1"]');
    await message(ada.page, marker).waitFor({ timeout: 2000 });
  });

  test('where WebSocket is blocked, the page falls back to Server-Sent Events and stays live', async (t) => {
    const blocked = await openChat(browser, gateway.base, {
      room: 1,
      name: 'mary',
      init: () => {
        window.WebSocket = class {
          constructor() {
            throw new DOMException('WebSocket blocked (test)', 'SecurityError');
          }
        };
      },
    });
    consoles['chat over SSE'] = blocked.errors;
    assert.match(await blocked.page.textContent('#status .label'), /live \(SSE\)/);
    const text = `through SSE ${Date.now()}`;
    await ada.page.fill('#body', text);
    const started = Date.now();
    await ada.page.press('#body', 'Enter');
    await message(blocked.page, text).waitFor({ timeout: 5000 });
    t.diagnostic(`over SSE after ${Date.now() - started} ms (as the test driver sees it)`);
    await blocked.context.close();
  });

  test('the live table shows each insert, update and delete as it happens', async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    consoles['table'] = watchConsole(page);
    await page.goto(`${gateway.base}/table.html?table=messages`);
    await page.locator('#status[data-state="open"]').waitFor({ timeout: 10_000 });

    const { body } = await api(gateway.base, 'POST', '/api/messages', { room: 3, author: 'ada', body: 'a row for the table' });
    const row = page.locator(`#body tr[data-key="id:${body.id}"]`);
    await row.waitFor({ timeout: 2000 });
    assert.match(await row.getAttribute('class'), /flash-insert/);
    // The figure covers the last second and is redrawn every 250 ms.
    await eventually(async () => Number(await page.textContent('#rate')) > 0, 'events/s above 0', 1000);
    const headers = await page.locator('#head th').allTextContents();
    assert.deepEqual(headers, ['id', 'room', 'author', 'body', 'sent_at']);

    await sql(`UPDATE messages SET body = 'changed by SQL' WHERE id = ${body.id}`);
    await row.locator('td', { hasText: 'changed by SQL' }).waitFor({ timeout: 2000 });
    assert.match(await row.getAttribute('class'), /flash-update/);

    await sql(`DELETE FROM messages WHERE id = ${body.id}`);
    await row.waitFor({ state: 'detached', timeout: 3000 });
    assert.notEqual(await page.textContent('#n-delete'), '0');
    await context.close();
  });

  test('screenshots of the chat and the table, desktop and phone size', async (t) => {
    await ada.context.close();
    await linus.context.close();
    // A clean, readable room for the pictures: TRUNCATE is an event too, so even a page that
    // replays the log from the beginning starts from this empty table.
    await sql('TRUNCATE messages');
    await sqlScript(`
      INSERT INTO messages (room, author, body) VALUES (1, 'ada', 'Morning! Is the gateway ready for the demo?');
      INSERT INTO messages (room, author, body) VALUES (1, 'linus', 'Almost. Every row change shows up here live, straight from PostgreSQL.');
      INSERT INTO messages (room, author, body) VALUES (1, 'grace', 'I kept the table view open in another tab: each change flashes its row.');
      INSERT INTO messages (room, author, body) VALUES (1, 'ada', 'And if I lose the network for a minute?');
      INSERT INTO messages (room, author, body) VALUES (1, 'linus', 'The page reconnects by itself and resumes from its last event: nothing missed, nothing twice.');
      INSERT INTO messages (room, author, body) VALUES (1, 'grace', 'Edits show up in place, too');
      UPDATE messages SET body = 'Edits show up in place, too (like this one).' WHERE body = 'Edits show up in place, too';
    `);
    const shots = [];
    for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
      const chat = await openChat(browser, gateway.base, { room: 1, name: 'ada', viewport });
      consoles[`chat ${size}`] = chat.errors;
      await eventually(async () => (await messageBodies(chat.page)).length === 6, 'the six seeded messages');
      await chat.page.fill('#body', 'Looks great!');
      await assertNoHorizontalScroll(chat.page, viewport);
      const chatShot = join(OUTPUT, `chat-${size}.png`);
      await chat.page.screenshot({ path: chatShot });
      shots.push(chatShot);

      const page = await chat.context.newPage();
      consoles[`table ${size}`] = watchConsole(page);
      await page.goto(`${gateway.base}/table.html?table=messages`);
      await page.locator('#status[data-state="open"]').waitFor({ timeout: 10_000 });
      await eventually(async () => (await page.locator('#body tr').count()) === 6, 'six table rows');
      const id = await sql(`UPDATE messages SET body = body || ' ✓' WHERE id = (SELECT max(id) FROM messages WHERE author = 'linus') RETURNING id`);
      await page.locator(`#body tr[data-key="id:${id}"] td`, { hasText: '✓' }).waitFor({ timeout: 2000 });
      await assertNoHorizontalScroll(page, viewport);
      const tableShot = join(OUTPUT, `table-${size}.png`);
      await page.screenshot({ path: tableShot });
      shots.push(tableShot);
      await chat.context.close();
    }
    for (const shot of shots) t.diagnostic(`screenshot: ${shot}`);
    // The README's picture: written when missing, refreshed on request (so `make test` does
    // not leave a changed PNG behind every run).
    const readmeShot = join(ROOT, 'docs', 'demo-chat.png');
    if (!existsSync(readmeShot) || process.env.PGPULSE_UPDATE_SCREENSHOTS === '1') {
      copyFileSync(join(OUTPUT, 'chat-desktop.png'), readmeShot);
      t.diagnostic(`screenshot: ${readmeShot}`);
    }
  });

  test('no console errors on either page', () => {
    const all = Object.entries(consoles).flatMap(([page, errors]) => errors.map((e) => `${page}: ${e}`));
    assert.deepEqual(all, []);
    assert.ok(Object.keys(consoles).length >= 7, 'every page was watched');
  });
});

// The page fits its viewport: nothing forces sideways scrolling of the whole page.
async function assertNoHorizontalScroll(page, viewport) {
  const width = await page.evaluate(() => document.scrollingElement.scrollWidth);
  assert.ok(width <= viewport.width, `page is ${width} px wide in a ${viewport.width} px viewport`);
}
