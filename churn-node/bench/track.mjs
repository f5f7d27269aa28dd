// churnlens from Node: track rate through trackBatch, posthog-node's enqueue rate with
// the network off (flushAt / maxQueueSize huge, no flush timer, never flushed) beside
// it, and three analyses over 1M events timed from Node and inside Rust, alternated in
// the same process (medians, ratio).
//
//   ./dev bench-node        (builds the addon in release first)
//   EVENTS=500000 ANALYSIS_EVENTS=1000000 ANALYSIS_RUNS=301 node bench/track.mjs
//   SKIP_TRACK=1 node bench/track.mjs      (the analyses only)
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import { pyEvents } from './data.mjs'
const require = createRequire(import.meta.url)
const { Analytics } = require('../index.js')

const EVENTS = Number(process.env.EVENTS || 300_000)
const BATCH = Number(process.env.BATCH || 1_000)
const REPEATS = Number(process.env.REPEATS || 5)
const ANALYSIS_EVENTS = Number(process.env.ANALYSIS_EVENTS || 1_000_000)
const ANALYSIS_RUNS = Number(process.env.ANALYSIS_RUNS || 301)
const T0 = Date.UTC(2026, 0, 5)
const DAY = 86_400_000

// A full garbage collection outside the timings (the setup's garbage, and the track
// section's posthog-node queues, would otherwise be collected during them).
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')

const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * q + 0.5)]
const median = (xs) => quantile(xs, 0.5)

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


const ANALYSES = [['activeUsers', { period: 'day' }], ['sessions', {}], ['retention', { period: 'week' }]]

// Each analysis ANALYSIS_RUNS times from Node and from Rust, alternated call by call
// (Node first on even runs, Rust first on odd ones) in this process, on the same
// store and engine. Node: wall time of `await a[name](opts)` and process CPU time
// during it (all threads: the worker running it plus the JS thread's conversions).
// Rust: `timeAnalysisInRust(name, opts, 1)`, timed inside the worker thread (flush,
// refresh, analysis, the report struct) with that thread's CPU time; the same call
// timed from JS too, so that node - rust splits into the thread hop (rust timed from
// JS - rust timed inside; "there": the call until the worker starts, "back": the worker
// done until the JS code resumes, from the monotonic clock both sides read) and the
// rest (node - rust timed from JS: the report to columns on the worker, their decode
// on the JS thread, the options read).
// The goal is judged on the median of the per-pair ratios: the analyses' own time
// drifts between modes over seconds on a VM, and a pair's two calls, adjacent in time,
// see the same mode, so the ratio of two separate medians can move by more than the
// 5% it is meant to show; 301 pairs by default because a 101-pair median still moved by
// about +-1.5% from run to run.
let debugBuild = false
async function analysisRatio() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'churn-node-bench-'))
  const a = new Analytics({ path: path.join(dir, 'a.db'), queueCapacity: ANALYSIS_EVENTS + 1, batchSize: 10_000 })
  for (let i = 0; i < ANALYSIS_EVENTS; i += 50_000) a.trackBatch(pyEvents(Math.min(50_000, ANALYSIS_EVENTS - i), i))
  await a.flush()
  await a.activeUsers() // load the engine once, outside the timings
  debugBuild = (await a.timeAnalysisInRust('refresh', undefined, 1)).debug_build
  const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6
  const out = []
  for (const [name, opts] of ANALYSES) {
    await a[name](opts) // warm
    await a.timeAnalysisInRust(name, opts, 1)
    gc()
    const node = { wall: [], cpu: [] }
    const rust = { wall: [], cpu: [], fromJs: [], processCpu: [], there: [], back: [] }
    const diff = []
    const pairRatio = []
    const hop = []
    const rest = []
    for (let r = 0; r < ANALYSIS_RUNS; r++) {
      let n, k, kJs
      const timeNode = async () => {
        const c0 = process.cpuUsage()
        const t0 = process.hrtime.bigint()
        await a[name](opts)
        n = ms(t0)
        const c = process.cpuUsage(c0)
        node.wall.push(n)
        node.cpu.push((c.user + c.system) / 1e3)
      }
      const timeRust = async () => {
        const c0 = process.cpuUsage()
        const t0 = process.hrtime.bigint()
        const t = await a.timeAnalysisInRust(name, opts, 1)
        const t1 = process.hrtime.bigint()
        kJs = Number(t1 - t0) / 1e6
        rust.there.push(t.start_ms - Number(t0) / 1e6)
        rust.back.push(Number(t1) / 1e6 - t.end_ms)
        const c = process.cpuUsage(c0)
        rust.processCpu.push((c.user + c.system) / 1e3)
        k = t.median_ms
        rust.wall.push(k)
        rust.cpu.push(t.cpu_ms)
        rust.fromJs.push(kJs)
      }
      if (r % 2 === 0) {
        await timeNode()
        await timeRust()
      } else {
        await timeRust()
        await timeNode()
      }
      diff.push(n - k)
      pairRatio.push(n / k)
      hop.push(kJs - k)
      rest.push(n - kJs)
    }
    out.push({ name, node, rust, diff, pairRatio, hop, rest })
  }
  await a.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return out
}

