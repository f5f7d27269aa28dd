//! Segments (the core's `engine::segment`): saved segments and ad-hoc members / stats.
//! A segment argument is a saved name, the text form (`"did(login, >= 3, 14d)"`) or the
//! JSON form (`{ and: [...] }`).

use napi::bindgen_prelude::*;
use napi_derive::napi;

use churn_core::engine::{SegmentExpr, SegmentRef};

use crate::analytics::Analytics;
use crate::convert::{self, task, JsonTask};
use crate::error::IntoNapi;

/// A segment reference: a string is a name or the text form, an object the JSON form.
fn segment_ref(env: &Env, v: &Unknown<'_>) -> napi::Result<SegmentRef> {
    match v.get_type()? {
        ValueType::String => String::from_unknown(*v)?.parse::<SegmentRef>().napi(),
        ValueType::Object => Ok(SegmentRef::Expr(convert::from_value(
            convert::to_json(env, v, "segment")?,
            "segment",
        )?)),
        other => Err(crate::error::invalid(
            "segment",
            format!("expected a name, an expression text or object, got {other}"),
        )),
    }
}

fn expression(env: &Env, v: &Unknown<'_>) -> napi::Result<SegmentExpr> {
    match v.get_type()? {
        ValueType::String => SegmentExpr::parse(&String::from_unknown(*v)?).napi(),
        _ => convert::from_value(convert::to_json(env, v, "expression")?, "expression"),
    }
}

#[napi]
impl Analytics {
    /// Ids of the persons in a segment, sorted (as of `asOf` when given).
    #[napi(
        ts_args_type = "segment: SegmentInput, asOf?: DateInput",
        ts_return_type = "Promise<string[]>"
    )]
    pub fn segment_members(
        &self,
        env: Env,
        segment: Unknown,
        as_of: Option<Unknown>,
    ) -> napi::Result<AsyncTask<JsonTask>> {
        self.ensure_open()?;
        let seg = segment_ref(&env, &segment)?;
        let as_of = match as_of {
            Some(t) if !matches!(t.get_type()?, ValueType::Undefined | ValueType::Null) => {
                Some(convert::timestamp(&env, &t, "asOf")?)
            }
            _ => None,
        };
        let engine = self.engine_job();
        Ok(task(move || engine()?.segment_members_at(&seg, as_of)))
    }

    /// Size, share, activity and revenue of a segment.
    #[napi(
        ts_args_type = "segment: SegmentInput",
        ts_return_type = "Promise<SegmentStats>"
    )]
    pub fn segment_stats(&self, env: Env, segment: Unknown) -> napi::Result<AsyncTask<JsonTask>> {
        self.ensure_open()?;
        let seg = segment_ref(&env, &segment)?;
        let engine = self.engine_job();
        Ok(task(move || engine()?.segment_stats(&seg)))
    }

    /// Save a segment under `name` (`ERR_INVALID_ARGUMENT` when the name is taken).
    #[napi(
        ts_args_type = "name: string, expression: string | SegmentExpression, description?: string",
        ts_return_type = "Promise<SavedSegment>"
    )]
    pub fn create_segment(
        &self,
        env: Env,
        name: String,
        expression: Unknown,
        description: Option<String>,
    ) -> napi::Result<AsyncTask<JsonTask>> {
        self.ensure_open()?;
        let expr = self::expression(&env, &expression)?;
        let engine = self.engine_job();
        let description = description.unwrap_or_default();
        Ok(task(move || {
            engine()?.segments().create(&name, expr, &description)
        }))
    }

    /// The saved segments.
    #[napi(ts_return_type = "Promise<SavedSegment[]>")]
    pub fn list_segments(&self) -> napi::Result<AsyncTask<JsonTask>> {
        self.ensure_open()?;
        let engine = self.engine_job();
        Ok(task(move || engine()?.segments().list()))
    }

    /// Delete a saved segment; resolves to whether it existed.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn delete_segment(&self, name: String) -> napi::Result<AsyncTask<JsonTask>> {
        self.ensure_open()?;
        let engine = self.engine_job();
        Ok(task(move || engine()?.segments().delete(&name)))
    }
}
