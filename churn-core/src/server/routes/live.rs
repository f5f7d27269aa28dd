//! `GET /api/live`: Server-Sent Events (secret key required). Every second a `stats`
//! event (`{at, events_per_second, active_users}`, see [`crate::server::live`]); when
//! a scoring run puts users into the Critical segment, an `alert` event with the
//! [`CriticalAlert`](crate::server::live::CriticalAlert) JSON.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::Method;
use axum::http::{HeaderMap, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::sync::broadcast::error::RecvError;

use super::secret_project;
use crate::server::app::{AppState, Table};
use crate::server::error::ApiError;
use crate::server::query::Query;

pub(crate) fn add_routes(t: Table) -> Table {
    t.add("/api/live", &[Method::GET], live)
}

struct Feed {
    state: AppState,
    project: String,
    alerts: tokio::sync::broadcast::Receiver<std::sync::Arc<crate::server::live::CriticalAlert>>,
    tick: tokio::time::Interval,
}

async fn next(mut f: Feed) -> Option<(Result<Event, Infallible>, Feed)> {
    loop {
        tokio::select! {
            a = f.alerts.recv() => match a {
                Ok(alert) if alert.project == f.project => {
                    let ev = Event::default().event("alert").json_data(&*alert).ok()?;
                    return Some((Ok(ev), f));
                }
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            },
            _ = f.tick.tick() => {
                let (live, store, pid) = (f.state.live.clone(), f.state.ingest.store().clone(), f.project.clone());
                let stats = tokio::task::spawn_blocking(move || live.stats(store.as_ref(), &pid)).await.ok()?.ok()?;
                let ev = Event::default().event("stats").json_data(&stats).ok()?;
                return Some((Ok(ev), f));
            }
        }
    }
}

async fn live(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let run = || {
        let p = secret_project(&state, &headers)?;
        Query::parse(uri.query(), &[])?;
        let feed = Feed {
            alerts: state.live.subscribe(),
            state: state.clone(),
            project: p.id,
            tick: tokio::time::interval(Duration::from_secs(1)),
        };
        let s = stream::unfold(feed, next);
        Ok::<_, ApiError>(Sse::new(s).keep_alive(KeepAlive::default()).into_response())
    };
    run().unwrap_or_else(|e| e.into_response())
}
