//! `GET /` (the dashboard page: no data, only the login form and the script) and
//! `GET /api/dashboard` (its data, secret key required). See
//! [`crate::server::dashboard`].

use axum::extract::State;
use axum::http::{header, Method};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};

use super::analytics::reply;
use super::{blocking, secret_project};
use crate::server::app::{AppState, Table};
use crate::server::dashboard::{build, content_security_policy, PAGE};
use crate::server::query::Query;
use crate::time::Timestamp;

pub(crate) fn add_routes(t: Table) -> Table {
    t.add("/", &[Method::GET], page)
        .add("/api/dashboard", &[Method::GET], data)
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, content_security_policy()),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
        .into_response()
}

async fn data(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    reply(
        async {
            let p = secret_project(&state, &headers)?;
            let q = Query::parse(uri.query(), &["days"])?;
            let days = q.days(30)?;
            let engine = state.engines.get(&p.id).await?;
            let (store, churn) = (state.ingest.store().clone(), state.churn.clone());
            blocking(move || {
                let run = churn.latest(store.as_ref(), &p.id)?;
                build(&engine, run.as_deref(), days, Timestamp::now())
            })
            .await
        }
        .await,
    )
}
