'use strict'
// Analytics on a PostgreSQL URL: two instances (two app servers) share one database.
// Runs when CHURN_TEST_PG_URL names a server (`./dev test_node` starts a throwaway one);
// skipped otherwise. Each run uses its own project, so the database may be shared.
const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { Analytics } = require('..')
const { DAY, T0 } = require('./helpers')

const URL = process.env.CHURN_TEST_PG_URL || ''
const skip = URL ? false : 'CHURN_TEST_PG_URL not set (./dev test_node starts a PostgreSQL)'

test('two instances share a PostgreSQL database', { skip }, async () => {
  const project = `node_${crypto.randomBytes(6).toString('hex')}`
  const a = new Analytics({ path: URL, project })
  const b = new Analytics({ path: URL, project })
  try {
    a.track('login', { userId: 'u1', timestamp: T0, messageId: 'm1' })
    b.track('login', { userId: 'u1', timestamp: T0 + DAY, messageId: 'm2' })
    b.track('login', { userId: 'u1', timestamp: T0, messageId: 'm1' }) // duplicate
    await a.flush()
    await b.flush()
    for (const x of [a, b]) {
      const ex = await x.exportUser('u1')
      assert.deepEqual(ex.events.map((e) => e.message_id).sort(), ['m1', 'm2'])
    }
    assert.equal(a.stats().duplicates + b.stats().duplicates, 1)
  } finally {
    await a.close()
    await b.close()
  }
})

test('an unreachable PostgreSQL is a storage error', { skip }, () => {
  // Port 1 on localhost: nothing listens there.
  assert.throws(() => new Analytics({ path: 'postgres://churn@127.0.0.1:1/none' }),
    (e) => e.code === 'ERR_STORAGE')
})
