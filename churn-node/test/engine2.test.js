'use strict'
// Funnels, paths, user profiles and segments (churn-core engine2) through the binding.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Analytics } = require('..')
const { DAY, T0 } = require('./helpers')

function fixture() {
  const a = Analytics.inMemory()
  const ev = (event, userId, d, properties) => ({ event, userId, timestamp: T0 + d * DAY, properties })
  a.trackBatch([
    ev('signup', 'a', 0, { plan: 'pro' }), ev('purchase', 'a', 7, { amount: 10, currency: 'USD' }),
    ev('signup', 'b', 0, { plan: 'free' }), ev('purchase', 'b', 8, { amount: 5, currency: 'USD' }),
    ev('signup', 'c', 13),
    ev('login', 'a', 1), ev('login', 'a', 2), ev('login', 'a', 3),
  ])
  a.identify('a', { traits: { plan: 'pro' } })
  return a
}

test('funnel: 7-day window from the first step, camelCase windowMs, filters', async () => {
  const a = fixture()
  const range = { from: new Date(T0), to: T0 + 20 * DAY }
  const r = await a.funnel({ steps: [{ event: 'signup' }, { event: 'purchase' }], range })
  assert.deepEqual([r.entered, r.converted, r.in_progress], [3, 1, 1])
  const wide = await a.funnel({ steps: [{ event: 'signup' }, { event: 'purchase' }], range, windowMs: 8 * DAY })
  assert.equal(wide.converted, 2)
  const pro = await a.funnel({ steps: [{ event: 'signup', filters: [{ key: 'plan', op: 'eq', value: 'pro' }] }, { event: 'purchase' }], range })
  assert.equal(pro.entered, 1)
  await assert.rejects(a.funnel({ steps: [] }), (e) => /^ERR_/.test(e.code))
  await assert.rejects(a.funnel({ steps: [{ event: 'signup' }], mode: 'sideways' }), { code: 'ERR_VALIDATION' })
  await a.close()
})

test('paths after an event', async () => {
  const a = fixture()
  const r = await a.paths({ event: 'signup', direction: 'next', depth: 2 })
  assert.equal(r.event, 'signup')
  assert.equal(r.anchors, 3)
  assert.ok(r.edges.length > 0)
  await a.close()
})

test('userProfile by id or options', async () => {
  const a = fixture()
  const p = await a.userProfile('a')
  assert.equal(p.user_id, 'a')
  assert.equal(p.events, 5)
  assert.equal(p.traits.plan, 'pro')
  const q = await a.userProfile({ userId: 'a', asOf: T0 + 2 * DAY })
  assert.ok(q.events < p.events)
  await assert.rejects(a.userProfile(7), { code: 'ERR_INVALID_ARGUMENT' })
  await a.close()
})

test('segments: text and JSON forms, saved segments, members and stats', async () => {
  const a = fixture()
  assert.deepEqual(await a.segmentMembers('did(login, >= 3, 30d)', T0 + 10 * DAY), ['a'])
  assert.deepEqual(await a.segmentMembers({ did: { event: 'purchase', op: 'ge', count: 1, days: 30 } }, new Date(T0 + 10 * DAY)), ['a', 'b'])
  const saved = await a.createSegment('buyers', 'did(purchase, >= 1, 30d)', 'bought once')
  assert.equal(saved.name, 'buyers')
  assert.deepEqual((await a.listSegments()).map((s) => s.name), ['buyers'])
  const stats = await a.segmentStats('buyers')
  assert.equal(stats.total_persons, 3)
  const restricted = await a.funnel({ steps: [{ event: 'signup' }, { event: 'purchase' }], segment: 'buyers', windowMs: 30 * DAY })
  assert.equal(restricted.entered, 2)
  assert.equal(await a.deleteSegment('buyers'), true)
  assert.equal(await a.deleteSegment('buyers'), false)
  await assert.rejects(a.segmentStats('buyers'), { code: 'ERR_NOT_FOUND' })
  await assert.rejects(a.segmentMembers('did(((('), (e) => /^ERR_/.test(e.code))
  await assert.rejects(a.segmentMembers(42), { code: 'ERR_INVALID_ARGUMENT' })
  await a.close()
})
