'use strict'
// Bad input never crashes the process: every failure is a ChurnError subclass with
// the core's code, thrown by synchronous calls and rejected by Promise-returning ones.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const churnlens = require('..')
const { Analytics, ChurnError, CODES } = churnlens
const { T0, tmpdir } = require('./helpers')

test('every core code has an exported class extending ChurnError', () => {
  assert.deepEqual(Object.keys(CODES).sort(), [
    'ERR_CLOSED', 'ERR_CONSENT', 'ERR_INVALID_ARGUMENT', 'ERR_IO', 'ERR_MODEL',
    'ERR_MODEL_VERSION', 'ERR_NOT_A_STORE', 'ERR_NOT_FOUND', 'ERR_QUEUE_FULL',
    'ERR_SCHEMA_MISMATCH', 'ERR_SCHEMA_TOO_NEW', 'ERR_STORAGE', 'ERR_VALIDATION',
  ])
  for (const [code, name] of Object.entries(CODES)) {
    const C = churnlens[name]
    const e = new C('boom')
    assert.ok(e instanceof ChurnError && e instanceof Error)
    assert.equal(e.code, code)
    assert.equal(e.name, name)
  }
})

test('the ESM entry exports the same objects', async () => {
  const esm = await import('../index.mjs')
  assert.equal(esm.Analytics, Analytics)
  assert.equal(esm.ValidationError, churnlens.ValidationError)
  assert.equal(esm.default, churnlens)
})

const circular = {}
circular.self = circular

const badTrack = [
  ['no arguments', [], 'ERR_INVALID_ARGUMENT'],
  ['a number as event', [42], 'ERR_INVALID_ARGUMENT'],
  ['null event', [null], 'ERR_INVALID_ARGUMENT'],
  ['empty event', ['', { userId: 'u' }], 'ERR_VALIDATION'],
  ['missing identity', ['e', {}], 'ERR_VALIDATION'],
  ['fields not an object', ['e', 'u1'], 'ERR_INVALID_ARGUMENT'],
  ['an array as message', [[1, 2]], 'ERR_INVALID_ARGUMENT'],
  ['NaN property', ['e', { userId: 'u', properties: { amount: NaN } }], 'ERR_VALIDATION'],
  ['Infinity timestamp', ['e', { userId: 'u', timestamp: Infinity }], 'ERR_VALIDATION'],
  ['invalid Date', ['e', { userId: 'u', timestamp: new Date('nope') }], 'ERR_VALIDATION'],
  ['unparsable timestamp', ['e', { userId: 'u', timestamp: 'soon' }], 'ERR_VALIDATION'],
  ['circular properties', ['e', { userId: 'u', properties: circular }], 'ERR_VALIDATION'],
  ['BigInt property', ['e', { userId: 'u', properties: { n: 10n } }], 'ERR_VALIDATION'],
  ['properties not an object', ['e', { userId: 'u', properties: [1] }], 'ERR_VALIDATION'],
  ['numeric user id object', ['e', { userId: { id: 1 } }], 'ERR_VALIDATION'],
  ['event too long', ['x'.repeat(201), { userId: 'u' }], 'ERR_VALIDATION'],
  ['control character', ['a\u0001b', { userId: 'u' }], 'ERR_VALIDATION'],
]

test('track: bad input throws a coded error, never crashes', async () => {
  const a = Analytics.inMemory()
  for (const [what, args, code] of badTrack) {
    assert.throws(() => a.track(...args), (e) => e instanceof ChurnError && e.code === code, what)
  }
  // Functions, symbols and undefined inside objects are left out, as JSON.stringify does.
  a.track('e', { userId: 'u', properties: { f() {}, s: Symbol('x'), u: undefined, ok: 1 }, timestamp: T0 })
  const ex = await a.exportUser('u')
  assert.deepEqual(ex.events[0].properties, { ok: 1 })
  await a.close()
})

test('other synchronous calls with wrong types', async () => {
  const a = Analytics.inMemory()
  assert.throws(() => a.alias(1, 2), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => a.alias('u'), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => a.identify(undefined), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => a.identify('', {}), { code: 'ERR_VALIDATION' })
  assert.throws(() => a.page(7), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => a.trackBatch('nope'), { code: 'ERR_VALIDATION' }) // text is read as JSON
  assert.throws(() => a.trackBatch('{"event":"e"}'), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => a.trackBatch(42), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => a.trackBatch([{ event: 'e', userId: 'u', properties: { x: NaN } }]), { name: 'ValidationError', code: 'ERR_VALIDATION' })
  assert.throws(() => a.trackBatch([{ event: 'e', userId: 'u', timestamp: new Date('nope') }]), { code: 'ERR_VALIDATION' })
  assert.throws(() => a.trackBatch([{ event: 'e', userId: 'u', properties: { n: 1n } }]), { code: 'ERR_VALIDATION' })
  assert.throws(() => a.trackBatch([1]), { code: 'ERR_VALIDATION' })
  assert.throws(() => a.trackBatch([circular]), { code: 'ERR_VALIDATION' })
  assert.throws(() => Analytics.prototype.track.call({}, 'e', { userId: 'u' }), { code: 'ERR_INVALID_ARGUMENT' })
  await a.close()
})

