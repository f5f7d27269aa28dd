'use strict'
// Runs every async result-returning method on fixed data and writes the results with
// v8.serialize (keeps -0, undefined vs null, own __proto__ keys) as base64 on stdout.
// columnar.test.js runs it with results as columns and as JSON text and compares.
const v8 = require('node:v8')
const { Analytics } = require('..')
const { DAY, T0, churnMessages } = require('./helpers')

async function main() {
  const a = Analytics.inMemory()
  const ev = (event, userId, d, properties) => ({ event, userId, timestamp: T0 + d * DAY, properties })
  const msgs = churnMessages(120)
  for (let i = 0; i < 400; i++) {
    msgs.push(ev(i % 5 === 0 ? 'signup' : i % 3 ? 'page' : 'purchase', `u${i % 37}`, (i * 7) % 60 + i / 1000,
      i % 3 ? { path: `/p${i % 9}`, ratio: i / 7, neg: -0, big: 2 ** 53 + 1 } : { amount: i % 11 + 0.1, currency: 'USD' }))
  }
  a.trackBatch(msgs)
  a.identify('u1', { traits: { plan: 'pro', ['__proto__']: { x: 1 }, nested: [1, 'é', null, true, { a: [] }], n: 0.1 } })
  a.identify('u2', { traits: { note: 'nul\u0000inside' } })
  const model = await a.trainChurnModel({ name: 'm', asOf: T0 + 21 * DAY, labels: { horizonDays: 30 }, train: { seed: 7 } })
  const range = { from: T0, to: T0 + 60 * DAY }
  const out = {
    activeUsersDay: await a.activeUsers({ period: 'day' }),
    activeUsersWeek: await a.activeUsers({ period: 'week', range }),
    sessions: await a.sessions({ period: 'week' }),
    retention: await a.retention({ period: 'week' }),
    revenue: await a.revenue({ period: 'month', revenueEvents: ['purchase'], signupEvent: 'signup' }),
    funnel: await a.funnel({ steps: [{ event: 'signup' }, { event: 'page' }, { event: 'purchase' }], range, windowMs: 30 * DAY }),
    paths: await a.paths({ event: 'signup', direction: 'next', depth: 3 }),
    pathsBefore: await a.paths({ event: 'purchase', direction: 'previous', depth: 2 }),
    profile: await a.userProfile('u1'),
    profileNul: await a.userProfile('u2'),
    profileAsOf: await a.userProfile({ userId: 'c3', asOf: T0 + 10 * DAY }),
    scores: await a.scoreChurn(model, { asOf: T0 + 21 * DAY }),
    explain: await a.explainChurn(model, 'c0', { asOf: T0 + 21 * DAY, top: 3 }),
    members: await a.segmentMembers('did(purchase, >= 1, 30d)', T0 + 30 * DAY),
    created: await a.createSegment('buyers', 'did(purchase, >= 1, 30d)', 'bought once'),
    stats: await a.segmentStats('buyers'),
    list: await a.listSegments(),
    exported: await a.exportUser('u1'),
    flushed: await a.flush(),
  }
  await a.close()
  // Wall-clock fields differ between the two runs.
  const WALL = new Set(['created_at', 'updated_at', 'received_at', 'message_id', 'sent_at', 'exported_at'])
  const normalize = (v) => {
    if (Array.isArray(v)) v.forEach(normalize)
    else if (v !== null && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        if (WALL.has(k) && typeof v[k] === 'string') v[k] = 'X'
        else normalize(v[k])
      }
    }
  }
  normalize(out.created)
  normalize(out.list)
  normalize(out.exported)
  process.stdout.write(v8.serialize(out).toString('base64'))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
