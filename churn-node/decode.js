'use strict'
// Rebuilds an async result sent as columns by the native addon (churn-node/src/columnar.rs,
// `columns` in convert.rs): an ArrayBuffer [tag count u32, number count u32, tags u32...,
// padding to 8 bytes, numbers f64...] carrying the strings joined by '\0' (`s`) and the
// object shapes as JSON (`k`). Gives what JSON.parse of serde_json's text would give,
// with one object-literal constructor per shape, compiled once and cached.

const NUM = 0, STR = 1, NULL = 2, TRUE = 3, FALSE = 4, ARR = 5, OBJ = 6

/** shapes JSON -> constructors; key list -> constructor (bounded: shapes are the
 *  structs' field lists, a few per report type). */
const byShapes = new Map()
const byKeys = new Map()
const LIMIT = 512

function compile(keys) {
  const id = JSON.stringify(keys)
  let f = byKeys.get(id)
  if (!f) {
    // Quoted keys, except __proto__ (a literal `"__proto__": v` would set the prototype;
    // JSON.parse makes it an own property, as a computed key does).
    const props = keys.map((k) => (k === '__proto__' ? '["__proto__"]' : JSON.stringify(k)) + ':v()')
    f = new Function('v', 'return {' + props.join(',') + '}')
    if (byKeys.size >= LIMIT) byKeys.clear()
    byKeys.set(id, f)
  }
  return f
}

function constructors(k) {
  let c = byShapes.get(k)
  if (!c) {
    c = JSON.parse(k).map(compile)
    if (byShapes.size >= LIMIT) byShapes.clear()
    byShapes.set(k, c)
  }
  return c
}

// The state of the decode in progress (decoding is synchronous, never re-entered).
let T, F, S, C, ti, fi, si

function val() {
  const t = T[ti++]
  switch (t & 7) {
    case NUM: return F[fi++]
    case STR: return S[si++]
    case NULL: return null
    case TRUE: return true
    case FALSE: return false
    case ARR: {
      const n = t >>> 3
      const a = []
      for (let i = 0; i < n; i++) a.push(val())
      return a
    }
    case OBJ: return C[t >>> 3](val)
    default: {
      const n = t >>> 3
      const o = {}
      for (let i = 0; i < n; i++) {
        const k = S[si++]
        const v = val()
        if (k === '__proto__') {
          Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true })
        } else {
          o[k] = v
        }
      }
      return o
    }
  }
}

/** The value carried by columns `buf` (an ArrayBuffer from the addon). */
function decode(buf) {
  const head = new Uint32Array(buf, 0, 2)
  const nt = head[0]
  T = new Uint32Array(buf, 8, nt)
  F = new Float64Array(buf, (8 + 4 * nt + 7) & ~7, head[1])
  S = buf.s.split('\u0000')
  C = constructors(buf.k)
  ti = fi = si = 0
  try {
    return val()
  } finally {
    T = F = S = C = undefined
  }
}

module.exports = { decode }