const fmt = (x) => Math.round(x).toLocaleString('en-US')
if (!process.env.SKIP_TRACK) {
  console.log(`churnlens Node benchmark: ${EVENTS.toLocaleString('en-US')} events, batches of ${BATCH}, median of ${REPEATS}`)
  const mine = await trackRate()
  console.log(`track (trackBatch)          ${fmt(mine)} events/s   goal >= 300,000: ${mine >= 300_000 ? 'met' : 'NOT met'}   (Analytics.inMemory(): validated and queued, the point posthog-node's figure is taken at)`)
  console.log(`  per CPU second (all threads during the calls, incl. the writer storing concurrently) ${fmt(median(cpuRates))} events; JSON.stringify is ${(100 * median(stringifyShare)).toFixed(0)}% of the wall time; load ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`)
  const ph = await posthogRate()
  if (ph == null) console.log('posthog-node                (not installed: npm install in churn-node/)')
  else console.log(`posthog-node capture        ${fmt(ph)} events/s   (enqueue only, network off)   churnlens / posthog = ${(mine / ph).toFixed(2)}`)
}
const load0 = os.loadavg()[0]
const analyses = await analysisRatio()
console.log(`analyses over ${ANALYSIS_EVENTS.toLocaleString('en-US')} events (churn-py's bench data set, SQLite file), ${ANALYSIS_RUNS} runs each, Node and Rust alternated in this process; medians in ms; load ${load0.toFixed(1)} -> ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`)
if (debugBuild) console.log('  DEBUG BUILD of the addon (cargo build without --release, e.g. left by npm test / ./dev test_node): its analyses run ~10x slower, which hides the per-call cost; the ratios below say nothing about the goal. ./dev bench-node builds and loads the release addon.')
for (const r of analyses) {
  const nw = median(r.node.wall)
  const rw = median(r.rust.wall)
  const ratio = nw / rw
  const nc = median(r.node.cpu)
  const rc = median(r.rust.cpu)
  const pair = median(r.pairRatio)
  console.log(`  ${r.name.padEnd(12)} node ${nw.toFixed(2).padStart(7)}  rust ${rw.toFixed(2).padStart(7)}  node/rust per pair ${pair.toFixed(3)} (quartiles ${quantile(r.pairRatio, 0.25).toFixed(3)}-${quantile(r.pairRatio, 0.75).toFixed(3)}; ratio of the medians ${ratio.toFixed(3)})  (${r.node.wall.length} pairs)   goal <= 1.05: ${debugBuild ? 'not judged (debug build)' : pair <= 1.05 ? 'met' : 'NOT met'}`)
  console.log(`  ${''.padEnd(12)} node - rust per pair ${median(r.diff).toFixed(3)} = thread hop ${median(r.hop).toFixed(3)} (there ${median(r.rust.there).toFixed(3)}, back ${median(r.rust.back).toFixed(3)}) + result conversion ${median(r.rest).toFixed(3)}`)
  console.log(`  ${''.padEnd(12)} CPU: node ${nc.toFixed(2)} (process, all threads) / rust ${rc.toFixed(2)} (its thread) = ${(nc / rc).toFixed(3)}; the rust call's process CPU ${median(r.rust.processCpu).toFixed(2)} (its hop and the process's other threads)`)
}
