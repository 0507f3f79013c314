// End to end: Debian's Chromium, driven by playwright-core, against the local gateway serving the
// shipped template.yaml (the real handlers, bundled by build.mjs). Two pages join a room, one sends,
// both show the message. A screenshot is kept in test-artifacts/ and checked for content.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startGateway, type Gateway } from '../../src/local/gateway.ts';

// These callbacks run in the page; the project compiles without the DOM lib.
declare const document: any;
declare const Image: any;

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = join(process.cwd(), 'test-artifacts');

let gateway: Gateway;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(executablePath)) {
    throw new Error(`No Chromium at ${executablePath}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  gateway = await startGateway({
    template: 'template.yaml', port: 0, dynamodbPort: 0, quiet: true,
    outdir: mkdtempSync(join(tmpdir(), 'ws-outbox-e2e-')),
  });
  browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
});

const openChat = async (name: string): Promise<Page> => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
  page.on('pageerror', (error) => { throw error; });
  await page.goto(`http://127.0.0.1:${gateway.port}/`);
  await page.fill('#name', name);
  await page.click('#connect');
  await page.waitForSelector('#status.on');
  await page.fill('#room', 'lobby');
  await page.click('#join');
  // The page learns its own connection id from its `joined` echo and lists the room.
  await page.waitForFunction(() => document.querySelector('#rooms')?.textContent?.includes('lobby'));
  return page;
};

// Decodes the PNG in the page itself (no image library needed) and counts distinct colours.
const distinctColours = async (page: Page, png: Buffer): Promise<number> => page.evaluate(async (b64) => {
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

test('two pages join a room; one sends; both show the message', async () => {
  const alice = await openChat('alice');
  const bob = await openChat('bob');

  await alice.selectOption('#target', 'lobby');
  await alice.fill('#text', 'hello from alice');
  await alice.click('#send');

  for (const page of [alice, bob]) {
    await page.waitForFunction(() => [...document.querySelectorAll('#log li')].some((li: any) => li.textContent?.includes('hello from alice')));
  }
  const bobsView = await bob.locator('#log li', { hasText: 'hello from alice' }).textContent();
  expect(bobsView).toContain('in #lobby');
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

test('a refused name shows as rejected in the page', async () => {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${gateway.port}/`);
  await page.fill('#name', 'bad<name>');
  await page.click('#connect');
  await page.waitForSelector('#status.bad');
  await expect(page.locator('#log li.error').first().textContent()).resolves.toContain('refused');
}, 30_000);
