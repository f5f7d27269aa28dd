//! Funnels and saved segments (secret key required): `GET /api/funnel`,
//! `GET`/`POST /api/segments`, `GET`/`PUT`/`DELETE /api/segments/{name}`. Segment
//! conditions use the engine's text syntax ([`SegmentExpr::parse`]).

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::analytics::reply;
use super::{blocking, read_body, secret_project};
use crate::engine::{
    FunnelMode, FunnelRequest, SegmentExpr, SegmentRef, Segments, MAX_FUNNEL_STEPS,
};
use crate::server::app::{AppState, Table};
use crate::server::decode::body::parse_json_object;
use crate::server::error::ApiError;
use crate::server::query::{bad_param, last_days, parse_window, Query};
use crate::time::Timestamp;

pub(crate) fn add_routes(t: Table) -> Table {
    t.add("/api/funnel", &[Method::GET], funnel)
        .add("/api/segments", &[Method::GET, Method::POST], segments)
        .add(
            "/api/segments/{name}",
            &[Method::GET, Method::PUT, Method::DELETE],
            segment,
        )
}

async fn funnel(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    reply(
        async {
            let p = secret_project(&state, &headers)?;
            let q = Query::parse(
                uri.query(),
                &["steps", "window", "days", "mode", "breakdown", "segment"],
            )?;
            let steps = q
                .list("steps")?
                .ok_or_else(|| bad_param("steps", "required: steps=signup,activate,purchase"))?;
            if steps.len() < 2 || steps.len() > MAX_FUNNEL_STEPS {
                return Err(bad_param(
                    "steps",
                    format!("give 2 to {MAX_FUNNEL_STEPS} event names"),
                ));
            }
            let mut r = FunnelRequest::new(steps.iter().map(String::as_str))
                .range(last_days(Timestamp::now(), q.days(30)?))
                .window_ms(parse_window("window", q.get("window").unwrap_or("7d"))?)
                .mode(q.parsed::<FunnelMode>("mode")?.unwrap_or_default());
            if let Some(b) = q.get("breakdown") {
                r = r.breakdown(b);
            }
            if let Some(s) = q.get("segment") {
                r = r.segment(SegmentRef::from(s));
            }
            let engine = state.engines.get(&p.id).await?;
            blocking(move || engine.funnel(&r)).await
        }
        .await,
    )
}

/// `POST /api/segments` and `PUT /api/segments/{name}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentBody {
    /// Name (POST only).
    #[serde(default)]
    name: Option<String>,
    /// The condition, e.g. `did(feature_used, >= 3, 14d) and not trait(plan = free)`.
    expr: String,
    #[serde(default)]
    description: Option<String>,
}

async fn body_of(state: &AppState, req: Request) -> Result<(HeaderMap, SegmentBody), ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = read_body(state, &parts.headers, body, 64 * 1024).await?;
    let b: SegmentBody = parse_json_object(&bytes).map_err(ApiError::body)?;
    Ok((parts.headers, b))
}

fn parse_expr(text: &str) -> Result<SegmentExpr, ApiError> {
    SegmentExpr::parse(text).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "ERR_VALIDATION",
            format!("expr: {e}"),
        )
    })
}

async fn segments(State(state): State<AppState>, req: Request) -> Response {
    let run = async {
        let p = secret_project(&state, req.headers())?;
        Query::parse(req.uri().query(), &[])?;
        let store = state.ingest.store().clone();
        if req.method() == Method::GET {
            let list = blocking(move || Segments::new(store.as_ref(), &p.id).list()).await?;
            return Ok(Json(list).into_response());
        }
        let (_, b) = body_of(&state, req).await?;
        let name = b.name.ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "ERR_VALIDATION",
                "name is required",
            )
        })?;
        let expr = parse_expr(&b.expr)?;
        let desc = b.description.unwrap_or_default();
        let s = blocking(move || Segments::new(store.as_ref(), &p.id).create(&name, expr, &desc))
            .await?;
        Ok((StatusCode::CREATED, Json(s)).into_response())
    };
    run.await.unwrap_or_else(|e: ApiError| e.into_response())
}

async fn segment(
    State(state): State<AppState>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    let run = async {
        let p = secret_project(&state, req.headers())?;
        Query::parse(req.uri().query(), &[])?;
        let store = state.ingest.store().clone();
        let method = req.method().clone();
        if method == Method::GET {
            let engine = state.engines.get(&p.id).await?;
            let v = blocking(move || {
                let s = engine.segments().get(&name)?;
                let stats = engine.segment_stats(&SegmentRef::from(name.as_str()))?;
                Ok(json!({"segment": s, "stats": stats}))
            })
            .await?;
            return Ok(Json(v).into_response());
        }
        if method == Method::DELETE {
            let n = name.clone();
            let gone = blocking(move || Segments::new(store.as_ref(), &p.id).delete(&n)).await?;
            if !gone {
                return Err(ApiError::not_found(format!("no segment {name:?}")));
            }
            return Ok(Json(json!({"deleted": name})).into_response());
        }
        let (_, b) = body_of(&state, req).await?;
        if b.name.as_deref().is_some_and(|n| n != name) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "ERR_VALIDATION",
                "the body's name differs from the path (segments cannot be renamed)",
            ));
        }
        let expr = parse_expr(&b.expr)?;
        let s = blocking(move || {
            Segments::new(store.as_ref(), &p.id).update(&name, expr, b.description.as_deref())
        })
        .await?;
        Ok(Json(s).into_response())
    };
    run.await.unwrap_or_else(|e: ApiError| e.into_response())
}
