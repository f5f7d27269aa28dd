// ESM entry of churnlens (the same objects as the CommonJS entry).
import cjs from './index.js'

export const {
  Analytics, ChurnModel, ChurnError, ValidationError, InvalidArgumentError, ConsentError,
  StorageError, SchemaTooNewError, NotAStoreError, NotFoundError, QueueFullError,
  ClosedError, IoError, ModelError, ModelVersionError, SchemaMismatchError, CODES,
} = cjs
export default cjs
