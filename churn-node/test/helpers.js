'use strict'
// Shared test data: events on fixed UTC days, and a churn data set where every third
// customer stops buying after two weeks.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const DAY = 86_400_000
const T0 = Date.UTC(2026, 0, 5) // a Monday

function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'churnlens-node-'))
}

/** `n` customers over 120 days; every third stops after day 14. Returns the messages. */
function churnMessages(n = 300) {
  const out = []
  for (let c = 0; c < n; c++) {
    const last = c % 3 === 0 ? 14 : 120
    for (let d = 0; d < last; d += 7) {
      out.push({
        event: 'purchase',
        userId: `c${c}`,
        timestamp: T0 + d * DAY + c * 1000,
        properties: { amount: 20, currency: 'USD' },
      })
    }
  }
  return out
}

module.exports = { DAY, T0, tmpdir, churnMessages }
