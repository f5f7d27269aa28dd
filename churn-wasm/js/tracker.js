// churnlens-web: the browser tracker.
//
// Validation, the PII policy, message building, the session rule and the outgoing queue
// (bounded, backoff) are churn-core compiled to WebAssembly (./tracker/churnlens_web.js);
// this file is only the browser plumbing: storage, timers, fetch / sendBeacon, history
// and DOM listeners, consent and the optional banner.
//
//   import * as churn from 'churnlens-web';
//   await churn.init({ host: 'https://analytics.example.com', writeKey: 'wk_...' });
//   churn.track('signup', { plan: 'pro' });
//   churn.identify('user-42', { plan: 'pro' });

import initWasm, { Core, Outbox, newId, touchSession } from './tracker/churnlens_web.js';

export const VERSION = '0.1.0';

const DEFAULTS = {
  host: '',                  // server origin, e.g. 'https://analytics.example.com'
  writeKey: '',              // project write key (public)
  endpoint: '/v1/batch',     // Segment-compatible batch endpoint of `churn serve`
  batchSize: 20,             // send when this many messages wait ...
  flushInterval: 5000,       // ... or after this many ms
  queueCapacity: 1000,       // offline queue bound; the oldest message is dropped beyond it
  sessionTimeout: 30 * 60 * 1000,
  autoPageViews: true,       // page view on load and on pushState / popstate navigation
  declarative: true,         // data-churn-track (clicks) and data-churn-form (submits)
  consent: 'none',           // 'none' | 'required' (nothing until consent) | 'anonymous' (anonymous until consent)
  consentBanner: false,      // true or { text, accept, decline }: show the built-in banner
  respectDoNotTrack: false,  // true: no tracking when DNT or Global Privacy Control is on
  privacy: {},               // churn-core PrivacyPolicy: { pii_keys, pii_mode, ip, drop_user_agent }
  storagePrefix: 'churn_',
  wasmUrl: undefined,        // where churnlens_web_bg.wasm is (default: beside the glue)
  onMessage: undefined,      // called with every message queued (parsed object)
};

const MAX_BODY = 400 * 1024; // below the server's 500 KiB per request

let T = null; // the tracker state after init

function store(kind) {
  try { return kind === 'session' ? window.sessionStorage : window.localStorage; } catch { return null; }
}
function get(kind, key) { try { return store(kind)?.getItem(T.opts.storagePrefix + key) ?? null; } catch { return null; } }
function set(kind, key, v) { try { store(kind)?.setItem(T.opts.storagePrefix + key, v); } catch { /* full or blocked */ } }
function del(kind, key) { try { store(kind)?.removeItem(T.opts.storagePrefix + key); } catch { /* blocked */ } }

/** Whether Do Not Track or Global Privacy Control is on. */
export function doNotTrack() {
  const n = typeof navigator === 'undefined' ? {} : navigator;
  return n.globalPrivacyControl === true || n.doNotTrack === '1' || n.doNotTrack === 'yes'
    || (typeof window !== 'undefined' && window.doNotTrack === '1');
}

/**
 * Start the tracker. Resolves when the wasm module is loaded and the first page view
 * (if any) is queued.
 */
export async function init(options = {}) {
  if (T) return api;
  const opts = { ...DEFAULTS, ...options };
  await initWasm(opts.wasmUrl ? { module_or_path: opts.wasmUrl } : undefined);
  const core = new Core(JSON.stringify({ privacy: opts.privacy }));
  T = { opts, core, outbox: null, timer: null, retryTimer: null, sending: false,
        disabled: opts.respectDoNotTrack && doNotTrack(), ephemeralId: newId(),
        lastPath: null, listeners: [] };
  T.consent = opts.consent === 'none' ? 'granted' : (get('local', 'consent') || 'pending');
  T.outbox = new Outbox(opts.queueCapacity, persisting() ? get('local', 'queue') : undefined);
  if (T.disabled) return api;
  on(window, 'pagehide', () => beacon());
  on(document, 'visibilitychange', () => { if (document.visibilityState === 'hidden') beacon(); });
  on(window, 'online', () => { T.outbox.resetBackoff(); flush(); });
  if (opts.declarative) {
    on(document, 'click', onClick, true);
    on(document, 'submit', onSubmit, true);
  }
  if (opts.autoPageViews) {
    const push = history.pushState;
    history.pushState = function (...args) { const r = push.apply(this, args); navigated(); return r; };
    T.restorePush = () => { history.pushState = push; };
    on(window, 'popstate', navigated);
    page();
  }
  if (opts.consentBanner && T.consent === 'pending') showBanner(opts.consentBanner);
  T.timer = setInterval(() => flush(), opts.flushInterval);
  if (T.outbox.length) flush();
  return api;
}

function on(target, type, fn, capture = false) {
  target.addEventListener(type, fn, capture);
  T.listeners.push(() => target.removeEventListener(type, fn, capture));
}

