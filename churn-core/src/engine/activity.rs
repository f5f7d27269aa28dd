//! [`ActiveDefinition`]: which events make a user "active".

use serde::{Deserialize, Serialize};

use super::intern::Interner;

/// Events that are not user actions and so do not make a user active by default:
/// messages sent *to* the user, and identity / bookkeeping calls.
pub const DEFAULT_NON_INTERACTIVE: &[&str] = &[
    "email_sent",
    "email_delivered",
    "email_bounced",
    "notification_sent",
    "notification_delivered",
    "push_sent",
    "sms_sent",
    "$identify",
    "$create_alias",
    "$set",
    "$groupidentify",
    "$feature_flag_called",
];

/// Which events count as activity (DAU, sessions, retention, churn).
///
/// The default is every event except [`DEFAULT_NON_INTERACTIVE`].
///
/// ```
/// use churn_core::engine::ActiveDefinition;
/// let only = ActiveDefinition::only(["login", "feature_used"]);
/// assert!(only.is_active("login"));
/// assert!(!only.is_active("page_view"));
/// let def = ActiveDefinition::default();
/// assert!(def.is_active("page_view"));
/// assert!(!def.is_active("email_sent"));
/// assert_eq!(
///     serde_json::to_value(&only).unwrap(),
///     serde_json::json!({"only": ["login", "feature_used"]})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActiveDefinition {
    /// Every event except these names.
    AllExcept(Vec<String>),
    /// Only these event names.
    Only(Vec<String>),
}

impl Default for ActiveDefinition {
    fn default() -> Self {
        ActiveDefinition::AllExcept(
            DEFAULT_NON_INTERACTIVE
                .iter()
                .map(|s| s.to_string())
                .collect(),
        )
    }
}

impl ActiveDefinition {
    /// Every event counts.
    pub fn all() -> Self {
        ActiveDefinition::AllExcept(Vec::new())
    }

    /// Only the named events count.
    pub fn only<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ActiveDefinition::Only(names.into_iter().map(Into::into).collect())
    }

    /// Every event except the named ones counts.
    pub fn all_except<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ActiveDefinition::AllExcept(names.into_iter().map(Into::into).collect())
    }

    /// Whether an event named `name` counts.
    pub fn is_active(&self, name: &str) -> bool {
        match self {
            ActiveDefinition::AllExcept(v) => !v.iter().any(|n| n == name),
            ActiveDefinition::Only(v) => v.iter().any(|n| n == name),
        }
    }

    /// A mask over interned event names.
    pub(crate) fn mask(&self, names: &Interner) -> Vec<bool> {
        (0..names.len() as u32)
            .map(|i| self.is_active(names.resolve(i)))
            .collect()
    }
}

/// A mask over interned names that matches exactly `list`.
pub(crate) fn name_mask(names: &Interner, list: &[String]) -> Vec<bool> {
    let mut m = vec![false; names.len()];
    for n in list {
        if let Some(i) = names.get(n) {
            m[i as usize] = true;
        }
    }
    m
}
