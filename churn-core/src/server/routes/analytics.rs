//! Read API (secret key required): metrics, active users, retention, revenue, sessions,
//! users (profile, GDPR export, deletion) and event export. Reports are the engine's
//! serde types as JSON.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, Method, StatusCode};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::{blocking, secret_project};
use crate::engine::{
    ActiveUsersRequest, Period, ProfileRequest, RetentionMode, RetentionRequest, RevenueRequest,
    SessionsRequest, UserProfile,
};
use crate::import::{export_events, FileFormat};
use crate::server::app::{AppState, Table};
use crate::server::churn_jobs::ScoredUser;
use crate::server::error::ApiError;
use crate::server::metrics::metrics;
use crate::server::query::{bad_param, last_days, Query};
use crate::store::{ScanRequest, StoreExt, StoredEvent, UserRecord};
use crate::time::Timestamp;

pub(crate) fn add_routes(t: Table) -> Table {
    let get = &[Method::GET];
    t.add("/api/metrics", get, metrics_route)
        .add("/api/active-users", get, active_users)
        .add("/api/retention", get, retention)
        .add("/api/revenue", get, revenue)
        .add("/api/sessions", get, sessions)
        .add("/api/export", get, export)
        .add("/api/users/{id}", &[Method::GET, Method::DELETE], user)
        .add("/api/users/{id}/export", get, user_export)
}

/// A JSON response, or the error.
pub(crate) fn reply<T: Serialize>(r: Result<T, ApiError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn period(q: &Query, default: Period) -> Result<Period, ApiError> {
    Ok(q.parsed::<Period>("period")?.unwrap_or(default))
}

async fn metrics_route(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    reply(
        async {
            let p = secret_project(&state, &headers)?;
            let q = Query::parse(uri.query(), &["days"])?;
            let days = q.days(7)?;
            let range = last_days(Timestamp::now(), days);
            let engine = state.engines.get(&p.id).await?;
            let store = state.ingest.store().clone();
            let conv = state.config.conversion_events.clone();
            blocking(move || metrics(&engine, store.as_ref(), &p.id, days, range, &conv)).await
        }
        .await,
    )
}

async fn active_users(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    reply(
        async {
            let p = secret_project(&state, &headers)?;
            let q = Query::parse(uri.query(), &["days", "period"])?;
            let r = ActiveUsersRequest::new()
                .range(last_days(Timestamp::now(), q.days(30)?))
                .period(period(&q, Period::Day)?);
            let engine = state.engines.get(&p.id).await?;
            blocking(move || engine.active_users(&r)).await
        }
        .await,
    )
}

async fn retention(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    reply(
        async {
            let p = secret_project(&state, &headers)?;
            let q = Query::parse(uri.query(), &["days", "period", "mode", "periods"])?;
            let mut r = RetentionRequest::new()
                .range(last_days(Timestamp::now(), q.days(90)?))
                .period(period(&q, Period::Week)?)
                .mode(q.parsed::<RetentionMode>("mode")?.unwrap_or_default());
            if q.get("periods").is_some() {
                r = r.periods(q.int("periods", 12, 1, 1000)? as usize);
            }
            let engine = state.engines.get(&p.id).await?;
            blocking(move || engine.retention(&r)).await
        }
        .await,
    )
}

async fn revenue(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    reply(
        async {
            let p = secret_project(&state, &headers)?;
            let q = Query::parse(uri.query(), &["days", "period", "currency"])?;
            let mut r = RevenueRequest::new()
                .range(last_days(Timestamp::now(), q.days(365)?))
                .period(period(&q, Period::Month)?);
            if let Some(c) = q.get("currency") {
                let c = c.trim();
                if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(bad_param("currency", format!("{c:?} is not an ISO code")));
                }
                r = r.currency(c.to_ascii_uppercase());
            }
            let engine = state.engines.get(&p.id).await?;
            blocking(move || engine.revenue(&r)).await
        }
        .await,
    )
}

async fn sessions(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    reply(
        async {
            let p = secret_project(&state, &headers)?;
            let q = Query::parse(uri.query(), &["days", "period", "top"])?;
            let r = SessionsRequest::new()
                .range(last_days(Timestamp::now(), q.days(30)?))
                .period(period(&q, Period::Day)?)
                .top(q.int("top", 10, 1, 1000)? as usize);
            let engine = state.engines.get(&p.id).await?;
            blocking(move || engine.sessions(&r)).await
        }
        .await,
    )
}

/// Events listed in a user profile.
pub const PROFILE_EVENTS: usize = 50;

