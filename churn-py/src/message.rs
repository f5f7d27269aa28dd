//! Python arguments -> the core's event builders and batch items, for the `track`,
//! `page`, `identify` and `track_batch` methods of `Analytics`.

use churn_core::event::{EventBuilder, MessageInput, Rejected};
use churn_core::ValidationError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::Value;

use crate::convert::{self, opt_object, opt_timestamp, py_str, to_json_lazy};
use crate::error::{core_err, validation};

/// One message of `track_batch` as the core's lenient input, read straight from the
/// dict: the known keys (snake_case or Segment's camelCase) fill the input's fields, so
/// only the values (properties, traits, context) are built as JSON. Unknown keys are
/// still checked (a NaN anywhere refuses the message) and then ignored, as the core's
/// `MessageInput::from_value` does.
pub(crate) fn batch_item(item: &Bound<'_, PyAny>, i: usize) -> PyResult<MessageInput> {
    let Ok(dict) = item.cast::<PyDict>() else {
        return Err(validation(&format!("messages[{i}]"), "expected a dict"));
    };
    let mut m = MessageInput::default();
    let mut seen = 0u16;
    for (k, v) in dict.iter() {
        let Ok(key) = k.cast::<PyString>() else {
            // Reported exactly as the JSON conversion reports a non-str key.
            return to_json_lazy(item, || format!("messages[{i}]")).map(|_| m);
        };
        let key = py_str(key)?;
        let Some(field) = Field::of(key) else {
            to_json_lazy(&v, || format!("messages[{i}].{key}"))?;
            continue;
        };
        if seen & field.bit() != 0 {
            return Err(core_err(
                ValidationError::InvalidJson {
                    reason: format!("duplicate field `{}`", field.name()),
                }
                .into(),
            ));
        }
        seen |= field.bit();
        if v.is_none() {
            continue;
        }
        if let Some(slot) = field.slot(&mut m) {
            *slot = Some(to_json_lazy(&v, || format!("messages[{i}].{key}"))?);
            continue;
        }
        let Ok(s) = v.cast::<PyString>() else {
            return Err(core_err(
                ValidationError::InvalidJson {
                    reason: format!("invalid type for `{}`: expected a string", field.name()),
                }
                .into(),
            ));
        };
        let s = Some(py_str(s)?.to_owned());
        match field {
            Field::Kind => m.kind = s,
            Field::Event => m.event = s,
            _ => m.name = s,
        }
    }
    Ok(m)
}

/// The fields of [`MessageInput`], by the keys that name them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Kind,
    Event,
    Name,
    UserId,
    AnonymousId,
    PreviousId,
    MessageId,
    SessionId,
    Timestamp,
    Properties,
    Traits,
    Context,
}

impl Field {
    fn of(key: &str) -> Option<Field> {
        Some(match key {
            "type" => Field::Kind,
            "event" => Field::Event,
            "name" => Field::Name,
            "user_id" | "userId" => Field::UserId,
            "anonymous_id" | "anonymousId" => Field::AnonymousId,
            "previous_id" | "previousId" => Field::PreviousId,
            "message_id" | "messageId" => Field::MessageId,
            "session_id" | "sessionId" => Field::SessionId,
            "timestamp" => Field::Timestamp,
            "properties" => Field::Properties,
            "traits" => Field::Traits,
            "context" => Field::Context,
            _ => return None,
        })
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    fn name(self) -> &'static str {
        match self {
            Field::Kind => "type",
            Field::Event => "event",
            Field::Name => "name",
            Field::UserId => "user_id",
            Field::AnonymousId => "anonymous_id",
            Field::PreviousId => "previous_id",
            Field::MessageId => "message_id",
            Field::SessionId => "session_id",
            Field::Timestamp => "timestamp",
            Field::Properties => "properties",
            Field::Traits => "traits",
            Field::Context => "context",
        }
    }

    /// The JSON-valued slot of `m`; `None` for the three text fields.
    fn slot(self, m: &mut MessageInput) -> Option<&mut Option<Value>> {
        Some(match self {
            Field::UserId => &mut m.user_id,
            Field::AnonymousId => &mut m.anonymous_id,
            Field::PreviousId => &mut m.previous_id,
            Field::MessageId => &mut m.message_id,
            Field::SessionId => &mut m.session_id,
            Field::Timestamp => &mut m.timestamp,
            Field::Properties => &mut m.properties,
            Field::Traits => &mut m.traits,
            Field::Context => &mut m.context,
            Field::Kind | Field::Event | Field::Name => return None,
        })
    }
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
