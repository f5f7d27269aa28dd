//! Churn models behind the server: training as a background job on a blocking thread,
//! the latest scoring run per project (with reasons), and the users who entered the
//! Critical segment since the previous run (alerts).
//!
//! A training run reads the project into a churn [`EventTable`], labels customers as of
//! `as_of - horizon` (default: now - 30 days), fits a calibrated logistic regression,
//! saves it in the [`ModelRegistry`] under the name `churn`, then scores every customer
//! active in the lookback window before `as_of` (default: now). The scoring run is kept
//! in memory and in the store (namespace [`SCORES_NAMESPACE`], key `latest`), so a
//! restart keeps it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::churn::{
    explain_row, labelled_at, EventTable, FeatureConfig, LabelConfig, LogisticParams,
    ModelRegistry, RiskSegment, RiskThresholds, TrainConfig, TrainedModel, TrainingState,
    TrainingStatus,
};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::time::{Timestamp, DAY_MS};

/// The registry name of the server's model.
pub const MODEL_NAME: &str = "churn";
/// The object namespace of the latest scoring run.
pub const SCORES_NAMESPACE: &str = "churn_scores";
/// Reasons kept per scored user.
pub const REASONS_PER_USER: usize = 3;

/// One reason a user scored high: a feature pushing the score up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// Feature name (`days_since_last_event`, ...).
    pub feature: String,
    /// The user's value of it.
    pub value: f64,
    /// Its contribution to the raw log-odds.
    pub contribution: f64,
}

/// One user's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredUser {
    /// The user (person).
    pub user_id: String,
    /// Calibrated churn probability.
    pub probability: f64,
    /// Risk segment.
    pub segment: RiskSegment,
    /// The features raising the score most (up to [`REASONS_PER_USER`]).
    pub reasons: Vec<Reason>,
}

/// A scoring run: every user active in the lookback window before `as_of`, highest
/// probability first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRun {
    /// Model name.
    pub model: String,
    /// Model version in the registry.
    pub version: u32,
    /// Features use events before this time.
    pub as_of: Timestamp,
    /// When the run finished.
    pub scored_at: Timestamp,
    /// Users per segment (every segment listed).
    pub segments: BTreeMap<RiskSegment, u64>,
    /// Scores, highest probability first.
    pub users: Vec<ScoredUser>,
}

/// Options of a training run (`POST /api/churn/train` body, all optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainOptions {
    /// Score as of this time (default: now); labels use `as_of - horizon_days`.
    pub as_of: Option<Timestamp>,
    /// Churn horizon in days (default 30).
    pub horizon_days: Option<u32>,
    /// Lookback window in days (default 90).
    pub lookback_days: Option<u32>,
}

/// Train, save and score `project` (blocking). Returns the run and the model.
pub fn train_and_score(
    store: &dyn Store,
    project: &str,
    opts: &TrainOptions,
) -> Result<(ScoreRun, TrainedModel)> {
    let mut labels = LabelConfig::default();
    if let Some(h) = opts.horizon_days {
        labels = labels.horizon_days(h);
    }
    if let Some(l) = opts.lookback_days {
        labels = labels.lookback_days(l);
    }
    let as_of = opts.as_of.unwrap_or_else(Timestamp::now);
    let cfg = FeatureConfig::default();
    let table = EventTable::from_store(store, project, &cfg)?;
    if table.is_empty() {
        return Err(Error::model("the project has no events to learn from"));
    }
    let cfg = cfg.resolved_for(&table);
    let label_at = as_of.add_millis(-(labels.horizon_days as i64) * DAY_MS);
    let ds = labelled_at(&table, label_at, &cfg, &labels)?;
    let model = TrainedModel::train_logistic(
        MODEL_NAME,
        &ds,
        &cfg,
        &TrainConfig::default(),
        &LogisticParams::default(),
    )?;
    let version = ModelRegistry::new(store, project).save(&model)?;
    let run = score(&model, version, &table, as_of, &labels)?;
    Ok((run, model))
}