/// `GET /api/users/{id}`.
#[derive(Debug, Serialize)]
struct UserPage {
    user_id: String,
    user: Option<UserRecord>,
    event_count: u64,
    first_seen: Option<Timestamp>,
    last_seen: Option<Timestamp>,
    recent_events: Vec<StoredEvent>,
    /// The engine's profile metrics (usage trend, features, billing, tickets).
    profile: Option<UserProfile>,
    churn: Option<ScoredUser>,
}

fn check_user_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.chars().count() > 200 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "ERR_VALIDATION",
            "user id: 1 to 200 characters",
        ));
    }
    Ok(())
}

async fn user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let delete = method == Method::DELETE;
    let run = async {
        let p = secret_project(&state, &headers)?;
        Query::parse(uri.query(), &[])?;
        check_user_id(&id)?;
        let store = state.ingest.store().clone();
        let ingest = state.ingest.clone();
        if delete {
            let (st, pid, uid) = (state.clone(), p.id.clone(), id.clone());
            let report = blocking(move || {
                ingest.flush()?;
                let r = store.delete_user(&pid, &uid)?;
                st.churn.forget_user(store.as_ref(), &pid, &uid)?;
                Ok(r)
            })
            .await?;
            state.engines.invalidate(&p.id);
            return Ok(Json(report).into_response());
        }
        let churn = state.churn.clone();
        let engine = state.engines.get(&p.id).await?;
        let profile = blocking(move || {
            let events = store.person_events(&p.id, &id)?;
            let user = store.user(&p.id, &id)?;
            if events.is_empty() && user.is_none() {
                return Err(crate::Error::NotFound {
                    what: format!("user {id}"),
                });
            }
            let score = churn
                .latest(store.as_ref(), &p.id)?
                .and_then(|r| r.users.iter().find(|u| u.user_id == id).cloned());
            let n = events.len();
            let metrics = match engine.user_profile(&ProfileRequest::new(id.as_str())) {
                Ok(m) => Some(m),
                Err(crate::Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            Ok(UserPage {
                profile: metrics,
                first_seen: events.iter().map(|e| e.event.timestamp).min(),
                last_seen: events.iter().map(|e| e.event.timestamp).max(),
                event_count: n as u64,
                recent_events: {
                    let mut ev = events;
                    ev.sort_by_key(|e| std::cmp::Reverse((e.event.timestamp, e.seq)));
                    ev.truncate(PROFILE_EVENTS);
                    ev
                },
                user_id: id,
                user,
                churn: score,
            })
        })
        .await?;
        Ok(Json(profile).into_response())
    };
    run.await.unwrap_or_else(|e: ApiError| e.into_response())
}

async fn user_export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    reply(
        async {
            let p = secret_project(&state, &headers)?;
            Query::parse(uri.query(), &[])?;
            check_user_id(&id)?;
            let store = state.ingest.store().clone();
            let ingest = state.ingest.clone();
            blocking(move || {
                ingest.flush()?;
                crate::privacy::export_user(store.as_ref(), &p.id, &id)
            })
            .await
        }
        .await,
    )
}

async fn export(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let run = async {
        let p = secret_project(&state, &headers)?;
        let q = Query::parse(uri.query(), &["format", "days"])?;
        let format = match q.get("format").unwrap_or("json") {
            "csv" => FileFormat::Csv,
            "json" | "ndjson" => FileFormat::Ndjson,
            other => {
                return Err(bad_param(
                    "format",
                    format!("{other:?}: csv, json or ndjson"),
                ))
            }
        };
        let as_array = q.get("format").unwrap_or("json") == "json";
        let range = last_days(Timestamp::now(), q.days(30)?);
        let store = state.ingest.store().clone();
        let ingest = state.ingest.clone();
        let body = blocking(move || {
            ingest.flush()?;
            let mut out = Vec::new();
            export_events(
                store.as_ref(),
                &p.id,
                &ScanRequest::new().range(range),
                format,
                &mut out,
            )?;
            if as_array {
                let mut arr = Vec::with_capacity(out.len() + 2);
                arr.push(b'[');
                for (i, line) in out
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .enumerate()
                {
                    if i > 0 {
                        arr.push(b',');
                    }
                    arr.extend_from_slice(line);
                }
                arr.push(b']');
                out = arr;
            }
            Ok(out)
        })
        .await?;
        let ct = match (format, as_array) {
            (FileFormat::Csv, _) => "text/csv; charset=utf-8",
            (_, true) => "application/json",
            _ => "application/x-ndjson",
        };
        Ok(([(header::CONTENT_TYPE, ct)], Body::from(body)).into_response())
    };
    run.await.unwrap_or_else(|e: ApiError| e.into_response())
}
