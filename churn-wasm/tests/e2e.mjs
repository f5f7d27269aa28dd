// End-to-end: examples/browser/index.html in real headless Chromium (playwright-core,
// Debian's /usr/bin/chromium) with the tracker pointed at a real `churn serve`.
// The page clicks through a funnel, the server goes away (offline: events queue in
// localStorage, a reload while offline keeps them), the server comes back on the same
// port and database, the queue drains; then the store must hold every message the page
// queued exactly once, with the `email` form field removed by the PII policy.
//
// Then consent and privacy modes, each in a fresh browser profile: `consent: 'required'`
// builds, sends and stores nothing until the banner's Accept; `consent: 'anonymous'`
// sends events without the user id and drops identify; Global Privacy Control with
// `respectDoNotTrack` sends nothing at all.
//
// Usage: node churn-wasm/tests/e2e.mjs <path to debug churn binary>
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, extname, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHURN = resolve(process.argv[2] || join(ROOT, 'target/debug/churn'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const tmp = mkdtempSync(join(tmpdir(), 'churn-e2e-'));
const db = join(tmp, 'churn.db');

const freePort = () => new Promise((ok) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startChurn(port) {
  const child = spawn(CHURN, ['--db', db, 'serve', '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  for (let i = 0; i < 200; i++) {
    if (log.includes('listening')) return child;
    if (child.exitCode !== null) throw new Error('churn serve exited: ' + log);
    await sleep(50);
  }
  throw new Error('churn serve did not start: ' + log);
}
async function stopChurn(child) {
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
function staticServer() {
  return createServer((req, res) => {
    let path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let file = join(ROOT, path);
    if (!file.startsWith(ROOT)) { res.writeHead(403).end(); return; }
    // The example is a single-page app: unknown paths under it serve its page.
    if (!existsSync(file) && path.startsWith('/examples/browser/')) file = join(ROOT, 'examples/browser/index.html');
    if (!existsSync(file)) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream' });
    res.end(readFileSync(file));
  });
}

let server, browser, churnProc;
try {
  const port = await freePort();
  churnProc = await startChurn(port);
  const keys = readFileSync(db + '.keys', 'utf8');
  const writeKey = /write[_a-z]*=(\S+)/i.exec(keys)?.[1];
  assert.ok(writeKey, 'write key in ' + keys);

  server = staticServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const pageUrl = `http://127.0.0.1:${server.address().port}/examples/browser/index.html`
    + `?host=${encodeURIComponent(`http://127.0.0.1:${port}`)}&key=${encodeURIComponent(writeKey)}`;

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error('page:', m.text()); });
  const sent = [];
  const collect = async () => sent.push(...(await page.evaluate(() => window.churnSent.splice(0))));
  const ready = () => page.waitForFunction(() => window.churnReady === true);

  // 1. Online: a funnel.
  await page.goto(pageUrl);
  await ready();
  await page.click('#to-pricing');                 // click + pushState page view
  await page.click('#start');                      // data-churn-track
  await page.click('#submit');                     // data-churn-form (+ identify)
  await page.evaluate(() => window.churn.flush({ force: true }));
  assert.equal(await page.evaluate(() => window.churn.stats().queued), 0, 'online batch delivered');
  await page.goBack();                             // popstate page view
  await collect();

  // 2. Offline: server stopped; events queue up and survive a reload.
  await stopChurn(churnProc);
  await page.click('#buy');
  await page.click('#start');
  await page.evaluate(() => window.churn.flush({ force: true }));
  const offline = await page.evaluate(() => window.churn.stats());
  assert.ok(offline.queued >= 2 && offline.failures >= 1, JSON.stringify(offline));
  await collect();
  await page.reload();                             // pagehide beacon fails; queue persisted
  await ready();
  await page.click('#buy');
  await page.evaluate(() => window.churn.flush({ force: true }));
  await collect();
  const afterReload = await page.evaluate(() => window.churn.stats());
  afterReload.q = await page.evaluate(() => JSON.parse(localStorage.getItem("churn_queue")).items.map((m) => JSON.parse(m).event));
  afterReload.sent = await page.evaluate(() => window.churnSent.map((m) => m.event));
  assert.ok(afterReload.queued >= offline.queued + 2, JSON.stringify({ offline, afterReload }));

  // 3. Back online: same port and database.
  churnProc = await startChurn(port);
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  for (let i = 0; i < 100 && (await page.evaluate(() => window.churn.stats().queued)) > 0; i++) {
    await page.evaluate(() => window.churn.flush({ force: true }));
    await sleep(100);
  }
  assert.equal(await page.evaluate(() => window.churn.stats().queued), 0, 'queue drained');
  await collect();
  await browser.close(); browser = null;
  await stopChurn(churnProc); churnProc = null;

  // 4. The store holds every queued message exactly once, without PII.
  const lines = execFileSync(CHURN, ['--db', db, 'export', '--format', 'ndjson'], { encoding: 'utf8' })
    .split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const ids = lines.map((l) => l.message_id);
  assert.equal(new Set(ids).size, ids.length, 'no duplicates in the store');
  const expected = sent.filter((m) => m.type === 'track');
  assert.deepEqual([...ids].sort(), expected.map((m) => m.message_id).sort(), 'every event stored once');
  const names = lines.map((l) => l.event);
  for (const n of ['page_view', 'nav_pricing', 'start_signup', 'signup_submitted', 'purchase']) {
    assert.ok(names.includes(n), `event ${n} stored`);
  }
  const form = lines.find((l) => l.event === 'signup_submitted');
  assert.equal(form.properties.company, 'Acme');
  assert.equal(form.properties.plan, 'pro');
  assert.ok(!('email' in form.properties), 'email removed before leaving the page');
  assert.ok(!JSON.stringify(lines).includes('ann@example.com'), 'no email anywhere');
  assert.ok(lines.some((l) => l.user_id === 'user-42'), 'identified events carry the user id');
  // 5. Consent and Do Not Track (fresh profiles, same server and database).
  churnProc = await startChurn(port);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  const fresh = async (query, init) => {
    const ctx = await browser.newContext();
    if (init) await ctx.addInitScript(init);
    const p = await ctx.newPage();
    const requests = [];
    p.on('request', (r) => { if (r.url().startsWith(`http://127.0.0.1:${port}/`)) requests.push(r.url()); });
    await p.goto(pageUrl + query);
    await p.waitForFunction(() => window.churnReady === true);
    return { ctx, p, requests };
  };
  const drain = async (p) => {
    for (let i = 0; i < 100 && (await p.evaluate(() => window.churn.stats().queued)) > 0; i++) {
      await p.evaluate(() => window.churn.flush({ force: true }));
      await sleep(100);
    }
    assert.equal(await p.evaluate(() => window.churn.stats().queued), 0, 'queue drained');
  };
  const tracked = (p) => p.evaluate(() => window.churnSent.filter((m) => m.type === 'track'));

  // 5a. consent=required: nothing before Accept, everything after.
  let f = await fresh('&consent=required');
  await f.p.click('#start');
  await f.p.evaluate(() => window.churn.flush({ force: true }));
  assert.equal((await tracked(f.p)).length, 0, 'nothing built before consent');
  assert.equal(f.requests.length, 0, 'no request before consent');
  assert.deepEqual(await f.p.evaluate(() => Object.keys(localStorage)), [], 'nothing stored before consent');
  assert.ok(await f.p.isVisible('#churn-consent-banner'), 'the banner asks');
  await f.p.click('[data-churn-consent="accept"]');
  assert.ok(!(await f.p.isVisible('#churn-consent-banner')), 'the banner is gone after Accept');
  await f.p.click('#start');
  await drain(f.p);
  const afterConsent = await tracked(f.p);
  assert.ok(afterConsent.some((m) => m.event === 'start_signup'), 'tracked after consent');
  assert.ok(f.requests.length > 0, 'sent after consent');
  await f.ctx.close();

  // 5b. consent=anonymous: events flow without the user id; identify is dropped.
  f = await fresh('&consent=anonymous');
  await f.p.click('#submit');                      // form event + identify('user-42')
  await drain(f.p);
  const anonymous = await tracked(f.p);
  assert.ok(anonymous.some((m) => m.event === 'signup_submitted'), 'anonymous events flow');
  assert.ok(anonymous.every((m) => !m.userId && !m.user_id), 'no user id before consent');
  assert.deepEqual(await f.p.evaluate(() => window.churnSent.filter((m) => m.type === 'identify')), [], 'identify dropped');
  await f.ctx.close();

  // 5c. Global Privacy Control + respectDoNotTrack: nothing at all.
  f = await fresh('&dnt=1', () => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
  await f.p.click('#start');
  await f.p.evaluate(() => window.churn.flush({ force: true }));
  assert.equal((await tracked(f.p)).length, 0, 'GPC: nothing built');
  assert.equal(f.requests.length, 0, 'GPC: no request');
  await f.ctx.close();
  await browser.close(); browser = null;
  await stopChurn(churnProc); churnProc = null;

  const after = execFileSync(CHURN, ['--db', db, 'export', '--format', 'ndjson'], { encoding: 'utf8' })
    .split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const byId = new Map(after.map((l) => [l.message_id, l]));
  for (const m of afterConsent) assert.ok(byId.has(m.message_id), `consented event ${m.event} stored`);
  for (const m of anonymous) {
    const l = byId.get(m.message_id);
    assert.ok(l, `anonymous event ${m.event} stored`);
    assert.ok(!l.user_id && l.anonymous_id, 'stored without a user id');
  }
  assert.equal(after.length, lines.length + afterConsent.length + anonymous.length, 'nothing else stored');

  console.log(`e2e ok: ${lines.length} events stored once (${sent.length} messages queued by the page, `
    + `${offline.queued} waited offline, one reload while offline); consent required/anonymous and GPC ok`);
} finally {
  await browser?.close();
  if (churnProc) await stopChurn(churnProc);
  server?.close();
  rmSync(tmp, { recursive: true, force: true });
}
