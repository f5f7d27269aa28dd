'use strict'
// churnlens/express: Express middleware that tracks every request, and a router that
// serves the read API (analyses) as JSON.
//
//   const { Analytics } = require('churnlens')
//   const { track, readApi } = require('churnlens/express')
//   app.use(track(analytics, { userId: (req) => req.user?.id }))
//   app.use('/analytics', readApi(analytics))

const HTTP_STATUS = {
  ERR_VALIDATION: 400,
  ERR_INVALID_ARGUMENT: 400,
  ERR_CONSENT: 403,
  ERR_NOT_FOUND: 404,
  ERR_QUEUE_FULL: 503,
  ERR_CLOSED: 503,
}

/**
 * Middleware tracking one `http_request` event per request when the response
 * finishes: method, path (the matched route when there is one), status, duration_ms.
 * The user comes from `options.userId(req)`, else `options.anonymousId(req)` (default:
 * the `x-anonymous-id` header, else the client IP). A tracking failure never fails
 * the request: it goes to `options.onError` (default: ignored).
 */
function track(analytics, options = {}) {
  const {
    event = 'http_request',
    userId = (req) => (req.user && req.user.id != null ? String(req.user.id) : undefined),
    anonymousId = (req) => req.get('x-anonymous-id') || req.ip || 'unknown',
    properties = () => ({}),
    skip = () => false,
    onError = () => {},
  } = options
  return function churnlensTrack(req, res, next) {
    if (skip(req)) return next()
    const started = process.hrtime.bigint()
    res.on('finish', () => {
      try {
        const durationMs = Number(process.hrtime.bigint() - started) / 1e6
        const route = req.route && req.route.path ? req.baseUrl + req.route.path : undefined
        const uid = userId(req)
        analytics.track(event, {
          userId: uid,
          anonymousId: uid == null ? anonymousId(req) : undefined,
          properties: {
            method: req.method,
            path: req.originalUrl.split('?')[0],
            route,
            status: res.statusCode,
            duration_ms: Math.round(durationMs * 1000) / 1000,
            ...properties(req, res),
          },
          context: {
            path: req.originalUrl.split('?')[0],
            referrer: req.get('referer'),
            userAgent: req.get('user-agent'),
            ip: req.ip,
          },
        })
      } catch (e) {
        onError(e, req)
      }
    })
    next()
  }
}

/** Query string to analysis options: from / to (ISO or epoch ms), period, top, ... */
function queryOptions(q) {
  const o = {}
  if (q.from || q.to) {
    o.range = {}
    if (q.from) o.range.from = /^\d+$/.test(q.from) ? Number(q.from) : q.from
    if (q.to) o.range.to = /^\d+$/.test(q.to) ? Number(q.to) : q.to
  }
  if (q.period) o.period = String(q.period)
  for (const k of ['top', 'periods', 'maxGapMs', 'cac']) if (q[k] != null) o[k] = Number(q[k])
  for (const k of ['mode', 'currency']) if (q[k] != null) o[k] = String(q[k])
  return o
}

/**
 * An Express router serving the analyses as JSON: GET /active-users, /sessions,
 * /retention, /revenue (query: from, to, period, ...). Errors answer
 * `{ error: { code, message } }` with 400 / 404 / 503 / 500 by code.
 */
function readApi(analytics, options = {}) {
  const express = options.express || require('express')
  const router = express.Router()
  const routes = {
    '/active-users': (o) => analytics.activeUsers(o),
    '/sessions': (o) => analytics.sessions(o),
    '/retention': (o) => analytics.retention(o),
    '/revenue': (o) => analytics.revenue(o),
  }
  for (const [path, run] of Object.entries(routes)) {
    router.get(path, (req, res) => {
      run(queryOptions(req.query)).then(
        (report) => res.json(report),
        (e) => {
          const code = (e && e.code) || 'ERR_INTERNAL'
          res.status(HTTP_STATUS[code] || 500).json({ error: { code, message: String(e && e.message) } })
        },
      )
    })
  }
  return router
}

module.exports = { track, readApi, queryOptions }