function navigated() {
  if (location.pathname + location.search !== T.lastPath) page();
}

// Consent -----------------------------------------------------------------------------

/** What may be sent now: 'full', 'anonymous' or 'none'. */
function mode() {
  if (!T || T.disabled) return 'none';
  if (T.consent === 'granted') return 'full';
  if (T.consent === 'denied') return T.opts.consent === 'anonymous' ? 'anonymous' : 'none';
  return T.opts.consent === 'anonymous' ? 'anonymous' : 'none';
}

/** Nothing is written to storage without consent (except the decision itself). */
function persisting() { return T.consent === 'granted'; }

/** Record the visitor's decision (persisted). Denying clears stored ids and the queue. */
export function consent(granted) {
  if (!T) return;
  T.consent = granted ? 'granted' : 'denied';
  set('local', 'consent', T.consent);
  if (granted) {
    if (!get('local', 'aid')) set('local', 'aid', T.ephemeralId);
    persist();
    flush();
  } else {
    for (const k of ['aid', 'uid', 'traits', 'queue']) del('local', k);
    del('session', 'session');
    if (T.opts.consent !== 'anonymous') T.outbox = new Outbox(T.opts.queueCapacity, undefined);
  }
  document.getElementById('churn-consent-banner')?.remove();
}

function showBanner(cfg) {
  const c = typeof cfg === 'object' ? cfg : {};
  const el = document.createElement('div');
  el.id = 'churn-consent-banner';
  el.setAttribute('role', 'dialog');
  el.setAttribute('aria-label', 'Analytics consent');
  el.style.cssText = 'position:fixed;left:0;right:0;bottom:0;z-index:2147483647;padding:12px 16px;'
    + 'background:#222;color:#fff;font:14px system-ui,sans-serif;display:flex;gap:12px;align-items:center;flex-wrap:wrap';
  const text = document.createElement('span');
  text.textContent = c.text || 'We use privacy-friendly analytics to improve this site.';
  text.style.flex = '1';
  const button = (label, granted) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.churnConsent = granted ? 'accept' : 'decline';
    b.addEventListener('click', () => consent(granted));
    return b;
  };
  el.append(text, button(c.accept || 'Accept', true), button(c.decline || 'Decline', false));
  document.body.appendChild(el);
}

// Identity and sessions ---------------------------------------------------------------

function anonymousId() {
  if (mode() !== 'full') return T.ephemeralId;
  let id = get('local', 'aid');
  if (!id) { id = T.ephemeralId; set('local', 'aid', id); }
  return id;
}

function sessionId() {
  if (mode() !== 'full') return undefined;
  const { session } = touchSession(get('session', 'session') || '', Date.now(), T.opts.sessionTimeout);
  set('session', 'session', JSON.stringify(session));
  return session.id;
}

function context() {
  return {
    path: location.pathname, url: location.href, title: document.title,
    referrer: document.referrer || undefined, userAgent: navigator.userAgent,
    locale: navigator.language, library: { name: 'churnlens-web', version: VERSION },
  };
}

// Calls -----------------------------------------------------------------------------------

function enqueue(input) {
  const m = mode();
  if (m === 'none') return undefined;
  input.anonymousId = anonymousId();
  if (m === 'full') {
    input.userId = get('local', 'uid') || undefined;
    input.sessionId = sessionId();
  }
  input.timestamp = new Date().toISOString();
  input.messageId = newId();
  input.context = { ...context(), ...(input.context || {}) };
  let wire;
  try {
    wire = T.core.message(JSON.stringify(input), m === 'anonymous');
  } catch (e) {
    console.warn('churnlens: message refused:', e.code || '', e.message);
    return undefined;
  }
  if (wire === undefined) return undefined; // anonymous mode discards identify calls
  T.outbox.push(wire);
  persist();
  if (T.opts.onMessage) { try { T.opts.onMessage(JSON.parse(wire)); } catch { /* user hook */ } }
  if (T.outbox.length >= T.opts.batchSize) flush();
  return input.messageId;
}

/** Track an event. Returns its message id (undefined when not tracked). */
export function track(event, properties = {}) {
  return enqueue({ type: 'track', event, properties });
}

/** A page view (called automatically on load and navigation with autoPageViews). */
export function page(name, properties = {}) {
  if (!T) return undefined;
  T.lastPath = location.pathname + location.search;
  return enqueue({ type: 'page', name: name || document.title || undefined, properties });
}

/**
 * Identify the visitor: later events carry `userId`; traits merge with earlier ones
 * (kept in localStorage with consent) and are sent with the anonymous id so the server
 * links the two.
 */
export function identify(userId, traits = {}) {
  if (mode() !== 'full') return undefined;
  let merged = {};
  try { merged = JSON.parse(get('local', 'traits') || '{}'); } catch { /* reset */ }
  merged = { ...merged, ...traits };
  const before = get('local', 'uid');
  set('local', 'uid', String(userId));
  const id = enqueue({ type: 'identify', traits: merged });
  if (id === undefined) { // refused: restore
    if (before) set('local', 'uid', before); else del('local', 'uid');
    return undefined;
  }
  set('local', 'traits', JSON.stringify(merged));
  return id;
}

