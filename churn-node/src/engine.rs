//! Analyses (the core's `Engine`): each method reads its options into the core's
//! request struct, flushes the tracker, loads the engine once (refreshing it on later
//! calls) and resolves with the core's report as a plain object.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde::de::DeserializeOwned;
use serde::Serialize;

use churn_core::engine::{
    ActiveUsersRequest, Engine, RetentionRequest, RevenueRequest, SessionsRequest,
};
use churn_core::Error;

use crate::analytics::Analytics;
use crate::convert::{self, JsonTask};

impl Analytics {
    /// The engine over this instance's store, loaded on first use, refreshed after.
    pub(crate) fn engine_job(&self) -> impl FnOnce() -> churn_core::Result<Arc<Engine>> + Send {
        let inner = self.inner.clone();
        let slot = self.engine.clone();
        move || {
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
    #[napi(ts_args_type = "options?: ActiveUsersOptions", ts_return_type = "Promise<ActiveUsersReport>")]
    pub fn active_users(&self, env: Env, options: Option<Unknown>) -> napi::Result<AsyncTask<JsonTask>> {
        self.analysis::<ActiveUsersRequest, _>(&env, options, Engine::active_users)
    }

    /// Sessions (30-minute gap by default): counts, durations, sources, top pages.
    /// Options: `range`, `period`, `active`, `maxGapMs`, `top`.
    #[napi(ts_args_type = "options?: SessionsOptions", ts_return_type = "Promise<SessionsReport>")]
    pub fn sessions(&self, env: Env, options: Option<Unknown>) -> napi::Result<AsyncTask<JsonTask>> {
        self.analysis::<SessionsRequest, _>(&env, options, Engine::sessions)
    }

    /// Cohort retention (first-time or recurring). Options: `range`, `period`, `mode`,
    /// `start`, `returning`, `periods`.
    #[napi(ts_args_type = "options?: RetentionOptions", ts_return_type = "Promise<RetentionReport>")]
    pub fn retention(&self, env: Env, options: Option<Unknown>) -> napi::Result<AsyncTask<JsonTask>> {
        self.analysis::<RetentionRequest, _>(&env, options, Engine::retention)
    }

    /// Revenue, ARPU / ARPPU, churn rate, LTV per period. Options: `range`, `period`,
    /// `currency`, `revenueEvents`, `active`, `subscription`, `signupEvent`, `cac`.
    #[napi(ts_args_type = "options?: RevenueOptions", ts_return_type = "Promise<RevenueReport>")]
    pub fn revenue(&self, env: Env, options: Option<Unknown>) -> napi::Result<AsyncTask<JsonTask>> {
        self.analysis::<RevenueRequest, _>(&env, options, Engine::revenue)
    }

    /// Memory held by the engine's view (loads it when needed).
    #[napi(ts_return_type = "Promise<MemoryUsage>")]
    pub fn engine_memory(&self) -> napi::Result<AsyncTask<JsonTask>> {
        self.ensure_open()?;
        let engine = self.engine_job();
        Ok(convert::task(move || Ok(engine()?.memory_usage())))
    }
}