test('constructor options are checked', () => {
  assert.throws(() => new Analytics(), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => new Analytics({}), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => new Analytics('file.db'), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => Analytics.inMemory({ batchSize: 0 }), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => Analytics.inMemory({ batchSize: -1 }), { code: 'ERR_VALIDATION' })
  assert.throws(() => Analytics.inMemory({ batchSize: 'many' }), { code: 'ERR_VALIDATION' })
  assert.throws(() => Analytics.inMemory({ backpressure: 'drop' }), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => Analytics.inMemory({ project: '' }), { code: 'ERR_VALIDATION' })
  assert.throws(() => Analytics.inMemory({ typo: 1 }), { code: 'ERR_VALIDATION' })
  assert.throws(() => Analytics.inMemory({ path: 'x.db' }), { code: 'ERR_INVALID_ARGUMENT' })
  const dir = tmpdir()
  const notDb = path.join(dir, 'text.db')
  fs.writeFileSync(notDb, 'this is not a database file at all, just text '.repeat(100))
  assert.throws(() => new Analytics({ path: notDb }), (e) => ['ERR_NOT_A_STORE', 'ERR_STORAGE'].includes(e.code))
  assert.throws(() => new Analytics({ path: path.join(dir, 'no', 'such', 'dir', 'x.db') }), (e) => e instanceof ChurnError)
  fs.rmSync(dir, { recursive: true, force: true })
})

test('a closed instance: sync calls throw ERR_CLOSED, async calls reject with it', async () => {
  const a = Analytics.inMemory()
  a.track('e', { userId: 'u', timestamp: T0 })
  const closing = a.close()
  assert.throws(() => a.track('e', { userId: 'u' }), { name: 'ClosedError', code: 'ERR_CLOSED' })
  await closing
  assert.throws(() => a.trackBatch([]), { code: 'ERR_CLOSED' })
  assert.throws(() => a.identify('u'), { code: 'ERR_CLOSED' })
  assert.throws(() => a.page('/x', { userId: 'u' }), { code: 'ERR_CLOSED' })
  assert.throws(() => a.alias('u', 'v'), { code: 'ERR_CLOSED' })
  for (const p of [a.flush(), a.activeUsers(), a.sessions(), a.retention(), a.revenue(), a.exportUser('u'),
    a.deleteUser('u'), a.setConsent('u', true), a.anonymizeUser('u'), a.purgeBefore(T0),
    a.importFile('x.csv'), a.trainChurnModel({ asOf: T0 }), a.engineMemory()]) {
    await assert.rejects(p, { code: 'ERR_CLOSED' })
  }
  await a.close()
})

test('Promise-returning calls reject (never throw) on bad arguments', async () => {
  const a = Analytics.inMemory()
  const calls = [
    () => a.purgeBefore('not a date'),
    () => a.purgeBefore(NaN),
    () => a.exportUser(5),
    () => a.exportUser(''),
    () => a.setConsent('u'),
    () => a.activeUsers({ range: circular }),
    () => a.scoreChurn({}, { asOf: T0 }),
    () => a.importFile(),
  ]
  for (const call of calls) {
    let p
    assert.doesNotThrow(() => { p = call() })
    await assert.rejects(p, (e) => e instanceof ChurnError && /^ERR_/.test(e.code))
  }
  await a.close()
})

test('backpressure error: a full queue is ERR_QUEUE_FULL per message', async () => {
  const a = Analytics.inMemory({ queueCapacity: 5, backpressure: 'error', flushIntervalMs: 60_000, batchSize: 1000 })
  const msgs = Array.from({ length: 50 }, (_, i) => ({ event: 'e', userId: `u${i}`, timestamp: T0 }))
  const rep = a.trackBatch(msgs)
  assert.ok(rep.rejected.length > 0)
  assert.ok(rep.rejected.every((r) => r.code === 'ERR_QUEUE_FULL'))
  assert.equal(rep.accepted + rep.rejected.length, 50)
  await a.close()
})
