// Type-checked against churn-node/index.d.ts by `./dev test` (tsc --noEmit).
import { Analytics, ChurnModel, ChurnError, ValidationError } from 'churnlens'
import type { ActiveUsersReport, CustomerScore } from 'churnlens'

// The two Node globals used here (the check runs without @types/node).
declare const console: { log(...args: unknown[]): void; error(...args: unknown[]): void }
declare const process: { exit(code: number): never }

async function main(): Promise<void> {
  const analytics = Analytics.inMemory({ batchSize: 500 })
  analytics.track('signup', { userId: 'u1', properties: { plan: 'pro' }, timestamp: new Date() })
  analytics.page({ name: '/pricing', anonymousId: 'a1' })
  analytics.identify('u1', { traits: { email: 'u1@example.com' }, anonymousId: 'a1' })
  const report = analytics.trackBatch([{ event: 'login', userId: 'u2', timestamp: Date.now() }])
  console.log(report.accepted, report.rejected.length)

  const dau: ActiveUsersReport = await analytics.activeUsers({ period: 'day' })
  console.log(dau.periods.map((p) => `${p.label}: ${p.active_users}`))
  const s = await analytics.sessions({ maxGapMs: 30 * 60_000 })
  console.log(s.sessions)

  try {
    analytics.track('', { userId: 'u1' })
  } catch (e) {
    if (e instanceof ValidationError) console.log(e.code)
    else if (e instanceof ChurnError) console.log('other', e.code)
  }
  const model: ChurnModel | null = null
  if (model) {
    const scores: CustomerScore[] = await analytics.scoreChurn(model, { asOf: '2026-01-01' })
    console.log(scores.length)
  }
  await analytics.close()
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
