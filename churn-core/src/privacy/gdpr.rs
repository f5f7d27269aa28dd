//! GDPR operations on a store: export everything about a person, and anonymize a person.
//! ([`Store::delete_user`] does the deletion.) [`Analytics`](crate::Analytics) wraps these
//! after flushing its queue; they are public so servers and tools can call them on a store.

use serde::{Deserialize, Serialize};

use super::pii;
use super::{PiiMode, PrivacyPolicy, DEFAULT_PII_KEYS};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::store::{ConsentRecord, IdentityLink, Store, StoreExt, StoredEvent, UserRecord};
use crate::time::Timestamp;

/// Everything stored about one person: the answer to a GDPR access request.
///
/// Serializes to JSON with a stable shape:
/// `{"user_id", "project", "exported_at", "user", "events", "identities", "consents"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserExport {
    /// The id asked for.
    pub user_id: String,
    /// The project it was read from.
    pub project: String,
    /// When the export was made.
    pub exported_at: Timestamp,
    /// The user record (traits, linked anonymous ids), when there is one.
    pub user: Option<UserRecord>,
    /// Every event stored under the id or an anonymous id linked to it, by timestamp.
    pub events: Vec<StoredEvent>,
    /// Every identity link that names the person's ids.
    pub identities: Vec<IdentityLink>,
    /// Consent decisions recorded for the person's ids.
    pub consents: Vec<ConsentRecord>,
}

impl UserExport {
    /// Whether nothing at all is stored about the person.
    pub fn is_empty(&self) -> bool {
        self.user.is_none()
            && self.events.is_empty()
            && self.identities.is_empty()
            && self.consents.is_empty()
    }

    /// The export as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::invalid("export", e.to_string()))
    }
}

/// Collect everything `store` holds about `user_id` (see [`UserExport`]).
///
/// ```
/// use churn_core::event::{Event, Identify};
/// use churn_core::privacy::export_user;
/// use churn_core::store::{MemoryStore, Store, DEFAULT_PROJECT};
/// let s = MemoryStore::new();
/// s.apply(DEFAULT_PROJECT, &[
///     Identify::user("u1").anonymous_id("a1").build()?.into(),
///     Event::track("visit").anonymous_id("a1").build()?.into(),
/// ])?;
/// let x = export_user(&s, DEFAULT_PROJECT, "u1")?;
/// assert_eq!(x.events.len(), 1);
/// assert_eq!(x.identities.len(), 1);
/// # Ok::<(), churn_core::Error>(())
/// ```
pub fn export_user(store: &dyn Store, project: &str, user_id: &str) -> Result<UserExport> {
    let user = store.user(project, user_id)?;
    let mut ids = vec![user_id.to_string()];
    if let Some(u) = &user {
        ids.extend(u.anonymous_ids.iter().cloned());
    }
    let mentions = |id: &str| ids.iter().any(|i| i == id);
    let identities = store
        .identities(project)?
        .into_iter()
        .filter(|l| mentions(&l.user_id) || mentions(&l.anonymous_id))
        .collect();
    let consents = store
        .consents(project)?
        .into_iter()
        .filter(|c| mentions(&c.id))
        .collect();
    let events = store.person_events(project, user_id)?;
    Ok(UserExport {
        user_id: user_id.to_string(),
        project: project.to_string(),
        exported_at: Timestamp::now(),
        user,
        events,
        identities,
        consents,
    })
}

/// Replace a person by a new random id (`anon-<uuid>`), keeping their events so every
/// aggregate stays true: each event of the person (under the user id or a linked
/// anonymous id) is kept under the new id with `anonymous_id` cleared, PII properties
/// removed (the policy's keys plus [`DEFAULT_PII_KEYS`], always dropped, never hashed),
/// and IP and user agent removed. The user record (traits) and identity links are
/// deleted. Consent records are kept under the old id. Returns the new id;
/// [`Error::NotFound`] when nothing is stored about `user_id`.
pub fn anonymize_user(
    store: &dyn Store,
    project: &str,
    user_id: &str,
    policy: &PrivacyPolicy,
) -> Result<String> {
    let new_id = format!("anon-{}", uuid::Uuid::new_v4());
    let mut keys: Vec<String> = DEFAULT_PII_KEYS.iter().map(|k| k.to_string()).collect();
    keys.extend(policy.pii_keys.iter().cloned());
    let mut rewrite = |mut e: Event| -> Event {
        e.user_id = Some(new_id.clone());
        e.anonymous_id = None;
        pii::scrub(&mut e.properties, &keys, &PiiMode::Drop);
        pii::scrub(&mut e.context.extra, &keys, &PiiMode::Drop);
        e.context.ip = None;
        e.context.user_agent = None;
        e
    };
    let report = store.rewrite_user(project, user_id, &mut rewrite)?;
    if report.events == 0 && report.users == 0 && report.identities == 0 {
        return Err(Error::NotFound {
            what: format!("user {user_id}"),
        });
    }
    Ok(new_id)
}