/// Score every customer of `table` active in the lookback window before `as_of`.
pub fn score(
    model: &TrainedModel,
    version: u32,
    table: &EventTable,
    as_of: Timestamp,
    labels: &LabelConfig,
) -> Result<ScoreRun> {
    let thr = RiskThresholds::default();
    let f = labelled_at(table, as_of, &model.feature_config, labels)?.features;
    let mut users = Vec::with_capacity(f.customers.len());
    for row in 0..f.customers.len() {
        let e = explain_row(model, &f, row, REASONS_PER_USER, &thr)?;
        users.push(ScoredUser {
            user_id: e.customer_id,
            probability: e.probability,
            segment: e.segment,
            reasons: e
                .top_up
                .into_iter()
                .map(|c| Reason {
                    feature: c.feature,
                    value: c.value,
                    contribution: c.contribution,
                })
                .collect(),
        });
    }
    users.sort_by(|a, b| {
        b.probability
            .total_cmp(&a.probability)
            .then_with(|| a.user_id.cmp(&b.user_id))
    });
    let mut segments: BTreeMap<RiskSegment, u64> = [
        RiskSegment::Low,
        RiskSegment::Medium,
        RiskSegment::High,
        RiskSegment::Critical,
    ]
    .into_iter()
    .map(|s| (s, 0))
    .collect();
    for u in &users {
        *segments.entry(u.segment).or_default() += 1;
    }
    Ok(ScoreRun {
        model: model.name.clone(),
        version,
        as_of,
        scored_at: Timestamp::now(),
        segments,
        users,
    })
}

/// Users Critical in `new` and not Critical in `old` (all Critical ones when there is
/// no previous run).
pub fn entered_critical(old: Option<&ScoreRun>, new: &ScoreRun) -> Vec<ScoredUser> {
    let before: HashMap<&str, RiskSegment> = old
        .map(|o| {
            o.users
                .iter()
                .map(|u| (u.user_id.as_str(), u.segment))
                .collect()
        })
        .unwrap_or_default();
    new.users
        .iter()
        .filter(|u| {
            u.segment == RiskSegment::Critical
                && before.get(u.user_id.as_str()) != Some(&RiskSegment::Critical)
        })
        .cloned()
        .collect()
}

#[derive(Default)]
struct ProjectChurn {
    status: Option<TrainingStatus>,
    running: bool,
    run: Option<Arc<ScoreRun>>,
}

/// Training status and latest scores of every project.
#[derive(Default)]
pub struct ChurnJobs {
    projects: Mutex<HashMap<String, Arc<RwLock<ProjectChurn>>>>,
}

impl std::fmt::Debug for ChurnJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChurnJobs").finish_non_exhaustive()
    }
}

fn status(state: TrainingState, version: Option<u32>, message: Option<String>) -> TrainingStatus {
    TrainingStatus {
        name: MODEL_NAME.into(),
        state,
        version,
        message,
        updated_at: Timestamp::now(),
    }
}

impl ChurnJobs {
    fn slot(&self, project: &str) -> Arc<RwLock<ProjectChurn>> {
        self.projects
            .lock()
            .entry(project.to_string())
            .or_default()
            .clone()
    }

    /// Mark a run as started; `false` when one is already running.
    pub fn begin(&self, store: &dyn Store, project: &str) -> Result<bool> {
        let slot = self.slot(project);
        let mut p = slot.write();
        if p.running {
            return Ok(false);
        }
        p.running = true;
        let st = status(TrainingState::Running, None, None);
        ModelRegistry::new(store, project).set_status(&st)?;
        p.status = Some(st);
        Ok(true)
    }

