'use strict'
// Analyses and training run on the libuv thread pool: while they run, a 5 ms interval
// timer keeps firing. The test measures the largest gap between ticks (timer drift)
// while analyses run back to back for at least a second.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Analytics } = require('..')
const { DAY, T0, churnMessages } = require('./helpers')

function ticker(intervalMs) {
  let last = performance.now()
  let maxGap = 0
  let ticks = 0
  const h = setInterval(() => {
    const now = performance.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
    ticks++
  }, intervalMs)
  return { stop: () => { clearInterval(h); return { maxGap, ticks } } }
}

test('timers keep firing while analyses and training run', async () => {
  const a = Analytics.inMemory()
  const batch = []
  for (let i = 0; i < 50_000; i++) {
    batch.push({ event: i % 10 === 0 ? 'purchase' : 'view', userId: `u${i % 2000}`, timestamp: T0 + (i % 90) * DAY + i })
    if (batch.length === 10_000) a.trackBatch(batch.splice(0))
  }
  a.trackBatch(churnMessages(600))
  await a.flush()
  await a.activeUsers() // load the engine once, outside the measurement

  const t = ticker(5)
  const start = performance.now()
  let runs = 0
  while (performance.now() - start < 1000) {
    await Promise.all([
      a.sessions({ period: 'week' }),
      a.retention({ period: 'week' }),
      a.activeUsers({ period: 'day' }),
      a.revenue(),
      runs === 0 ? a.trainChurnModel({ asOf: T0 + 40 * DAY }) : null,
    ])
    runs++
  }
  const elapsed = performance.now() - start
  const { maxGap, ticks } = t.stop()
  console.log(`${runs} rounds of analyses in ${elapsed.toFixed(0)} ms; ${ticks} ticks, largest gap ${maxGap.toFixed(1)} ms`)
  assert.ok(maxGap < 250, `a timer waited ${maxGap.toFixed(1)} ms`)
  assert.ok(ticks >= (elapsed / 5) * 0.2, `only ${ticks} ticks in ${elapsed.toFixed(0)} ms`)
  await a.close()
})
