//! A model registry in the store: models under namespace `models`, key `name@version`
//! (versions 1, 2, ...), training status under namespace `model_status`, key `name`.

use serde::{Deserialize, Serialize};

use super::model::TrainedModel;
use super::persist::{model_from_json, model_to_json};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::time::Timestamp;

/// Namespace holding saved models.
pub const MODELS_NAMESPACE: &str = "models";
/// Namespace holding training status records.
pub const STATUS_NAMESPACE: &str = "model_status";

/// A saved model's name and version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ModelEntry {
    /// Model name.
    pub name: String,
    /// Version (from 1).
    pub version: u32,
}

/// Where a training run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainingState {
    /// Queued.
    Pending,
    /// Running.
    Running,
    /// Finished; the model was saved.
    Succeeded,
    /// Failed; see the message.
    Failed,
}

/// The last known training status of a model name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingStatus {
    /// Model name.
    pub name: String,
    /// State.
    pub state: TrainingState,
    /// Version saved by the run, when it succeeded.
    pub version: Option<u32>,
    /// Error or progress message.
    pub message: Option<String>,
    /// When this record was written.
    pub updated_at: Timestamp,
}

/// Models kept by name and version in a store project.
///
/// ```
/// # use churn_core::churn::*;
/// # use churn_core::Timestamp;
/// use churn_core::store::{MemoryStore, DEFAULT_PROJECT};
/// # let t0 = Timestamp::from_ymd(2026, 1, 1).unwrap();
/// # let mut rows = Vec::new();
/// # for c in 0..60 { for d in 0..(if c % 2 == 0 { 2 } else { 12 }) {
/// #     rows.push(Transaction::purchase(format!("c{c}"), t0.add_millis(d * 5 * 86_400_000), 5.0)); } }
/// # let cfg = FeatureConfig::default();
/// # let table = EventTable::from_transactions(&rows, &cfg)?;
/// # let ds = labelled_at(&table, t0.add_millis(30 * 86_400_000), &cfg, &LabelConfig::default())?;
/// # let model = TrainedModel::train_logistic("churn", &ds, &cfg, &TrainConfig::default(), &LogisticParams::default())?;
/// let store = MemoryStore::new();
/// let reg = ModelRegistry::new(&store, DEFAULT_PROJECT);
/// assert_eq!(reg.save(&model)?, 1);
/// assert_eq!(reg.save(&model)?, 2);
/// assert_eq!(reg.load_latest("churn")?.1, model);
/// assert_eq!(reg.list()?.len(), 2);
/// # Ok::<(), churn_core::Error>(())
/// ```
pub struct ModelRegistry<'a> {
    store: &'a dyn Store,
    project: String,
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.chars().count() > 200
        || name.contains('@')
        || name.chars().any(char::is_control)
    {
        return Err(Error::invalid(
            "model name",
            format!("{name:?}: 1..=200 characters, no '@' or control characters"),
        ));
    }
    Ok(())
}

fn parse_key(key: &str) -> Option<ModelEntry> {
    let (name, v) = key.rsplit_once('@')?;
    Some(ModelEntry {
        name: name.to_string(),
        version: v.parse().ok()?,
    })
}

impl<'a> ModelRegistry<'a> {
    /// A registry over `store`'s `project`.
    pub fn new(store: &'a dyn Store, project: &str) -> Self {
        ModelRegistry {
            store,
            project: project.to_string(),
        }
    }

    /// Every saved model, sorted by name then version.
    pub fn list(&self) -> Result<Vec<ModelEntry>> {
        let mut v: Vec<ModelEntry> = self
            .store
            .list_objects(&self.project, MODELS_NAMESPACE)?
            .iter()
            .filter_map(|k| parse_key(k))
            .collect();
        v.sort();
        Ok(v)
    }

    /// Versions of one name, ascending.
    pub fn versions(&self, name: &str) -> Result<Vec<u32>> {
        check_name(name)?;
        Ok(self
            .list()?
            .into_iter()
            .filter(|e| e.name == name)
            .map(|e| e.version)
            .collect())
    }

    /// Save `model` under its name as the next version; returns the version.
    pub fn save(&self, model: &TrainedModel) -> Result<u32> {
        check_name(&model.name)?;
        let version = self.versions(&model.name)?.last().map_or(1, |v| v + 1);
        let bytes = model_to_json(model)?;
        self.store.put_object(
            &self.project,
            MODELS_NAMESPACE,
            &format!("{}@{version}", model.name),
            &bytes,
        )?;
        Ok(version)
    }

    /// Load one version.
    pub fn load(&self, name: &str, version: u32) -> Result<TrainedModel> {
        check_name(name)?;
        let bytes = self
            .store
            .get_object(
                &self.project,
                MODELS_NAMESPACE,
                &format!("{name}@{version}"),
            )?
            .ok_or_else(|| Error::NotFound {
                what: format!("model {name}@{version}"),
            })?;
        model_from_json(&bytes)
    }

    /// Load the highest version of `name`, with its version.
    pub fn load_latest(&self, name: &str) -> Result<(u32, TrainedModel)> {
        let v = *self.versions(name)?.last().ok_or_else(|| Error::NotFound {
            what: format!("model {name}"),
        })?;
        Ok((v, self.load(name, v)?))
    }

    /// Record the training status of `status.name`.
    pub fn set_status(&self, status: &TrainingStatus) -> Result<()> {
        check_name(&status.name)?;
        let bytes = serde_json::to_vec(status).map_err(|e| Error::model(format!("status: {e}")))?;
        self.store
            .put_object(&self.project, STATUS_NAMESPACE, &status.name, &bytes)
    }

    /// The last recorded training status of `name`.
    pub fn status(&self, name: &str) -> Result<Option<TrainingStatus>> {
        check_name(name)?;
        match self
            .store
            .get_object(&self.project, STATUS_NAMESPACE, name)?
        {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::model(format!("unreadable training status of {name}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, DEFAULT_PROJECT};

    #[test]
    fn keys_parse_numerically_and_names_are_checked() {
        assert_eq!(
            parse_key("a@b@10"),
            Some(ModelEntry {
                name: "a@b".into(),
                version: 10
            })
        );
        assert_eq!(parse_key("junk"), None);
        let s = MemoryStore::new();
        s.put_object(DEFAULT_PROJECT, MODELS_NAMESPACE, "m@9", b"{}")
            .unwrap();
        s.put_object(DEFAULT_PROJECT, MODELS_NAMESPACE, "m@10", b"{}")
            .unwrap();
        let reg = ModelRegistry::new(&s, DEFAULT_PROJECT);
        assert_eq!(reg.versions("m").unwrap(), vec![9, 10]);
        assert!(matches!(
            reg.load("m", 10).unwrap_err(),
            Error::Model { .. }
        ));
        assert!(matches!(
            reg.load("m", 3).unwrap_err(),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            reg.load_latest("none").unwrap_err(),
            Error::NotFound { .. }
        ));
        assert!(reg.versions("a@b").is_err());
        assert!(reg.versions("").is_err());
        assert_eq!(reg.status("m").unwrap(), None);
        let st = TrainingStatus {
            name: "m".into(),
            state: TrainingState::Failed,
            version: None,
            message: Some("single class".into()),
            updated_at: Timestamp::from_millis(5),
        };
        reg.set_status(&st).unwrap();
        assert_eq!(reg.status("m").unwrap(), Some(st));
    }
}
