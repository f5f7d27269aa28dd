'use strict'
// Hand-worked analyses through the binding: the figures are computed by churn-core;
// these check that options reach it (camelCase, Dates) and reports come back whole.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Analytics } = require('..')
const { DAY, T0 } = require('./helpers')

const MIN = 60_000

async function fixture() {
  const a = Analytics.inMemory()
  // Monday T0: u1 twice 10 min apart (one session), u2 once; Tuesday: u1 again after
  // a 40-minute gap from nothing; next week: u2 returns.
  a.trackBatch([
    { event: 'login', userId: 'u1', timestamp: T0 + 9 * 60 * MIN },
    { event: 'page_view', userId: 'u1', timestamp: T0 + 9 * 60 * MIN + 10 * MIN, properties: { path: '/a' } },
    { event: 'login', userId: 'u2', timestamp: new Date(T0 + 12 * 60 * MIN) },
    { event: 'login', userId: 'u1', timestamp: new Date(T0 + DAY).toISOString() },
    { event: 'login', userId: 'u1', timestamp: T0 + DAY + 40 * MIN },
    { event: 'purchase', userId: 'u2', timestamp: T0 + 7 * DAY, properties: { amount: 30, currency: 'EUR' } },
    { event: 'email_sent', userId: 'u3', timestamp: T0 },
  ])
  return a
}

test('activeUsers: DAU per day, WAU per week, non-interactive events ignored', async () => {
  const a = await fixture()
  const d = await a.activeUsers({ period: 'day', range: { from: new Date(T0), to: T0 + 2 * DAY } })
  assert.deepEqual(d.periods.map((p) => [p.label, p.active_users]), [['2026-01-05', 2], ['2026-01-06', 1]])
  const w = await a.activeUsers({ period: 'week' })
  assert.deepEqual(w.periods.map((p) => [p.label, p.active_users, p.returning_users]), [['2026-W02', 2, 0], ['2026-W03', 1, 1]])
  const only = await a.activeUsers({ period: 'week', active: { only: ['purchase'] } })
  assert.deepEqual(only.periods.map((p) => p.active_users), [0, 1])
  await a.close()
})

test('sessions: 30-minute gap by default, maxGapMs in camelCase', async () => {
  const a = await fixture()
  const s = await a.sessions()
  assert.equal(s.sessions, 5) // u1: Mon, Tue, Tue+40min; u2: Mon, next Mon
  const wide = await a.sessions({ maxGapMs: 60 * MIN })
  assert.equal(wide.sessions, 4)
  assert.equal((await a.sessions({ max_gap_ms: 60 * MIN })).sessions, 4)
  await a.close()
})

test('retention: weekly cohorts', async () => {
  const a = await fixture()
  const r = await a.retention({ period: 'week' })
  assert.equal(r.cohorts[0].label, '2026-W02')
  assert.equal(r.cohorts[0].size, 2)
  assert.deepEqual(r.cohorts[0].counts, [2, 1])
  // Week 3 is not over at the end of the data: partial.
  assert.deepEqual(r.cohorts[0].complete, [true, false])
  const later = await a.retention({ period: 'week', asOf: '2026-01-19' })
  assert.deepEqual(later.cohorts[0].complete, [true, true])
  await a.close()
})

test('revenue: totals and currency, signupEvent / revenueEvents accepted', async () => {
  const a = await fixture()
  const r = await a.revenue({ period: 'month', revenueEvents: ['purchase'], signupEvent: 'signup' })
  assert.equal(r.currency, 'EUR')
  assert.equal(r.totals.revenue, 30)
  assert.equal(r.totals.paying_users, 1)
  await a.close()
})

test('engine sees events tracked after the first analysis; engineMemory', async () => {
  const a = await fixture()
  assert.equal((await a.activeUsers()).total_users, 2)
  a.track('login', { userId: 'u4', timestamp: T0 + 3 * DAY })
  assert.equal((await a.activeUsers()).total_users, 3)
  const m = await a.engineMemory()
  assert.equal(m.events, 8)
  assert.equal(m.persons, 4)
  await a.close()
})

test('bad analysis options reject with ERR_VALIDATION', async () => {
  const a = await fixture()
  await assert.rejects(a.activeUsers({ period: 'fortnight' }), { name: 'ValidationError', code: 'ERR_VALIDATION' })
  await assert.rejects(a.sessions({ maxGapMs: 'long' }), { code: 'ERR_VALIDATION' })
  await assert.rejects(a.sessions({ maxGapMs: 0 }), { code: 'ERR_INVALID_ARGUMENT' })
  await assert.rejects(a.retention({ range: { from: 'yesterday-ish' } }), { code: 'ERR_VALIDATION' })
  await assert.rejects(a.revenue(42), { code: 'ERR_INVALID_ARGUMENT' })
  await a.close()
})

test('timeAnalysisInRust (bench support): timings of the runs, the clock process.hrtime reads, read-your-writes', async () => {
  const a = Analytics.inMemory()
  a.trackBatch([{ event: 'view', userId: 'u1', timestamp: T0 }, { event: 'view', userId: 'u2', timestamp: T0 + DAY }])
  const before = Number(process.hrtime.bigint()) / 1e6
  const t = await a.timeAnalysisInRust('activeUsers', { period: 'day' }, 3)
  const after = Number(process.hrtime.bigint()) / 1e6
  assert.equal(t.runs, 3)
  assert.ok(t.median_ms >= 0 && t.cpu_ms >= 0, JSON.stringify(t))
  assert.equal(typeof t.debug_build, 'boolean')
  assert.ok(before <= t.start_ms && t.start_ms <= t.end_ms && t.end_ms <= after, JSON.stringify({ before, after, ...t }))
  // Its runs flush and refresh like an analysis call: the engine it loaded sees the events.
  assert.equal((await a.activeUsers()).total_users, 2)
  a.track('view', { userId: 'u3', timestamp: T0 })
  assert.equal((await a.timeAnalysisInRust('refresh', undefined, 1)).runs, 1)
  assert.equal((await a.activeUsers()).total_users, 3)
  await assert.rejects(a.timeAnalysisInRust('nope', {}, 1), (e) => e.code === 'ERR_INVALID_ARGUMENT')
  await a.close()
})
