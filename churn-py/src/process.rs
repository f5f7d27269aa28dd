//! The churn-core objects behind one `Analytics` in one process: the settings to
//! (re)build them ([`Config`]; a forked child rebuilds from it) and the tracker with its
//! lazily loaded query engine ([`Core`]).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use churn_core::engine::Engine;
use churn_core::privacy::PrivacyPolicy;
use churn_core::tracker::Backpressure;
use parking_lot::Mutex;

/// What is needed to (re)build the core tracker.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) path: Option<String>,
    pub(crate) project: String,
    pub(crate) batch_size: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) backpressure: Backpressure,
    pub(crate) privacy: PrivacyPolicy,
}

impl Config {
    pub(crate) fn build(&self) -> churn_core::Result<churn_core::Analytics> {
        let b = churn_core::Analytics::builder();
        let b = match &self.path {
            Some(p) => b.path(p),
            None => b.in_memory(),
        };
        b.project(self.project.clone())
            .batch_size(self.batch_size)
            .flush_interval(self.flush_interval)
            .queue_capacity(self.queue_capacity)
            .backpressure(self.backpressure)
            .privacy(self.privacy.clone())
            .build()
    }
}

/// One process's core objects.
pub(crate) struct Core {
    pub(crate) pid: u32,
    pub(crate) tracker: churn_core::Analytics,
    engine: Mutex<Option<Arc<Engine>>>,
    pub(crate) closed: AtomicBool,
}

impl Core {
    pub(crate) fn new(cfg: &Config) -> churn_core::Result<Core> {
        Ok(Core {
            pid: std::process::id(),
            tracker: cfg.build()?,
            engine: Mutex::new(None),
            closed: AtomicBool::new(false),
        })
    }

    /// The engine, loaded on first use, with every accepted event stored and merged.
    pub(crate) fn engine(&self) -> churn_core::Result<Arc<Engine>> {
        self.tracker.flush()?;
        let mut slot = self.engine.lock();
        if let Some(e) = slot.as_ref() {
            e.refresh()?;
            return Ok(e.clone());
        }
        let e = Arc::new(Engine::load(
            self.tracker.store().clone(),
            self.tracker.project(),
        )?);
        *slot = Some(e.clone());
        Ok(e)
    }
}
