//! Analyses (the core's `Engine`): each method reads its options into the core's
//! request struct, flushes the tracker, loads the engine once (refreshing it on later
//! calls) and resolves with the core's report as a plain object.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde::de::DeserializeOwned;
use serde::Serialize;

use churn_core::engine::{
    ActiveUsersRequest, Engine, FunnelRequest, PathsRequest, ProfileRequest, RetentionRequest,
    RevenueRequest, SessionsRequest,
};
use churn_core::Error;

use crate::analytics::Analytics;
use crate::convert::{self, JsonTask};

type EngineSlot = Mutex<Option<Arc<Engine>>>;

/// Flush, then the cached engine refreshed, or a freshly loaded one.
fn engine_for(inner: &churn_core::Analytics, slot: &EngineSlot) -> churn_core::Result<Arc<Engine>> {
    inner.flush()?;
    let mut slot = slot
        .lock()
        .map_err(|_| Error::storage("the engine lock is poisoned"))?;
    match &*slot {
        Some(e) => {
            e.refresh()?;
            Ok(e.clone())
        }
        None => {
            let e = Arc::new(Engine::load(inner.store().clone(), inner.project())?);
            *slot = Some(e.clone());
            Ok(e)
        }
    }
}

impl Analytics {
    /// The engine over this instance's store, loaded on first use, refreshed after.
    pub(crate) fn engine_job(&self) -> impl FnOnce() -> churn_core::Result<Arc<Engine>> + Send {
        let inner = self.inner.clone();
        let slot = self.engine.clone();
        move || engine_for(&inner, &slot)
    }

    fn analysis<Q, R>(
        &self,
        env: &Env,
        options: Option<Unknown>,
        run: fn(&Engine, &Q) -> churn_core::Result<R>,
    ) -> napi::Result<AsyncTask<JsonTask>>
    where
        Q: DeserializeOwned + Default + Send + 'static,
        R: Serialize + 'static,
    {
        self.ensure_open()?;
        let req: Q = convert::options(env, options, "options")?;
        let engine = self.engine_job();
        Ok(convert::task(move || run(&*engine()?, &req)))
    }
}

