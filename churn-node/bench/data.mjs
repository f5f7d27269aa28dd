// The analysis data set of churn-py's bench (bench_track.py `events(n, 20_000)`, its
// `--analysis-events` default 1M), shared by track.mjs and ab.mjs: n events over 90 days,
// a page view every 4th event.
const DAY = 86_400_000
const PY_T0 = 1_767_225_600_000 // 2026-01-01
export function pyEvents(n, offset, users = 20_000) {
  const out = new Array(n)
  for (let j = 0; j < n; j++) {
    const i = j + offset
    const ts = PY_T0 + ((i * 7919) % ((90 * DAY) / 60_000)) * 60_000
    out[j] = i % 4 === 0
      ? { type: 'page', name: `/p${i % 20}`, userId: `u${i % users}`, timestamp: ts, properties: { path: `/p${i % 20}` } }
      : { event: 'click', userId: `u${i % users}`, timestamp: ts, properties: { button: 'buy', n: i % 10 } }
  }
  return out
}