    /// Record the end of a run; returns the users who entered Critical.
    pub fn finish(
        &self,
        store: &dyn Store,
        project: &str,
        result: Result<ScoreRun>,
    ) -> Result<Vec<ScoredUser>> {
        // An unreadable previous run must not leave the job marked as running.
        let old = self.latest(store, project).ok().flatten();
        let slot = self.slot(project);
        let mut p = slot.write();
        p.running = false;
        let reg = ModelRegistry::new(store, project);
        match result {
            Ok(run) => {
                let entered = entered_critical(old.as_deref(), &run);
                let bytes = serde_json::to_vec(&run).map_err(|e| Error::storage(e.to_string()))?;
                store.put_object(project, SCORES_NAMESPACE, "latest", &bytes)?;
                let st = status(
                    TrainingState::Succeeded,
                    Some(run.version),
                    Some(format!("scored {} users", run.users.len())),
                );
                reg.set_status(&st)?;
                p.status = Some(st);
                p.run = Some(Arc::new(run));
                Ok(entered)
            }
            Err(e) => {
                let st = status(TrainingState::Failed, None, Some(e.to_string()));
                reg.set_status(&st)?;
                p.status = Some(st);
                Ok(Vec::new())
            }
        }
    }

    /// The last training status (from memory, else the store).
    pub fn status(&self, store: &dyn Store, project: &str) -> Result<Option<TrainingStatus>> {
        if let Some(s) = self.slot(project).read().status.clone() {
            return Ok(Some(s));
        }
        ModelRegistry::new(store, project).status(MODEL_NAME)
    }

    /// The latest scoring run (from memory, else the store).
    pub fn latest(&self, store: &dyn Store, project: &str) -> Result<Option<Arc<ScoreRun>>> {
        let slot = self.slot(project);
        if let Some(r) = slot.read().run.clone() {
            return Ok(Some(r));
        }
        let Some(bytes) = store.get_object(project, SCORES_NAMESPACE, "latest")? else {
            return Ok(None);
        };
        let run: ScoreRun = serde_json::from_slice(&bytes)
            .map_err(|e| Error::storage(format!("stored churn scores are unreadable: {e}")))?;
        let run = Arc::new(run);
        slot.write().run = Some(run.clone());
        Ok(Some(run))
    }

    /// Forget a user's score (after `DELETE /api/users/{id}`).
    pub fn forget_user(&self, store: &dyn Store, project: &str, user_id: &str) -> Result<()> {
        let Some(run) = self.latest(store, project)? else {
            return Ok(());
        };
        if !run.users.iter().any(|u| u.user_id == user_id) {
            return Ok(());
        }
        let mut run = (*run).clone();
        run.users.retain(|u| u.user_id != user_id);
        for n in run.segments.values_mut() {
            *n = 0;
        }
        for u in &run.users {
            *run.segments.entry(u.segment).or_default() += 1;
        }
        let bytes = serde_json::to_vec(&run).map_err(|e| Error::storage(e.to_string()))?;
        store.put_object(project, SCORES_NAMESPACE, "latest", &bytes)?;
        self.slot(project).write().run = Some(Arc::new(run));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, seg: RiskSegment) -> ScoredUser {
        ScoredUser {
            user_id: id.into(),
            probability: 0.5,
            segment: seg,
            reasons: vec![],
        }
    }

    fn run(users: Vec<ScoredUser>) -> ScoreRun {
        ScoreRun {
            model: "m".into(),
            version: 1,
            as_of: Timestamp::from_millis(0),
            scored_at: Timestamp::from_millis(0),
            segments: BTreeMap::new(),
            users,
        }
    }

    #[test]
    fn who_entered_critical() {
        use RiskSegment::*;
        let old = run(vec![user("a", Critical), user("b", High)]);
        let new = run(vec![
            user("a", Critical),
            user("b", Critical),
            user("c", Critical),
            user("d", Low),
        ]);
        let ids = |v: Vec<ScoredUser>| v.into_iter().map(|u| u.user_id).collect::<Vec<_>>();
        assert_eq!(ids(entered_critical(Some(&old), &new)), vec!["b", "c"]);
        assert_eq!(ids(entered_critical(None, &new)), vec!["a", "b", "c"]);
    }
}
