// End to end: Debian's Chromium, driven by playwright-core, against the local gateway serving the
// shipped template.yaml (the real handlers and authorizer, bundled by build.mjs). Two users log in
// (name → a token from the gateway's development issuer → connect), join a room, one sends, both
// show the message with the sender's verified name. A screenshot is kept in test-artifacts/ and
// checked for content. A message delivered twice (at-least-once) is shown once.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startGateway, type Gateway } from '../../../packages/gateway/src/gateway.ts';
import { signedConnectionsFetch } from '../../../packages/gateway/test/gateway/support.ts';

// These callbacks run in the page; the project compiles without the DOM lib.
declare const document: any;
declare const Image: any;

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = join(process.cwd(), 'test-artifacts');

let gateway: Gateway;
let browser: Browser;
// The gateway's bundles: a temp dir of this run, removed after it.
const outdir = mkdtempSync(join(tmpdir(), 'ws-outbox-e2e-'));

beforeAll(async () => {
  if (!existsSync(executablePath)) {
    throw new Error(`No Chromium at ${executablePath}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  gateway = await startGateway({
    template: 'template.yaml',
    port: 0,
    dynamodbPort: 0,
    quiet: true,
    outdir,
    staticDir: 'demo', // the example's page, served as `npm run dev` serves it (--static demo)
  });
  browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  rmSync(outdir, { recursive: true, force: true });
});

/** A page logged in as `name` and in the lobby; `on` another gateway, `before` a script run before the page's own. */
const openChat = async (name: string, options: { broadcast?: boolean; on?: Gateway; before?: () => void } = {}): Promise<Page> => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
  page.on('pageerror', (error) => {
    throw error;
  });
  if (options.before) await page.addInitScript(options.before);
  await page.goto(`http://127.0.0.1:${(options.on ?? gateway).port}/`);
  await page.fill('#name', name);
  if (options.broadcast) await page.check('#broadcast');
  await page.click('#connect');
  await page.waitForSelector('#status.on');
  await page.fill('#room', 'lobby');
  await page.click('#join');
  // The page learns its own connection id from its `joined` echo and lists the room.
  await page.waitForFunction(() => document.querySelector('#rooms')?.textContent?.includes('lobby'));
  return page;
};

// Decodes the PNG in the page itself (no image library needed) and counts distinct colours.
const distinctColours = async (page: Page, png: Buffer): Promise<number> =>
  page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.width;
    canvas.height = img.height;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, img.width, img.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < data.length; i += 16) seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
    return seen.size;
  }, png.toString('base64'));

test('two users log in, join a room; one sends; both show the message with their names', async () => {
  const alice = await openChat('alice');
  const bob = await openChat('bob');
  // Logged in: the page shows who the issuer vouched for, and the status says so.
  await expect(alice.locator('#user').textContent()).resolves.toContain('alice (dev-alice');
  await expect(bob.locator('#status').textContent()).resolves.toBe('connected as bob');
  // Joins show names: alice's page saw bob join, by name.
  await alice.waitForFunction(() => [...document.querySelectorAll('#log li.system')].some((li: any) => li.textContent === 'bob joined #lobby'));
  await expect(bob.locator('#log li.system', { hasText: 'bob (you) joined #lobby' }).count()).resolves.toBe(1);

  await alice.selectOption('#target', 'lobby');
  await alice.fill('#text', 'hello from alice');
  await alice.click('#send');

  for (const page of [alice, bob]) {
    await page.waitForFunction(() => [...document.querySelectorAll('#log li')].some((li: any) => li.textContent?.includes('hello from alice')));
  }
  const bobsView = await bob.locator('#log li', { hasText: 'hello from alice' }).textContent();
  expect(bobsView).toContain('in #lobby');
  // The sender's name came from alice's token, through the authorizer, in `from`.
  await expect(bob.locator('#log li.theirs .meta b', { hasText: 'alice' }).count()).resolves.toBe(1);
  await expect(alice.locator('#log li.mine .meta b').first().textContent()).resolves.toBe('alice (you)');
  // Alice sees her own message as hers; bob sees it as someone else's.
  await expect(alice.locator('#log li.mine', { hasText: 'hello from alice' }).count()).resolves.toBe(1);
  await expect(bob.locator('#log li.theirs', { hasText: 'hello from alice' }).count()).resolves.toBe(1);

  mkdirSync(artifacts, { recursive: true });
  const png = await alice.screenshot({ fullPage: true });
  writeFileSync(join(artifacts, 'e2e-chat-alice.png'), png);
  writeFileSync(join(artifacts, 'e2e-chat-bob.png'), await bob.screenshot({ fullPage: true }));
  expect(png.length).toBeGreaterThan(10_000);
  // A blank or single-colour page has a handful of colours; the chat has text, pills and bubbles.
  expect(await distinctColours(bob, png)).toBeGreaterThan(50);
}, 60_000);

