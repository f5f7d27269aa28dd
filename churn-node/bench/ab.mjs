// Two builds of the addon in one process, on the same SQLite file (bench/track.mjs's
// analysis data set): each round calls A's analysis from Node, A's timeAnalysisInRust,
// B's analysis, B's timeAnalysisInRust, in an order that rotates (and reverses every
// 4 rounds), so both builds see the same minutes of machine load. Prints per build the
// median Node and Rust times, the median per-round ratio and node - rust, and the
// Rust call's hop ("there": the call until the worker starts; "back": the worker done
// until the JS code resumes). Both builds' threads live in the process, so the ratios
// are a little higher than bench/track.mjs's; compare A with B, not with the goal.
//
//   mkdir /tmp/a && cp -r index.js decode.js native.js errors.js package.json /tmp/a/
//   cp <old libchurn_node.so> /tmp/a/churnlens.linux-x64-gnu.node     (same for /tmp/b)
//   node bench/ab.mjs /tmp/a /tmp/b            (ANALYSIS_EVENTS=1000000 RUNS=61)
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import { pyEvents } from './data.mjs'

const require = createRequire(import.meta.url)
const dirs = process.argv.slice(2)
if (dirs.length !== 2) {
  console.error('usage: node bench/ab.mjs <package dir A> <package dir B>')
  process.exit(2)
}
const builds = dirs.map((d) => ({ name: d, Analytics: require(path.resolve(d, 'index.js')).Analytics }))
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')

const N = Number(process.env.ANALYSIS_EVENTS || 1_000_000)
const RUNS = Number(process.env.RUNS || 61)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'churn-node-ab-'))
const file = path.join(dir, 'a.db')
const writer = new builds[0].Analytics({ path: file, queueCapacity: N + 1, batchSize: 10_000 })
for (let i = 0; i < N; i += 50_000) writer.trackBatch(pyEvents(Math.min(50_000, N - i), i))
await writer.close()
const inst = builds.map((b) => new b.Analytics({ path: file }))
for (const a of inst) await a.activeUsers() // load each engine once
for (const [k, a] of inst.entries()) {
  if ((await a.timeAnalysisInRust('refresh', undefined, 1)).debug_build) {
    console.log(`${'AB'[k]} (${builds[k].name}) is a DEBUG build: its analyses run ~10x slower; compare release builds`)
  }
}

const load0 = os.loadavg()[0]
for (const [name, opts] of [['activeUsers', { period: 'day' }], ['sessions', {}], ['retention', { period: 'week' }], ['revenue', { period: 'month' }]]) {
  for (const a of inst) {
    await a[name](opts)
    await a.timeAnalysisInRust(name, opts, 1)
  }
  gc()
  const r = inst.map(() => ({ node: [], rust: [], diff: [], ratio: [], there: [], back: [] }))
  for (let i = 0; i < RUNS; i++) {
    const calls = [[0, 'node'], [0, 'rust'], [1, 'node'], [1, 'rust']]
    const seq = [...calls.slice(i % 4), ...calls.slice(0, i % 4)]
    if (i % 8 >= 4) seq.reverse()
    const got = [{}, {}]
    for (const [k, kind] of seq) {
      const t0 = process.hrtime.bigint()
      if (kind === 'node') {
        await inst[k][name](opts)
        got[k].node = ms(t0)
      } else {
        const t = await inst[k].timeAnalysisInRust(name, opts, 1)
        const t1 = process.hrtime.bigint()
        got[k].rust = t.median_ms
        r[k].there.push(t.start_ms - Number(t0) / 1e6)
        r[k].back.push(Number(t1) / 1e6 - t.end_ms)
      }
    }
    got.forEach((g, k) => {
      r[k].node.push(g.node)
      r[k].rust.push(g.rust)
      r[k].diff.push(g.node - g.rust)
      r[k].ratio.push(g.node / g.rust)
    })
  }
  r.forEach((e, k) => {
    const nw = median(e.node)
    const rw = median(e.rust)
    console.log(`${name.padEnd(12)} ${'AB'[k]} node ${nw.toFixed(3)}  rust ${rw.toFixed(3)}  node/rust per round ${median(e.ratio).toFixed(3)} (of the medians ${(nw / rw).toFixed(3)})  node - rust per round ${median(e.diff).toFixed(3)}  (rust call: there ${median(e.there).toFixed(3)}, back ${median(e.back).toFixed(3)})   ${builds[k].name}`)
  })
}
for (const a of inst) await a.close()
fs.rmSync(dir, { recursive: true, force: true })
console.log(`${N.toLocaleString('en-US')} events, ${RUNS} rounds, medians in ms; load ${load0.toFixed(1)} -> ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`)
