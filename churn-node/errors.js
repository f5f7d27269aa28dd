'use strict'
// Error classes of churnlens: one per churn-core error code (`Error::code()`), all
// extending ChurnError. The native addon reports a core error as
// "[ERR_CODE] message"; `fromNative` turns that into an instance of the matching class.

class ChurnError extends Error {
  constructor(message, code = 'ERR_CHURN', options) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

const CODES = {
  ERR_VALIDATION: 'ValidationError',
  ERR_INVALID_ARGUMENT: 'InvalidArgumentError',
  ERR_CONSENT: 'ConsentError',
  ERR_STORAGE: 'StorageError',
  ERR_SCHEMA_TOO_NEW: 'SchemaTooNewError',
  ERR_NOT_A_STORE: 'NotAStoreError',
  ERR_NOT_FOUND: 'NotFoundError',
  ERR_QUEUE_FULL: 'QueueFullError',
  ERR_CLOSED: 'ClosedError',
  ERR_IO: 'IoError',
  ERR_MODEL: 'ModelError',
  ERR_MODEL_VERSION: 'ModelVersionError',
  ERR_SCHEMA_MISMATCH: 'SchemaMismatchError',
}

const classes = { ChurnError }
const byCode = {}
for (const [code, name] of Object.entries(CODES)) {
  // A named class per code, so `err.name` and stack traces say what failed.
  const C = {
    [name]: class extends ChurnError {
      constructor(message, options) {
        super(message, code, options)
      }
    },
  }[name]
  classes[name] = C
  byCode[code] = C
}

const PREFIX = /^\[(ERR_[A-Z_]+)\] ([\s\S]*)$/

/** Turn an error thrown by the addon into a ChurnError subclass (others: unchanged). */
function fromNative(e) {
  if (!(e instanceof Error) || e instanceof ChurnError) return e
  const m = PREFIX.exec(e.message)
  if (m && byCode[m[1]]) return new byCode[m[1]](m[2])
  // napi's own argument checks (a number where a string is expected, a missing
  // argument, a wrong `this`): the caller passed a wrong type.
  return new classes.InvalidArgumentError(e.message, { cause: e })
}

module.exports = { ...classes, CODES, fromNative }