#[napi]
impl Analytics {
    /// DAU / WAU / MAU per period, rolling WAU_7 / MAU_30, stickiness, new vs returning.
    /// Options: `range: { from, to }`, `period` (`'day'` | `'week'` | `'month'`), `active`.
    #[napi(
        ts_args_type = "options?: ActiveUsersOptions",
        ts_return_type = "Promise<ActiveUsersReport>"
    )]
    pub fn active_users(
        &self,
        env: Env,
        options: Option<Unknown>,
    ) -> napi::Result<AsyncTask<JsonTask>> {
        self.analysis::<ActiveUsersRequest, _>(&env, options, Engine::active_users)
    }

    /// Sessions (30-minute gap by default): counts, durations, sources, top pages.
    /// Options: `range`, `period`, `active`, `maxGapMs`, `top`.
    #[napi(
        ts_args_type = "options?: SessionsOptions",
        ts_return_type = "Promise<SessionsReport>"
    )]
    pub fn sessions(
        &self,
        env: Env,
        options: Option<Unknown>,
    ) -> napi::Result<AsyncTask<JsonTask>> {
        self.analysis::<SessionsRequest, _>(&env, options, Engine::sessions)
    }

    /// Cohort retention (first-time or recurring). Options: `range`, `period`, `mode`,
    /// `start`, `returning`, `periods`.
    #[napi(
        ts_args_type = "options?: RetentionOptions",
        ts_return_type = "Promise<RetentionReport>"
    )]
    pub fn retention(
        &self,
        env: Env,
        options: Option<Unknown>,
    ) -> napi::Result<AsyncTask<JsonTask>> {
        self.analysis::<RetentionRequest, _>(&env, options, Engine::retention)
    }

    /// Revenue, ARPU / ARPPU, churn rate, LTV per period. Options: `range`, `period`,
    /// `currency`, `revenueEvents`, `active`, `subscription`, `signupEvent`, `cac`.
    #[napi(
        ts_args_type = "options?: RevenueOptions",
        ts_return_type = "Promise<RevenueReport>"
    )]
    pub fn revenue(&self, env: Env, options: Option<Unknown>) -> napi::Result<AsyncTask<JsonTask>> {
        self.analysis::<RevenueRequest, _>(&env, options, Engine::revenue)
    }

    /// Funnel conversion. Options: `steps` (`[{ event, filters? }]`), `range`,
    /// `windowMs`, `mode` (`'ordered'` | `'strict'` | `'unordered'`), `exclusions`,
    /// `breakdown`, `userLimit`, `segment`.
    #[napi(
        ts_args_type = "options: FunnelOptions",
        ts_return_type = "Promise<FunnelReport>"
    )]
    pub fn funnel(&self, env: Env, options: Option<Unknown>) -> napi::Result<AsyncTask<JsonTask>> {
        self.analysis::<FunnelRequest, _>(&env, options, Engine::funnel)
    }

    /// Paths after (or before) an event as a Sankey graph. Options: `event`, `page`,
    /// `direction`, `depth`, `top`, `pages`, `range`, `active`, `segment`.
    #[napi(
        ts_args_type = "options?: PathsOptions",
        ts_return_type = "Promise<PathsReport>"
    )]
    pub fn paths(&self, env: Env, options: Option<Unknown>) -> napi::Result<AsyncTask<JsonTask>> {
        self.analysis::<PathsRequest, _>(&env, options, Engine::paths)
    }

    /// One person's profile: `userProfile('u1')` or `userProfile({ userId, asOf, config })`.
    #[napi(
        ts_args_type = "user: string | ProfileOptions",
        ts_return_type = "Promise<UserProfile>"
    )]
    pub fn user_profile(&self, env: Env, user: Unknown) -> napi::Result<AsyncTask<JsonTask>> {
        let options = if user.get_type()? == ValueType::String {
            let id = convert::to_json(&env, &user, "userId")?;
            let req: ProfileRequest =
                convert::from_value(serde_json::json!({ "user_id": id }), "userId")?;
            self.ensure_open()?;
            let engine = self.engine_job();
            return Ok(convert::task(move || engine()?.user_profile(&req)));
        } else {
            Some(user)
        };
        self.analysis::<ProfileRequest, _>(&env, options, Engine::user_profile)
    }

    /// Memory held by the engine's view (loads it when needed).
    #[napi(ts_return_type = "Promise<MemoryUsage>")]
    pub fn engine_memory(&self) -> napi::Result<AsyncTask<JsonTask>> {
        self.ensure_open()?;
        let engine = self.engine_job();
        Ok(convert::task(move || Ok(engine()?.memory_usage())))
    }
}

/// Wall and CPU time of an analysis measured inside Rust (benchmark support).
#[derive(serde::Serialize)]
struct Timing {
    runs: u32,
    /// Median wall time per run, milliseconds.
    median_ms: f64,
    /// Median CPU time of the thread that ran it, milliseconds (NaN where unknown).
    cpu_ms: f64,
    /// When the first run started and the last one ended on the monotonic clock
    /// `process.hrtime` reads (milliseconds; NaN where unknown): with the JavaScript
    /// side's own readings they split the thread hop into the way there and back.
    start_ms: f64,
    end_ms: f64,
    /// Whether this addon was built without optimizations (a debug build's analyses
    /// run ~10x slower, which hides the per-call cost the benchmark measures).
    debug_build: bool,
}

/// `CLOCK_MONOTONIC` in milliseconds, the clock of libuv's `uv_hrtime` (NaN off Unix).
fn monotonic_ms() -> f64 {
    #[cfg(unix)]
    return clock_ms(libc::CLOCK_MONOTONIC);
    #[cfg(not(unix))]
    f64::NAN
}

