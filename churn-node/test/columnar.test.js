'use strict'
// Results sent as columns (src/columnar.rs + decode.js) equal the JSON-text path's.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const v8 = require('node:v8')
const { execFileSync } = require('node:child_process')
const columns = require('../decode.js')
const { Analytics } = require('..')

function results(transfer) {
  const env = { ...process.env, CHURNLENS_RESULT_TRANSFER: transfer }
  const b64 = execFileSync(process.execPath, [path.join(__dirname, 'columnar-results.js')], { env, maxBuffer: 1 << 28 })
  return v8.deserialize(Buffer.from(b64.toString(), 'base64'))
}

test('every async result is the same as columns and as JSON text', () => {
  const cols = results('columns')
  const json = results('json')
  assert.ok(Object.keys(json).length >= 19)
  for (const k of Object.keys(json)) assert.deepStrictEqual(cols[k], json[k], k)
  assert.deepStrictEqual(cols, json)
  // The data exercise what they should.
  assert.equal(Object.getPrototypeOf(cols.profile.traits), Object.prototype)
  assert.ok(Object.prototype.hasOwnProperty.call(cols.profile.traits, '__proto__'))
  assert.equal(cols.profileNul.traits.note, 'nul\u0000inside')
  assert.ok(cols.activeUsersDay.periods.length > 10)
})

test('the native methods send columns (an ArrayBuffer), index.js decodes them', async () => {
  const a = Analytics.inMemory()
  a.track({ event: 'x', userId: 'u', timestamp: 1767225600000 })
  const seen = []
  const decode = columns.decode
  columns.decode = (buf) => {
    seen.push(buf)
    return decode(buf)
  }
  let r
  try {
    r = await a.activeUsers({ period: 'day' })
  } finally {
    columns.decode = decode
  }
  assert.equal(seen.length, 1)
  assert.ok(seen[0] instanceof ArrayBuffer)
  assert.equal(typeof seen[0].s, 'string')
  assert.ok(Array.isArray(JSON.parse(seen[0].k)))
  assert.equal(Object.getPrototypeOf(r), Object.prototype)
  assert.ok(Array.isArray(r.periods))
  await a.close()
})
