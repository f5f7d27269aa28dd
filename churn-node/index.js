'use strict'
// churnlens for Node.js: the native addon (native.js, built from churn-node/src with
// napi-rs) plus the error classes. Methods are the addon's own; this file only makes
// their errors instances of ChurnError subclasses, and makes the Promise-returning
// methods reject (never throw) on bad input.
const native = require('./native.js')
const errors = require('./errors.js')
const columns = require('./decode.js')

const { fromNative } = errors

/** Methods that return a Promise: a synchronous failure becomes a rejection. */
const ASYNC = new Set([
  'flush', 'close', 'importFile', 'setConsent', 'exportUser', 'deleteUser',
  'anonymizeUser', 'purgeBefore', 'trainChurnModel', 'scoreChurn', 'explainChurn',
  'activeUsers', 'sessions', 'retention', 'revenue', 'engineMemory',
  'timeAnalysisInRust', 'funnel', 'paths', 'userProfile', 'segmentMembers', 'segmentStats',
  'createSegment', 'listSegments', 'deleteSegment',
])

/** Native class -> exported subclass, so results of factories and tasks are instances
 *  of the exported classes too. */
const exported = new Map()

function adopt(r) {
  if (r !== null && typeof r === 'object') {
    const W = exported.get(Object.getPrototypeOf(r))
    if (W) Object.setPrototypeOf(r, W.prototype)
  }
  return r
}

/** An async result: columns (an ArrayBuffer, see decode.js) or an already parsed value. */
function settle(r) {
  return r instanceof ArrayBuffer ? columns.decode(r) : adopt(r)
}

function wrap(f, name, isAsync) {
  const wrapped = isAsync
    ? function (...args) {
        try {
          return f.apply(this, args).then(settle, (e) => Promise.reject(fromNative(e)))
        } catch (e) {
          return Promise.reject(fromNative(e))
        }
      }
    : function (...args) {
        try {
          return adopt(f.apply(this, args))
        } catch (e) {
          throw fromNative(e)
        }
      }
  Object.defineProperty(wrapped, 'name', { value: name })
  return wrapped
}

function wrapClass(C) {
  for (const name of Object.getOwnPropertyNames(C.prototype)) {
    const d = Object.getOwnPropertyDescriptor(C.prototype, name)
    if (name === 'constructor' || typeof d.value !== 'function') continue
    Object.defineProperty(C.prototype, name, { ...d, value: wrap(d.value, name, ASYNC.has(name)) })
  }
  const W = class extends C {
    constructor(...args) {
      try {
        super(...args)
      } catch (e) {
        throw fromNative(e)
      }
    }
  }
  Object.defineProperty(W, 'name', { value: C.name })
  for (const name of Object.getOwnPropertyNames(C)) {
    if (typeof C[name] === 'function' && !(name in Function)) {
      Object.defineProperty(W, name, { value: wrap(C[name].bind(C), name, false), writable: true, configurable: true })
    }
  }
  exported.set(C.prototype, W)
  return W
}

const Analytics = wrapClass(native.Analytics)

// trackBatch sends the batch as JSON text: V8's JSON.stringify is far faster than
// reading each property through N-API. NaN / Infinity and invalid Dates must stay
// errors (JSON writes them as null), but a replacer function takes V8 off its fast
// serializer (several times slower), so the batch is serialized without one first and
// only a text that contains `null` somewhere (a real null, or one of those) is
// serialized again with the checking replacer.
const trackBatchNative = native.Analytics.prototype.trackBatch
function finite(key, value) {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new errors.ValidationError(`validation failed: messages: ${key} must be a finite number, got ${value}`)
  }
  if (value === null && this[key] instanceof Date) {
    throw new errors.ValidationError(`validation failed: messages: ${key} is an invalid Date`)
  }
  return value
}
Object.defineProperty(native.Analytics.prototype, 'trackBatch', {
  ...Object.getOwnPropertyDescriptor(native.Analytics.prototype, 'trackBatch'),
  value: function trackBatch(messages) {
    if (!Array.isArray(messages)) return trackBatchNative.call(this, messages)
    let text
    try {
      text = JSON.stringify(messages)
      if (text.includes('null')) text = JSON.stringify(messages, finite)
    } catch (e) {
      if (e instanceof errors.ChurnError) throw e
      // A cycle or a BigInt.
      throw new errors.ValidationError(`validation failed: messages: ${e.message}`)
    }
    return trackBatchNative.call(this, text)
  },
})
const ChurnModel = wrapClass(native.ChurnModel)

module.exports = { ...errors, Analytics, ChurnModel }
delete module.exports.fromNative