/** Forget the user (logout): new anonymous id, no user id or traits, new session. */
export function reset() {
  if (!T) return;
  for (const k of ['aid', 'uid', 'traits']) del('local', k);
  del('session', 'session');
  T.ephemeralId = newId();
}

// Declarative tracking -----------------------------------------------------------------

function dataProps(el) {
  const props = {};
  for (const [k, v] of Object.entries(el.dataset)) {
    // Attribute values are text; numbers written as numbers (data-churn-prop-amount="49")
    // become numbers, so revenue properties validate.
    if (k.startsWith('churnProp') && k.length > 9) {
      props[k[9].toLowerCase() + k.slice(10)] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
    }
  }
  return props;
}

function onClick(ev) {
  const el = ev.target instanceof Element ? ev.target.closest('[data-churn-track]') : null;
  if (el) track(el.dataset.churnTrack, dataProps(el));
}

function onSubmit(ev) {
  const form = ev.target instanceof Element ? ev.target.closest('[data-churn-form]') : null;
  if (!form) return;
  const props = dataProps(form);
  // Only fields marked data-churn-field are read; PII keys among them are removed by the
  // policy in wasm before the message is queued.
  for (const f of form.querySelectorAll('[data-churn-field]')) {
    const key = f.dataset.churnField || f.name;
    if (key) props[key] = f.type === 'checkbox' ? f.checked : f.value;
  }
  track(form.dataset.churnForm, props);
}

// Sending ---------------------------------------------------------------------------------

function persist() {
  if (persisting()) set('local', 'queue', T.outbox.toJSON());
}

function url() { return T.opts.host.replace(/\/$/, '') + T.opts.endpoint; }

/**
 * Send what waits, batch by batch, until the queue is empty or a send fails (then the
 * next try is scheduled with exponential backoff). `force` skips a pending backoff.
 * Resolves to the number of messages still queued.
 */
export async function flush({ force = false } = {}) {
  if (!T || T.disabled) return 0;
  if (force) T.outbox.resetBackoff();
  if (T.sending) return T.sending.then(() => T.outbox.length);
  const run = (async () => {
    while (T.outbox.length && T.outbox.ready(Date.now()) && mode() !== 'none') {
      let n = T.opts.batchSize, body, count;
      do { [body, count] = T.outbox.batchBody(n, new Date().toISOString(), undefined); n = Math.floor(n / 2); }
      while (body.length > MAX_BODY && n >= 1);
      let status = 0;
      try {
        const res = await fetch(url(), {
          method: 'POST', body, mode: 'cors', credentials: 'omit',
          headers: { 'Content-Type': 'application/json', Authorization: 'Basic ' + btoa(T.opts.writeKey + ':') },
        });
        status = res.status;
      } catch { status = 0; } // offline or server down
      if (status >= 200 && status < 300) {
        T.outbox.ack(count);
      } else if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        console.warn(`churnlens: server refused ${count} messages (HTTP ${status}); dropped`);
        T.outbox.reject(count);
      } else {
        const at = T.outbox.fail(Date.now());
        clearTimeout(T.retryTimer);
        T.retryTimer = setTimeout(() => flush(), Math.max(0, at - Date.now()));
      }
      persist();
    }
  })();
  T.sending = run;
  try { await run; } finally { T.sending = false; }
  return T.outbox.length;
}

/**
 * Page hide: hand the waiting messages to sendBeacon. They stay in the persisted queue
 * (a beacon's delivery is unknown) and are sent again on the next page load; the server
 * stores each message id once, so nothing is counted twice.
 */
function beacon() {
  persist();
  if (!T.outbox.length || mode() === 'none' || !navigator.sendBeacon) return;
  const [body] = T.outbox.batchBody(T.opts.batchSize, new Date().toISOString(), T.opts.writeKey);
  if (body.length <= 60 * 1024) {
    try { navigator.sendBeacon(url(), new Blob([body], { type: 'text/plain' })); } catch { /* ignored */ }
  }
}

/** Queue figures: `{ queued, dropped, failures, consent, mode }`. */
export function stats() {
  if (!T) return { queued: 0, dropped: 0, failures: 0, consent: 'pending', mode: 'none' };
  return { queued: T.outbox.length, dropped: T.outbox.dropped, failures: T.outbox.failures,
           consent: T.consent, mode: mode() };
}

/** Stop: remove listeners and timers (the queue stays persisted). */
export function shutdown() {
  if (!T) return;
  persist();
  clearInterval(T.timer);
  clearTimeout(T.retryTimer);
  T.listeners.forEach((off) => off());
  T.restorePush?.();
  T = null;
}

const api = { init, track, page, identify, reset, consent, flush, stats, shutdown, doNotTrack, VERSION };
export default api;
