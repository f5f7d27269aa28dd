// churnlens from Node: track rate through trackBatch, one analysis timed from Node and
// inside Rust in the same run (ratio), and posthog-node's enqueue rate with the network
// off (flushAt / maxQueueSize huge, no flush timer, never flushed) beside them.
//
//   ./dev bench-node        (builds the addon in release first)
//   EVENTS=500000 node bench/track.mjs
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const { Analytics } = require('../index.js')

const EVENTS = Number(process.env.EVENTS || 300_000)
const BATCH = Number(process.env.BATCH || 1_000)
const REPEATS = Number(process.env.REPEATS || 5)
const T0 = Date.UTC(2026, 0, 5)
const DAY = 86_400_000

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

function messages(n, offset = 0) {
  const out = new Array(n)
  for (let i = 0; i < n; i++) {
    const k = i + offset
    out[i] = {
      event: k % 20 === 0 ? 'purchase' : 'page_view',
      userId: `u${k % 20_000}`,
      timestamp: T0 + (k % 120) * DAY + (k % 86_400) * 1000,
      properties: k % 20 === 0 ? { amount: 19.9, currency: 'USD' } : { path: `/p/${k % 50}` },
    }
  }
  return out
}

const cpuRates = []
const stringifyShare = []

async function trackRate() {
  const rates = []
  for (let r = 0; r < REPEATS; r++) {
    const a = Analytics.inMemory({ queueCapacity: 2 * EVENTS, batchSize: 10_000 })
    const batches = []
    for (let i = 0; i < EVENTS; i += BATCH) batches.push(messages(Math.min(BATCH, EVENTS - i), i))
    const start = process.hrtime.bigint()
    const cpu0 = process.cpuUsage()
    for (const b of batches) a.trackBatch(b)
    const s = Number(process.hrtime.bigint() - start) / 1e9
    const c = process.cpuUsage(cpu0)
    rates.push(EVENTS / s)
    cpuRates.push(EVENTS / ((c.user + c.system) / 1e6))
    const j0 = process.hrtime.bigint()
    for (const b of batches) JSON.stringify(b)
    stringifyShare.push(Number(process.hrtime.bigint() - j0) / 1e9 / s)
    await a.close()
  }
  return median(rates)
}

async function posthogRate() {
  let PostHog
  try {
    ;({ PostHog } = require('posthog-node'))
  } catch {
    return null
  }
  const rates = []
  for (let r = 0; r < REPEATS; r++) {
    const ph = new PostHog('phc_bench', {
      host: 'http://127.0.0.1:9',
      flushAt: 10 * EVENTS,
      maxQueueSize: 10 * EVENTS,
      maxBatchSize: 10 * EVENTS,
      flushInterval: 0,
      disableGeoip: true,
    })
    const msgs = messages(EVENTS)
    const start = process.hrtime.bigint()
    for (const m of msgs) ph.capture({ distinctId: m.userId, event: m.event, properties: m.properties, timestamp: new Date(m.timestamp) })
    // capture() enqueues after a promise chain: the time ends when all are queued.
    const queued = () => (ph.getPersistedProperty('queue') || []).length
    for (let spins = 0; queued() < EVENTS && spins < 1e6; spins++) await new Promise((r) => setImmediate(r))
    const s = Number(process.hrtime.bigint() - start) / 1e9
    if (queued() !== EVENTS) throw new Error(`posthog-node queued ${queued()} of ${EVENTS}`)
    rates.push(EVENTS / s)
  }
  return median(rates)
}

async function analysisRatio() {
  const a = Analytics.inMemory({ queueCapacity: 2 * EVENTS, batchSize: 10_000 })
  for (let i = 0; i < EVENTS; i += 10_000) a.trackBatch(messages(Math.min(10_000, EVENTS - i), i))
  await a.flush()
  const out = []
  for (const [name, opts] of [['sessions', { period: 'week' }], ['activeUsers', { period: 'day' }], ['retention', { period: 'week' }]]) {
    await a[name](opts) // load / warm
    const node = []
    for (let r = 0; r < REPEATS * 2; r++) {
      const start = process.hrtime.bigint()
      await a[name](opts)
      node.push(Number(process.hrtime.bigint() - start) / 1e6)
    }
    const rust = await a.timeAnalysisInRust(name, opts, REPEATS * 2)
    out.push({ name, nodeMs: median(node), rustMs: rust.median_ms })
  }
  await a.close()
  return out
}

const fmt = (x) => Math.round(x).toLocaleString('en-US')
console.log(`churnlens Node benchmark: ${EVENTS.toLocaleString('en-US')} events, batches of ${BATCH}, median of ${REPEATS}`)
const mine = await trackRate()
console.log(`track (trackBatch)          ${fmt(mine)} events/s   goal >= 300,000: ${mine >= 300_000 ? 'met' : 'NOT met'}   (Analytics.inMemory(): validated and queued, the point posthog-node's figure is taken at)`)
console.log(`  per CPU second (all threads during the calls, incl. the writer storing concurrently) ${fmt(median(cpuRates))} events; JSON.stringify is ${(100 * median(stringifyShare)).toFixed(0)}% of the wall time; load ${(await import('node:os')).loadavg()[0].toFixed(1)} on ${(await import('node:os')).cpus().length} cores`)
const ph = await posthogRate()
if (ph == null) console.log('posthog-node                (not installed: npm install in churn-node/)')
else console.log(`posthog-node capture        ${fmt(ph)} events/s   (enqueue only, network off)   churnlens / posthog = ${(mine / ph).toFixed(2)}`)
for (const r of await analysisRatio()) {
  const ratio = r.nodeMs / r.rustMs
  console.log(`${r.name.padEnd(27)} node ${r.nodeMs.toFixed(2)} ms, rust ${r.rustMs.toFixed(2)} ms, node/rust ${ratio.toFixed(3)}   goal <= 1.05: ${ratio <= 1.05 ? 'met' : 'NOT met'}`)
}
