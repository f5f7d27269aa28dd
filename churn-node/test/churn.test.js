'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const { Analytics, ChurnModel } = require('..')
const { DAY, T0, churnMessages } = require('./helpers')

const AS_OF = T0 + 21 * DAY

async function trained() {
  const a = Analytics.inMemory()
  const rep = a.trackBatch(churnMessages(300))
  assert.equal(rep.rejected.length, 0)
  const model = await a.trainChurnModel({ name: 'm1', asOf: new Date(AS_OF), labels: { horizonDays: 30 }, train: { seed: 7 } })
  return { a, model }
}

test('trainChurnModel resolves a ChurnModel; scoreChurn ranks the churners higher', async () => {
  const { a, model } = await trained()
  assert.ok(model instanceof ChurnModel)
  assert.equal(model.info.name, 'm1')
  assert.ok(model.info.features.length > 3)
  const scores = await a.scoreChurn(model, { asOf: AS_OF })
  assert.equal(scores.length, 300)
  const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length
  const churners = scores.filter((s) => Number(s.customer_id.slice(1)) % 3 === 0).map((s) => s.probability)
  const stayers = scores.filter((s) => Number(s.customer_id.slice(1)) % 3 !== 0).map((s) => s.probability)
  assert.ok(mean(churners) > mean(stayers) + 0.3, `${mean(churners)} vs ${mean(stayers)}`)
  for (const s of scores) {
    assert.ok(s.probability >= 0 && s.probability <= 1)
    assert.ok(['low', 'medium', 'high', 'critical'].includes(s.segment))
  }
  const strict = await a.scoreChurn(model, { asOf: AS_OF, thresholds: { medium: 0.1, high: 0.2, critical: 0.3 } })
  assert.ok(strict.filter((s) => s.segment === 'critical').length >= scores.filter((s) => s.segment === 'critical').length)
  await assert.rejects(a.scoreChurn(model, { asOf: AS_OF, thresholds: { medium: 0.5, high: 0.4, critical: 0.9 } }), { code: 'ERR_INVALID_ARGUMENT' })
  await a.close()
})

test('explainChurn and model.explain / model.predict; serialize round trip', async () => {
  const { a, model } = await trained()
  const e = await a.explainChurn(model, 'c0', { asOf: AS_OF, top: 3 })
  assert.equal(e.customer_id, 'c0')
  assert.ok(e.top_up.length <= 3 && e.top_down.length <= 3)
  await assert.rejects(a.explainChurn(model, 'nobody', { asOf: AS_OF }), { name: 'NotFoundError', code: 'ERR_NOT_FOUND' })

  const mine = [
    { customerId: 'new', date: new Date(T0), amount: 25 },
    { customerId: 'new', date: '2026-01-12', eventType: 'purchase', amount: 25 },
  ]
  const p = model.predict(mine, { asOf: AS_OF })
  assert.equal(p.customer_id, 'new')
  assert.ok(p.probability >= 0 && p.probability <= 1)
  const ex = model.explain(mine, { asOf: AS_OF, top: 2 })
  assert.equal(ex.probability, p.probability)

  const copy = ChurnModel.deserialize(model.serialize())
  assert.ok(copy instanceof ChurnModel)
  assert.deepEqual(copy.predict(mine, { asOf: AS_OF }), p)
  assert.throws(() => ChurnModel.deserialize('{"not":"a model"}'), (err) => err.code.startsWith('ERR_MODEL'))
  assert.throws(() => model.predict([], { asOf: AS_OF }), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => model.predict(mine, {}), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => model.predict([{ customerId: 'x' }], { asOf: AS_OF }), { code: 'ERR_VALIDATION' })
  await a.close()
})

test('training needs asOf and enough data', async () => {
  const a = Analytics.inMemory()
  await assert.rejects(a.trainChurnModel({}), { code: 'ERR_INVALID_ARGUMENT' })
  await assert.rejects(a.trainChurnModel({ asOf: AS_OF, bogus: 1 }), { code: 'ERR_VALIDATION' })
  a.track('purchase', { userId: 'only', timestamp: T0 })
  await assert.rejects(a.trainChurnModel({ asOf: AS_OF }), (e) => typeof e.code === 'string' && e.code.startsWith('ERR_'))
  await a.close()
})
