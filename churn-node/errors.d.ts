/** Every churnlens error: `code` is churn-core's `Error::code()`. */
export declare class ChurnError extends Error {
  constructor(message: string, code?: string, options?: ErrorOptions)
  readonly code: string
}
export declare class ValidationError extends ChurnError { readonly code: 'ERR_VALIDATION' }
export declare class InvalidArgumentError extends ChurnError { readonly code: 'ERR_INVALID_ARGUMENT' }
export declare class ConsentError extends ChurnError { readonly code: 'ERR_CONSENT' }
export declare class StorageError extends ChurnError { readonly code: 'ERR_STORAGE' }
export declare class SchemaTooNewError extends ChurnError { readonly code: 'ERR_SCHEMA_TOO_NEW' }
export declare class NotAStoreError extends ChurnError { readonly code: 'ERR_NOT_A_STORE' }
export declare class NotFoundError extends ChurnError { readonly code: 'ERR_NOT_FOUND' }
export declare class QueueFullError extends ChurnError { readonly code: 'ERR_QUEUE_FULL' }
export declare class ClosedError extends ChurnError { readonly code: 'ERR_CLOSED' }
export declare class IoError extends ChurnError { readonly code: 'ERR_IO' }
export declare class ModelError extends ChurnError { readonly code: 'ERR_MODEL' }
export declare class ModelVersionError extends ChurnError { readonly code: 'ERR_MODEL_VERSION' }
export declare class SchemaMismatchError extends ChurnError { readonly code: 'ERR_SCHEMA_MISMATCH' }
/** Error code to class name. */
export declare const CODES: Record<string, string>
