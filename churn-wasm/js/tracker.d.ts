// Types of churnlens-web's tracker (tracker.js).
export interface PrivacyPolicy {
  pii_keys?: string[];
  pii_mode?: { mode: 'drop' } | { mode: 'hash'; salt: string };
  ip?: 'truncate' | 'drop' | 'keep';
  drop_user_agent?: boolean;
}
export interface ConsentBanner { text?: string; accept?: string; decline?: string }
export interface InitOptions {
  host: string;
  writeKey: string;
  endpoint?: string;
  batchSize?: number;
  flushInterval?: number;
  queueCapacity?: number;
  sessionTimeout?: number;
  autoPageViews?: boolean;
  declarative?: boolean;
  consent?: 'none' | 'required' | 'anonymous';
  consentBanner?: boolean | ConsentBanner;
  respectDoNotTrack?: boolean;
  privacy?: PrivacyPolicy;
  storagePrefix?: string;
  wasmUrl?: string | URL;
  onMessage?: (message: Record<string, unknown>) => void;
}
export interface Stats {
  queued: number; dropped: number; failures: number;
  consent: 'granted' | 'denied' | 'pending'; mode: 'full' | 'anonymous' | 'none';
}
export type Properties = Record<string, unknown>;
export declare const VERSION: string;
export declare function init(options: InitOptions): Promise<Tracker>;
export declare function track(event: string, properties?: Properties): string | undefined;
export declare function page(name?: string, properties?: Properties): string | undefined;
export declare function identify(userId: string, traits?: Properties): string | undefined;
export declare function reset(): void;
export declare function consent(granted: boolean): void;
export declare function flush(options?: { force?: boolean }): Promise<number>;
export declare function stats(): Stats;
export declare function shutdown(): void;
export declare function doNotTrack(): boolean;
export interface Tracker {
  init: typeof init; track: typeof track; page: typeof page; identify: typeof identify;
  reset: typeof reset; consent: typeof consent; flush: typeof flush; stats: typeof stats;
  shutdown: typeof shutdown; doNotTrack: typeof doNotTrack; VERSION: string;
}
declare const tracker: Tracker;
export default tracker;
