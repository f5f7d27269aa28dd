import type { Analytics } from './index'

/** The parts of Express's request / response the middleware reads. */
export interface RequestLike {
  method: string
  originalUrl: string
  baseUrl: string
  ip?: string
  route?: { path?: string }
  user?: { id?: unknown }
  get(name: string): string | undefined
}
export interface ResponseLike {
  statusCode: number
  on(event: 'finish', listener: () => void): unknown
}
export type Middleware = (req: any, res: any, next: (err?: unknown) => void) => void

export interface TrackOptions {
  /** Event name (default `http_request`). */
  event?: string
  /** The signed-in user (default `req.user?.id`). */
  userId?: (req: RequestLike) => string | undefined
  /** Used when there is no user (default: `x-anonymous-id` header, else the IP). */
  anonymousId?: (req: RequestLike) => string | undefined
  /** Extra event properties. */
  properties?: (req: RequestLike, res: ResponseLike) => Record<string, unknown>
  /** Requests not to track. */
  skip?: (req: RequestLike) => boolean
  /** Called when tracking fails (the request is never failed). */
  onError?: (error: unknown, req: RequestLike) => void
}

/** Track one event per request (method, path, route, status, duration_ms). */
export declare function track(analytics: Analytics, options?: TrackOptions): Middleware
/** A router serving GET /active-users, /sessions, /retention, /revenue as JSON. */
export declare function readApi(analytics: Analytics, options?: { express?: unknown }): Middleware
/** Query string to analysis options. */
export declare function queryOptions(query: Record<string, unknown>): Record<string, unknown>
