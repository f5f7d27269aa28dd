// posthog-node pointed at churn serve by host only. Prints what it sent as JSON
// (same shape as senders.py) on stdout.
import { PostHog } from 'posthog-node'
import { randomUUID } from 'node:crypto'

const [url, apiKey, tag] = process.argv.slice(2)
const errors = []
const client = new PostHog(apiKey, { host: url, flushAt: 40, flushInterval: 0, fetchRetryCount: 0 })
client.on('error', (e) => errors.push(String(e)))

const base = Date.UTC(2026, 2, 4, 5, 6, 7, 891)
const ts = (i) => new Date(base + i * 60000 + i * 37)
const events = []
const traits = {}
const aliases = []
const u = `node-${tag}-u1`
for (let i = 0; i < 90; i++) {
  const uuid = randomUUID()
  const props = { plan: 'team', i, ok: true }
  client.capture({ distinctId: u, event: 'report_viewed', properties: props, timestamp: ts(i), uuid })
  events.push({ message_id: uuid, user: u, name: 'report_viewed', props, ts_ms: ts(i).getTime() })
}
{
  const uuid = randomUUID()
  client.capture({ distinctId: u, event: '$pageview', properties: { $current_url: 'https://x.test/b' }, timestamp: ts(400), uuid })
  events.push({ message_id: uuid, user: u, name: 'page_view', props: {}, ts_ms: ts(400).getTime() })
}
client.identify({ distinctId: u, properties: { email: 'c@example.com', role: 'admin' } })
traits[u] = { email: 'c@example.com', role: 'admin' }
const anon = `node-${tag}-anon`
client.alias({ distinctId: u, alias: anon })
aliases.push([anon, u])
await client.shutdown(10000)
if (errors.length) {
  console.error('posthog-node reported errors:', errors)
  process.exit(1)
}
console.log(JSON.stringify({ events, traits, aliases }))
