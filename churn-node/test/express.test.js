'use strict'
// The middleware and read API against a real Express server on 127.0.0.1.
const test = require('node:test')
const assert = require('node:assert/strict')
const express = require('express')
const { Analytics } = require('..')
const { track, readApi, queryOptions } = require('../express')

function listen(app) {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server))
  })
}

async function withServer(analytics, options, fn) {
  const app = express()
  app.use(track(analytics, options))
  app.get('/items/:id', (req, res) => res.json({ id: req.params.id }))
  app.get('/slow', (req, res) => setTimeout(() => res.send('done'), 30))
  app.get('/fail', (req, res) => res.status(500).send('no'))
  app.use('/analytics', readApi(analytics))
  const server = await listen(app)
  const base = `http://127.0.0.1:${server.address().port}`
  try {
    await fn(base)
  } finally {
    await new Promise((r) => server.close(r))
  }
}

test('middleware tracks path, route, status, duration and the user', async () => {
  const a = Analytics.inMemory()
  await withServer(a, { userId: (req) => req.get('x-user-id') }, async (base) => {
    assert.equal((await fetch(`${base}/items/7?q=1`, { headers: { 'x-user-id': 'u1' } })).status, 200)
    assert.equal((await fetch(`${base}/slow`, { headers: { 'x-user-id': 'u1', referer: 'https://ref.example/' } })).status, 200)
    assert.equal((await fetch(`${base}/fail`, { headers: { 'x-anonymous-id': 'anon-1' } })).status, 500)
    assert.equal((await fetch(`${base}/missing`)).status, 404)
  })
  await a.flush()
  const u1 = await a.exportUser('u1')
  assert.equal(u1.events.length, 2)
  const [items, slow] = u1.events.sort((x, y) => x.seq - y.seq)
  assert.equal(items.event, 'http_request')
  assert.deepEqual(
    { method: items.properties.method, path: items.properties.path, route: items.properties.route, status: items.properties.status },
    { method: 'GET', path: '/items/7', route: '/items/:id', status: 200 },
  )
  assert.ok(slow.properties.duration_ms >= 25, `duration ${slow.properties.duration_ms}`)
  assert.equal(slow.context.referrer, 'https://ref.example/')
  const anon = await a.exportUser('anon-1')
  assert.equal(anon.events[0].properties.status, 500)
  const all = await a.activeUsers({ active: { allExcept: [] } })
  assert.equal(all.total_users, 3) // u1, anon-1 and the client IP of the 404
  await a.close()
})

test('read API answers the analyses as JSON and maps error codes to statuses', async () => {
  const a = Analytics.inMemory()
  a.trackBatch([
    { event: 'login', userId: 'u1', timestamp: '2026-01-05T10:00:00Z' },
    { event: 'login', userId: 'u2', timestamp: '2026-01-06T10:00:00Z' },
  ])
  await withServer(a, { skip: (req) => req.path.startsWith('/analytics') }, async (base) => {
    let r = await fetch(`${base}/analytics/active-users?period=day&from=2026-01-05&to=2026-01-07`)
    assert.equal(r.status, 200)
    const body = await r.json()
    assert.deepEqual(body.periods.map((p) => p.active_users), [1, 1])
    for (const p of ['sessions', 'retention', 'revenue']) {
      r = await fetch(`${base}/analytics/${p}`)
      assert.equal(r.status, 200, p)
    }
    r = await fetch(`${base}/analytics/sessions?period=fortnight`)
    assert.equal(r.status, 400)
    assert.equal((await r.json()).error.code, 'ERR_VALIDATION')
    await a.close()
    r = await fetch(`${base}/analytics/sessions`)
    assert.equal(r.status, 503)
    assert.equal((await r.json()).error.code, 'ERR_CLOSED')
    // Tracking into a closed instance never fails the request.
    assert.equal((await fetch(`${base}/items/1`)).status, 200)
  })
})

test('tracking errors go to onError, never to the response', async () => {
  const a = Analytics.inMemory()
  const seen = []
  await withServer(a, { userId: () => 'x'.repeat(500), onError: (e) => seen.push(e.code) }, async (base) => {
    assert.equal((await fetch(`${base}/items/1`)).status, 200)
    await new Promise((r) => setTimeout(r, 20))
  })
  assert.deepEqual(seen, ['ERR_VALIDATION'])
  await a.close()
})

test('queryOptions converts the query string', () => {
  assert.deepEqual(queryOptions({ from: '2026-01-01', to: '1767225600000', period: 'week', top: '5' }), {
    range: { from: '2026-01-01', to: 1767225600000 },
    period: 'week',
    top: 5,
  })
})
