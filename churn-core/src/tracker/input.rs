//! What [`Analytics::track`](super::Analytics::track) and
//! [`Analytics::identify`](super::Analytics::identify) accept: a builder or a ready
//! message. Either way the message is validated against the tracker's limits and its
//! `received_at` is set to the acceptance time.

use crate::error::Result;
use crate::event::{Event, EventBuilder, Identify, IdentifyBuilder, Limits};
use crate::time::Timestamp;

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::event::EventBuilder {}
    impl Sealed for crate::event::Event {}
    impl Sealed for crate::event::IdentifyBuilder {}
    impl Sealed for crate::event::Identify {}
}

/// An [`EventBuilder`] or an [`Event`]. Sealed: implemented by those two only.
pub trait IntoEvent: sealed::Sealed {
    /// Build (or check) the event as received at `now`.
    fn into_event(self, now: Timestamp, limits: &Limits) -> Result<Event>;
}

impl IntoEvent for EventBuilder {
    fn into_event(self, now: Timestamp, limits: &Limits) -> Result<Event> {
        self.build_at(now, limits)
    }
}

impl IntoEvent for Event {
    fn into_event(mut self, now: Timestamp, limits: &Limits) -> Result<Event> {
        self.received_at = now;
        self.validate(now, limits)?;
        Ok(self)
    }
}

/// An [`IdentifyBuilder`] or an [`Identify`]. Sealed: implemented by those two only.
pub trait IntoIdentify: sealed::Sealed {
    /// Build (or check) the call as received at `now`.
    fn into_identify(self, now: Timestamp, limits: &Limits) -> Result<Identify>;
}

impl IntoIdentify for IdentifyBuilder {
    fn into_identify(self, now: Timestamp, limits: &Limits) -> Result<Identify> {
        self.build_at(now, limits)
    }
}

impl IntoIdentify for Identify {
    fn into_identify(mut self, now: Timestamp, limits: &Limits) -> Result<Identify> {
        self.received_at = now;
        self.validate(now, limits)?;
        Ok(self)
    }
}
