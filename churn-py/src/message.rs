//! Python arguments -> the core's event builders and batch items, for the `track`,
//! `page`, `identify` and `track_batch` methods of `Analytics`.

use churn_core::event::{EventBuilder, MessageInput, Rejected};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;

use crate::convert::{self, opt_object, opt_timestamp, to_json_lazy};
use crate::error::{core_err, validation};

/// One message of `track_batch` as the core's lenient input.
pub(crate) fn batch_item(item: &Bound<'_, PyAny>, i: usize) -> PyResult<MessageInput> {
    if !item.is_instance_of::<PyDict>() {
        return Err(validation(&format!("messages[{i}]"), "expected a dict"));
    }
    let v = to_json_lazy(item, || format!("messages[{i}]"))?;
    MessageInput::from_value(v).map_err(|e| core_err(e.into()))
}

/// A conversion failure reported like the core reports a refused message.
pub(crate) fn rejected_from(py: Python<'_>, index: usize, e: &PyErr) -> Rejected {
    let v = e.value(py);
    Rejected {
        index,
        code: v
            .getattr("code")
            .and_then(|c| c.extract::<String>())
            .unwrap_or_else(|_| "ERR_VALIDATION".into()),
        reason: v.str().map(|s| s.to_string()).unwrap_or_default(),
    }
}

pub(crate) fn fill_event(
    mut b: EventBuilder,
    user_id: Option<String>,
    anonymous_id: Option<String>,
    message_id: Option<String>,
    session_id: Option<String>,
) -> EventBuilder {
    if let Some(u) = user_id {
        b = b.user_id(u);
    }
    if let Some(a) = anonymous_id {
        b = b.anonymous_id(a);
    }
    if let Some(m) = message_id {
        b = b.message_id(m);
    }
    if let Some(s) = session_id {
        b = b.session_id(s);
    }
    b
}

pub(crate) fn finish_event(
    mut b: EventBuilder,
    properties: Option<&Bound<'_, PyAny>>,
    timestamp: Option<&Bound<'_, PyAny>>,
    context: Option<&Bound<'_, PyAny>>,
) -> PyResult<EventBuilder> {
    if let Some(p) = opt_object(properties, "properties")? {
        b = b.properties(p);
    }
    if let Some(t) = opt_timestamp(timestamp, "timestamp")? {
        b = b.timestamp(t);
    }
    if let Some(c) = opt_object(context, "context")? {
        b = b.context(convert::from_json(Value::Object(c), "context")?);
    }
    Ok(b)
}
