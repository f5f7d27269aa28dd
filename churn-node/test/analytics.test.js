'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { Analytics } = require('..')
const { DAY, T0, tmpdir } = require('./helpers')

test('track: name + fields form and single object form, Dates, ISO strings, epoch ms', async () => {
  const a = Analytics.inMemory()
  a.track('signup', { userId: 'u1', properties: { plan: 'pro' }, timestamp: new Date(T0) })
  a.track({ event: 'login', userId: 'u1', timestamp: new Date(T0 + DAY).toISOString() })
  a.track('login', { anonymousId: 'a1', timestamp: T0 + 2 * DAY, messageId: 'm1', sessionId: 's1' })
  a.track('login', { anonymousId: 'a1', timestamp: T0 + 2 * DAY, messageId: 'm1' }) // duplicate
  await a.flush()
  const ex = await a.exportUser('u1')
  assert.equal(ex.user_id, 'u1')
  assert.deepEqual(ex.events.map((e) => e.event).sort(), ['login', 'signup'])
  const signup = ex.events.find((e) => e.event === 'signup')
  assert.equal(signup.timestamp, new Date(T0).toISOString())
  assert.deepEqual(signup.properties, { plan: 'pro' })
  const st = a.stats()
  assert.equal(st.accepted, 4)
  assert.equal(st.duplicates, 1)
  await a.close()
})

test('page, identify, alias link ids so analyses count one person', async () => {
  const a = Analytics.inMemory()
  a.page('/pricing', { anonymousId: 'anon', timestamp: T0 })
  a.page({ name: '/docs', anonymousId: 'anon', timestamp: T0 + 1000 })
  a.identify('u9', { anonymousId: 'anon', traits: { email: 'x@example.com', plan: 'free' } })
  a.identify({ userId: 'u9', traits: { plan: 'pro' } })
  a.track('login', { userId: 'old', timestamp: T0 + 2000 })
  a.alias('u9', 'old')
  const r = await a.activeUsers({ period: 'day', range: { from: T0, to: T0 + DAY } })
  assert.equal(r.periods[0].active_users, 1)
  const ex = await a.exportUser('u9')
  assert.ok(ex.events.some((e) => e.event === 'page_view'))
  await a.close()
})

test('trackBatch reports bad messages by index and queues the rest', async () => {
  const a = Analytics.inMemory()
  const rep = a.trackBatch([
    { event: 'a', userId: 'u1', timestamp: T0 },
    { event: '', userId: 'u1' },
    { event: 'b' },
    { type: 'identify', userId: 'u1', traits: { plan: 'pro' } },
    { event: 'c', anonymousId: 'x', timestamp: new Date(T0) },
  ])
  assert.equal(rep.accepted, 3)
  assert.deepEqual(rep.rejected.map((r) => [r.index, r.code]), [[1, 'ERR_VALIDATION'], [2, 'ERR_VALIDATION']])
  await a.flush()
  assert.equal(a.stats().stored, 3)
  const text = a.trackBatch(JSON.stringify([{ event: 'd', userId: 'u5', timestamp: T0 }]))
  assert.equal(text.accepted, 1)
  const dated = a.trackBatch([{ event: 'd', userId: 'u6', timestamp: new Date(T0 + DAY) }])
  assert.equal(dated.accepted, 1)
  const ex = await a.exportUser('u6')
  assert.equal(ex.events[0].timestamp, new Date(T0 + DAY).toISOString())
  await a.close()
})

test('trackBatch: real nulls pass, NaN / Infinity / invalid Dates still refuse the batch', async () => {
  const a = Analytics.inMemory()
  // JSON writes NaN as null: a text with a null is checked again with the replacer.
  const rep = a.trackBatch([{ event: 'n', userId: 'u7', timestamp: T0, properties: { note: null, s: 'null' } }])
  assert.equal(rep.accepted, 1)
  assert.throws(() => a.trackBatch([{ event: 'n', userId: 'u7', properties: { x: Infinity } }]), { code: 'ERR_VALIDATION' })
  assert.throws(() => a.trackBatch([{ event: 'n', userId: 'u7', properties: { ok: null, x: NaN } }]), { code: 'ERR_VALIDATION' })
  await a.flush()
  const ex = await a.exportUser('u7')
  assert.deepEqual(ex.events[0].properties, { note: null, s: 'null' })
  await a.close()
})

test('a SQLite file keeps events across instances; options are camelCase', async () => {
  const dir = tmpdir()
  const file = path.join(dir, 'events.db')
  const a = new Analytics({ path: file, project: 'shop', batchSize: 10, flushIntervalMs: 50, queueCapacity: 1000, backpressure: 'block' })
  assert.equal(a.project, 'shop')
  for (let i = 0; i < 25; i++) a.track('view', { userId: `u${i % 5}`, timestamp: T0 + i })
  await a.close()
  assert.equal(a.closed, true)
  await a.close() // twice is fine
  const b = new Analytics({ path: file, project: 'shop' })
  const r = await b.activeUsers({ period: 'month' })
  assert.equal(r.total_users, 5)
  await b.close()
  const other = new Analytics({ path: file, project: 'other' })
  assert.equal((await other.activeUsers()).total_users, 0)
  await other.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('importFile reads a CSV with a column mapping', async () => {
  const dir = tmpdir()
  const csv = path.join(dir, 'tx.csv')
  fs.writeFileSync(csv, 'account,day,kind,amount\nc1,2026-01-05,purchase,10\nc2,2026-01-06,purchase,5.5\nc1,bad-date,purchase,1\n')
  const a = Analytics.inMemory()
  const rep = await a.importFile(csv, { columns: { userId: 'account', timestamp: 'day', event: 'kind' } })
  assert.equal(rep.stored, 2)
  assert.equal(rep.rejected, 1)
  const rev = await a.revenue({ period: 'month' })
  assert.equal(rev.totals.revenue, 15.5)
  await assert.rejects(a.importFile(path.join(dir, 'missing.csv')), { code: 'ERR_IO' })
  await a.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('privacy: consent, export, delete, anonymize, purge', async () => {
  const a = Analytics.inMemory()
  for (const u of ['u1', 'u2', 'u3']) a.track('login', { userId: u, timestamp: T0, properties: { email: `${u}@x.io` } })
  a.track('login', { userId: 'u1', timestamp: T0 + 10 * DAY })
  await a.setConsent('u2', false)
  assert.throws(() => a.track('login', { userId: 'u2' }), { name: 'ConsentError', code: 'ERR_CONSENT' })
  await a.setConsent('u2', true)
  a.track('login', { userId: 'u2', timestamp: T0 + DAY })

  const ex = await a.exportUser('u1')
  assert.equal(ex.events.length, 2)
  assert.equal(ex.events[0].properties?.email, undefined) // PII dropped by the default policy

  const del = await a.deleteUser('u3')
  assert.equal(del.events, 1)
  assert.equal((await a.exportUser('u3')).events.length, 0)

  const pseudonym = await a.anonymizeUser('u2')
  assert.equal(typeof pseudonym, 'string')
  assert.notEqual(pseudonym, 'u2')
  assert.equal((await a.exportUser('u2')).events.length, 0)

  const purged = await a.purgeBefore(new Date(T0 + 5 * DAY))
  assert.equal(purged, 3) // u1's first login and u2's two (now pseudonymous) logins
  assert.equal((await a.exportUser('u1')).events.length, 1)
  await a.close()
})