/// CPU time of the calling thread in milliseconds (NaN off Unix).
fn thread_cpu_ms() -> f64 {
    #[cfg(unix)]
    return clock_ms(libc::CLOCK_THREAD_CPUTIME_ID);
    #[cfg(not(unix))]
    f64::NAN
}

/// `clock` read in milliseconds (NaN when it cannot be read).
#[cfg(unix)]
fn clock_ms(clock: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a clock id from libc and a valid out pointer.
    if unsafe { libc::clock_gettime(clock, &mut ts) } == 0 {
        ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
    } else {
        f64::NAN
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

#[napi]
impl Analytics {
    /// Benchmark support for `bench/track.mjs`: run the analysis `name` (`activeUsers`,
    /// `sessions`, `retention`, `revenue`; `refresh`: no analysis) `runs` times on the
    /// thread pool, timing each run inside Rust, and resolve with the medians of the
    /// wall time and of the thread's CPU time. Each run does what a Rust program reading
    /// its own writes does through churn-core (`Analytics::flush`, `Engine::refresh`, the
    /// analysis returning its report struct), i.e. a Node call without the binding's own
    /// work (options read, thread hop, report to columns, their decode in `decode.js`).
    /// `debug_build` says whether the addon was built without optimizations.
    #[napi(
        ts_args_type = "name: 'activeUsers' | 'sessions' | 'retention' | 'revenue' | 'refresh', options: Record<string, unknown> | undefined, runs: number",
        ts_return_type = "Promise<{ runs: number; median_ms: number; cpu_ms: number; start_ms: number; end_ms: number; debug_build: boolean }>"
    )]
    pub fn time_analysis_in_rust(
        &self,
        env: Env,
        name: String,
        options: Option<Unknown>,
        runs: u32,
    ) -> napi::Result<AsyncTask<JsonTask>> {
        self.ensure_open()?;
        let v = match options {
            Some(o) if !matches!(o.get_type()?, ValueType::Undefined | ValueType::Null) => {
                convert::snake_keys(convert::to_json(&env, &o, "options")?)
            }
            _ => serde_json::json!({}),
        };
        type Run = Box<dyn Fn(&Engine) -> churn_core::Result<()> + Send>;
        fn make<Q, R>(
            v: serde_json::Value,
            f: fn(&Engine, &Q) -> churn_core::Result<R>,
        ) -> napi::Result<Run>
        where
            Q: DeserializeOwned + Send + 'static,
            R: 'static,
        {
            let q: Q = convert::from_value(v, "options")?;
            Ok(Box::new(move |e| {
                f(e, &q).map(std::hint::black_box).map(drop)
            }))
        }
        let run: Run = match name.as_str() {
            "activeUsers" => make::<ActiveUsersRequest, _>(v, Engine::active_users)?,
            "sessions" => make::<SessionsRequest, _>(v, Engine::sessions)?,
            "retention" => make::<RetentionRequest, _>(v, Engine::retention)?,
            "revenue" => make::<RevenueRequest, _>(v, Engine::revenue)?,
            // The flush and refresh every analysis starts with, alone.
            "refresh" => Box::new(|_: &Engine| Ok(())),
            other => {
                return Err(crate::error::invalid(
                    "name",
                    format!("no analysis {other:?}"),
                ))
            }
        };
        let inner = self.inner.clone();
        let slot = self.engine.clone();
        let job = move || {
            let (mut wall, mut cpu) = (Vec::new(), Vec::new());
            let start_ms = monotonic_ms();
            for _ in 0..runs.max(1) {
                let (start, cpu0) = (std::time::Instant::now(), thread_cpu_ms());
                let e = engine_for(&inner, &slot)?;
                run(&e)?;
                cpu.push(thread_cpu_ms() - cpu0);
                wall.push(start.elapsed().as_secs_f64() * 1e3);
            }
            let end_ms = monotonic_ms();
            Ok(Timing {
                runs: wall.len() as u32,
                median_ms: median(wall),
                cpu_ms: median(cpu),
                start_ms,
                end_ms,
                debug_build: cfg!(debug_assertions),
            })
        };
        Ok(convert::task(job))
    }
}
