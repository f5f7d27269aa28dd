/**
 * An analytics instance: a tracker writing to a SQLite file (`{ path }`) or to memory
 * (`Analytics.inMemory()`), with the analyses of the core's engine and churn models.
 */
export declare class Analytics {
  /**
   * Open (or create) a SQLite store: `new Analytics({ path: 'events.db' })`.
   * Options: `project`, `batchSize`, `flushIntervalMs`, `queueCapacity`,
   * `backpressure` (`'block'` | `'error'`), `privacy` (the core's privacy policy).
   */
  constructor(options: AnalyticsOptions)
  /** A tracker over a store in memory (tests, demos, short-lived analyses). */
  static inMemory(options?: Omit<AnalyticsOptions, 'path'>): Analytics
  /** The project (tenant) this instance writes to. */
  get project(): string
  /** Whether `close()` was called. */
  get closed(): boolean
  /** Queue counters (queued, stored, dropped, ...). */
  stats(): TrackerStats
  /**
   * Track an event: `track('signup', { userId, properties })` or
   * `track({ event: 'signup', userId, ... })`. Validates and enqueues.
   */
  track(event: string | TrackMessage, fields?: TrackFields): void
  /** Track a page view: `page('/pricing', { userId })` or `page({ name, userId, ... })`. */
  page(name: string | TrackMessage, fields?: TrackFields): void
  /**
   * Set traits and link ids: `identify('u1', { traits, anonymousId })` or
   * `identify({ userId, traits })`.
   */
  identify(userId: string | IdentifyMessage, fields?: IdentifyFields): void
  /** Link `previousId` (an anonymous id or an old user id) to `userId`. */
  alias(userId: string, previousId: string): void
  /**
   * Validate and enqueue many messages (`{ type?, event, userId, ... }`, the Segment
   * shape): bad messages are reported by index, the rest are queued.
   */
  trackBatch(messages: TrackMessage[]): BatchReport
  /** Write everything queued so far to the store. */
  flush(): Promise<void>
  /** Flush and stop; later calls fail with `ERR_CLOSED`. Closing twice is fine. */
  close(): Promise<void>
  /**
   * Import a CSV / NDJSON file into this instance's project. `options` is the core's
   * `ImportOptions` (`format`, `columns: { userId, timestamp, event, amount, ... }`,
   * `defaultEvent`, `batchSize`, ...); the report counts stored, duplicate and
   * rejected rows.
   */
  importFile(path: string, options?: ImportOptions): Promise<ImportReport>
  /** Record consent (`false` refuses the user's later events). */
  setConsent(userId: string, granted: boolean): Promise<void>
  /** Everything stored about a user (GDPR access request). */
  exportUser(userId: string): Promise<UserExport>
  /** Delete a user's events, traits and links (GDPR erasure). */
  deleteUser(userId: string): Promise<DeleteReport>
  /** Replace a user's id by a pseudonym and strip their PII; resolves to the pseudonym. */
  anonymizeUser(userId: string): Promise<string>
  /**
   * Delete every event before `before` (a `Date`, ISO string or epoch ms); resolves
   * to the number deleted.
   */
  purgeBefore(before: DateInput): Promise<number>
  /**
   * Train a churn model on this instance's events: features as of `asOf` (required),
   * labels from the following `labels.horizonDays`. Options: `name`, `asOf`,
   * `labels`, `features`, `train`, `logistic` (the core's configs).
   */
  trainChurnModel(options: TrainOptions): Promise<ChurnModel>
  /** Score every customer with an event before `asOf`, with risk segments. */
  scoreChurn(model: ChurnModel, options: ScoreOptions): Promise<CustomerScore[]>
  /**
   * Explain one tracked customer's score as of `asOf` (`ERR_NOT_FOUND` when they
   * have no event before it).
   */
  explainChurn(model: ChurnModel, customerId: string, options: ScoreOptions): Promise<Explanation>
  /**
   * DAU / WAU / MAU per period, rolling WAU_7 / MAU_30, stickiness, new vs returning.
   * Options: `range: { from, to }`, `period` (`'day'` | `'week'` | `'month'`), `active`.
   */
  activeUsers(options?: ActiveUsersOptions): Promise<ActiveUsersReport>
  /**
   * Sessions (30-minute gap by default): counts, durations, sources, top pages.
   * Options: `range`, `period`, `active`, `maxGapMs`, `top`.
   */
  sessions(options?: SessionsOptions): Promise<SessionsReport>
  /**
   * Cohort retention (first-time or recurring). Options: `range`, `period`, `mode`,
   * `start`, `returning`, `periods`.
   */
  retention(options?: RetentionOptions): Promise<RetentionReport>
  /**
   * Revenue, ARPU / ARPPU, churn rate, LTV per period. Options: `range`, `period`,
   * `currency`, `revenueEvents`, `active`, `subscription`, `signupEvent`, `cac`.
   */
  revenue(options?: RevenueOptions): Promise<RevenueReport>
  /** Memory held by the engine's view (loads it when needed). */
  engineMemory(): Promise<MemoryUsage>
}

/** A trained, calibrated churn model. */
export declare class ChurnModel {
  /**
   * Rebuild a model saved with `serialize()`; a damaged or newer file is an
   * `ERR_MODEL` / `ERR_MODEL_VERSION` error.
   */
  static deserialize(text: string): ChurnModel
  /** The model as versioned JSON text (the core's persistence format). */
  serialize(): string
  /** Name, training window, held-out metrics (when evaluated), training time. */
  get info(): ChurnModelInfo
  /** Score one customer from their transactions (all of one customer) as of `asOf`. */
  predict(transactions: TransactionInput[], options: ScoreOptions): CustomerScore
  /**
   * Explain one customer's score from their transactions: the `top` (default 5)
   * features pushing it up and down.
   */
  explain(transactions: TransactionInput[], options: ScoreOptions): Explanation
}