/** What PostToConnection does: POST the bytes to the page's connection on the management API. */
const postToConnection = async (connectionId: string, body: string): Promise<void> => {
  // Signed, as the SDK signs it: the gateway, as API Gateway, refuses unsigned calls.
  const res = await signedConnectionsFetch(gateway.managementEndpoint, connectionId, 'POST', body);
  expect(res.status).toBe(200);
};

const shown = (page: Page, text: string) => page.locator('#log li', { hasText: text }).count();

test('the same event delivered twice (an at-least-once retry) is shown once', async () => {
  const page = await openChat('carol');
  const me = (await page.locator('#connection-id').textContent())!;
  expect(me).not.toBe('–');

  // The very bytes a retried PostToConnection would repeat: same id, same everything.
  const bytes = JSON.stringify({ type: 'message', id: 'retried-0001', room: 'lobby', from: { id: 'someone-else', name: 'eve' }, text: 'said once' });
  await postToConnection(me, bytes);
  await postToConnection(me, bytes);
  // The counter proves the second copy reached the page and was dropped, not lost on the way.
  await page.waitForFunction(() => document.querySelector('#duplicates')?.textContent === '1');
  await expect(shown(page, 'said once')).resolves.toBe(1);

  // Dedupe is by id, not by text: the same words in a new event are a new message.
  await postToConnection(
    me,
    JSON.stringify({ type: 'message', id: 'retried-0002', room: 'lobby', from: { id: 'someone-else', name: 'eve' }, text: 'said once' }),
  );
  await page.waitForFunction(() => [...document.querySelectorAll('#log li')].filter((li: any) => li.textContent?.includes('said once')).length === 2);
  await expect(page.locator('#duplicates').textContent()).resolves.toBe('1');

  // A real message from the chat, through the handlers, still shows (its id is fresh).
  await page.selectOption('#target', 'lobby');
  await page.fill('#text', 'after the duplicate');
  await page.click('#send');
  await page.waitForFunction(() => [...document.querySelectorAll('#log li.mine')].some((li: any) => li.textContent?.includes('after the duplicate')));
  await expect(shown(page, 'after the duplicate')).resolves.toBe(1);
  await page.close();
}, 60_000);

test('the page remembers the last 1,000 ids only: the oldest is forgotten, the newest still dropped', async () => {
  const page = await openChat('dave');
  const me = (await page.locator('#connection-id').textContent())!;
  // The page's own `joined` took one of the 1,000 places; 1,001 more push out it, then bulk-0.
  const event = (i: number) => JSON.stringify({ type: 'message', id: `bulk-${i}`, from: { id: 'someone-else', name: 'eve' }, text: `bulk ${i}.` });
  for (let i = 0; i <= 1000; i++) await postToConnection(me, event(i));
  await page.waitForFunction(() => [...document.querySelectorAll('#log li')].some((li: any) => li.textContent?.includes('bulk 1000.')));

  await postToConnection(me, event(1000)); // remembered: dropped
  await page.waitForFunction(() => document.querySelector('#duplicates')?.textContent === '1');
  await postToConnection(me, event(0)); // forgotten: shown again, as a bounded memory must
  await page.waitForFunction(() => [...document.querySelectorAll('#log li')].filter((li: any) => li.textContent?.includes('bulk 0.')).length === 2);
  await expect(shown(page, 'bulk 1000.')).resolves.toBe(1);
  await expect(page.locator('#duplicates').textContent()).resolves.toBe('1');
  await page.close();
}, 60_000);

