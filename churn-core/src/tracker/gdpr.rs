//! Consent, retention and GDPR calls on [`Analytics`]. Each one first flushes the queue,
//! so messages accepted before the call are included.

use super::Analytics;
use crate::error::Result;
use crate::event::check_text;
use crate::privacy::{self, UserExport};
use crate::store::DeleteReport;
use crate::time::Timestamp;

impl Analytics {
    fn check_id(&self, id: &str) -> Result<()> {
        check_text("user_id", id, self.settings.limits.max_id_chars)?;
        Ok(())
    }

    /// Record that `id` (a user or anonymous id) granted or withdrew consent, in the
    /// store and in the tracker. While consent is withdrawn, `track`, `page`, `identify`
    /// and `alias` calls carrying the id (or, for a user id, an anonymous id linked to
    /// it) fail with [`Error::ConsentWithdrawn`](crate::Error::ConsentWithdrawn).
    /// Withdrawing does not delete stored data: use [`Analytics::delete_user`].
    ///
    /// ```
    /// use churn_core::{Analytics, Error};
    /// use churn_core::event::Event;
    /// let a = Analytics::builder().in_memory().build()?;
    /// a.set_consent("u1", false)?;
    /// let refused = a.track(Event::track("click").user_id("u1"));
    /// assert!(matches!(refused, Err(Error::ConsentWithdrawn { .. })));
    /// # Ok::<(), churn_core::Error>(())
    /// ```
    pub fn set_consent(&self, id: &str, granted: bool) -> Result<()> {
        self.check_id(id)?;
        self.flush()?;
        let project = &self.settings.project;
        self.store
            .set_consent(project, id, granted, Timestamp::now())?;
        let ids = privacy::consent::person_ids(&*self.store, project, id)?;
        self.consent.update(ids, granted);
        Ok(())
    }

    /// Retention: delete every stored event with `timestamp < before`; returns how many.
    pub fn purge_before(&self, before: Timestamp) -> Result<u64> {
        self.flush()?;
        self.store.purge_before(&self.settings.project, before)
    }

    /// Everything stored about a person (events under the id and its linked anonymous
    /// ids, the user record, identity links, consent records); serialize it with serde.
    pub fn export_user(&self, user_id: &str) -> Result<UserExport> {
        self.check_id(user_id)?;
        self.flush()?;
        privacy::export_user(&*self.store, &self.settings.project, user_id)
    }

    /// Delete everything about a person: events under the id and its linked anonymous
    /// ids, the user record, the links. Consent records are kept, so a withdrawal keeps
    /// being honoured.
    pub fn delete_user(&self, user_id: &str) -> Result<DeleteReport> {
        self.check_id(user_id)?;
        self.flush()?;
        self.store.delete_user(&self.settings.project, user_id)
    }

    /// Replace a person by a new random id, keeping their events without PII, IP or user
    /// agent (see [`privacy::anonymize_user`]). Returns the new id.
    pub fn anonymize_user(&self, user_id: &str) -> Result<String> {
        self.check_id(user_id)?;
        self.flush()?;
        privacy::anonymize_user(
            &*self.store,
            &self.settings.project,
            user_id,
            &self.settings.privacy,
        )
    }
}