test('sending to everyone: refused without the claim, shown to all with it', async () => {
  const plain = await openChat('frank');
  const herald = await openChat('grace', { broadcast: true });
  await plain.selectOption('#target', '');
  await plain.fill('#text', 'hello all?');
  await plain.click('#send');
  await plain.waitForFunction(() => [...document.querySelectorAll('#log li.error')].some((li: any) => li.textContent?.includes('chat:broadcast')));
  await herald.selectOption('#target', '');
  await herald.fill('#text', 'announcement');
  await herald.click('#send');
  for (const page of [plain, herald]) {
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#log li')].some((li: any) => li.textContent?.includes('announcement') && li.textContent?.includes('to everyone')),
    );
  }
  await expect(plain.locator('#log li.theirs .meta b', { hasText: 'grace' }).count()).resolves.toBe(1);
  await expect(plain.locator('#log li', { hasText: 'hello all?' }).count()).resolves.toBe(0);
  await Promise.all([plain.close(), herald.close()]);
}, 60_000);

test('a name the authorizer refuses shows as rejected in the page', async () => {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${gateway.port}/`);
  await page.fill('#name', 'bad<name>');
  await page.click('#connect');
  await page.waitForSelector('#status.bad');
  await expect(page.locator('#log li.error').first().textContent()).resolves.toContain('refused');
}, 30_000);

test('a dropped connection: the page says "reconnecting…", resumes, and delivers what it missed', async () => {
  // API Gateway's idle timeout, shortened: it closes both pages' sockets (1001) while they are quiet.
  const outdirIdle = mkdtempSync(join(tmpdir(), 'ws-outbox-e2e-idle-'));
  const idle = await startGateway({
    template: 'template.yaml',
    port: 0,
    dynamodbPort: 0,
    quiet: true,
    outdir: outdirIdle,
    staticDir: 'demo',
    idleTimeoutMs: 3000,
  });
  try {
    // The page's network: while window.offline is true, every new socket is refused, as in a tunnel.
    const tunnel = () => {
      const Native = (globalThis as any).WebSocket;
      (globalThis as any).offline = false;
      (globalThis as any).WebSocket = class extends Native {
        constructor(url: string) {
          super((globalThis as any).offline ? 'ws://127.0.0.1:1/' : url);
        }
      };
    };
    const open = (name: string) => openChat(name, { on: idle, before: tunnel });
    const alice = await open('alice');
    const bob = await open('bob');
    await alice.evaluate(() => {
      (globalThis as any).offline = true;
    });
    await alice.waitForFunction(() => document.querySelector('#status')?.textContent === 'reconnecting…', undefined, { timeout: 15_000 });
    for (const text of ['while you were away 1', 'while you were away 2']) {
      await bob.fill('#text', text);
      await bob.click('#send');
    }
    await bob.waitForFunction(
      () => [...document.querySelectorAll('#log li.mine')].some((li: any) => li.textContent?.includes('while you were away 2')),
      undefined,
      { timeout: 15_000 },
    );
    await alice.evaluate(() => {
      (globalThis as any).offline = false;
    });
    await alice.waitForFunction(
      () => [...document.querySelectorAll('#log li')].some((li: any) => /resumed: 2 missed messages delivered/.test(li.textContent ?? '')),
      undefined,
      { timeout: 15_000 },
    );
    await alice.waitForSelector('#status.on');
    for (const text of ['while you were away 1', 'while you were away 2']) await expect(shown(alice, text)).resolves.toBe(1);
    // Still in the room after the resume: a new message arrives live.
    await bob.fill('#text', 'welcome back');
    await bob.click('#send');
    await alice.waitForFunction(() => [...document.querySelectorAll('#log li.theirs')].some((li: any) => li.textContent?.includes('welcome back')), undefined, {
      timeout: 15_000,
    });
    mkdirSync(artifacts, { recursive: true });
    writeFileSync(join(artifacts, 'e2e-chat-resumed.png'), await alice.screenshot({ fullPage: true }));
    await Promise.all([alice.close(), bob.close()]);
  } finally {
    await idle.stop();
    rmSync(outdirIdle, { recursive: true, force: true });
  }
}, 90_000);
