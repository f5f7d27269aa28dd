//! `POST /api/datasets` (CSV / NDJSON upload, raw or multipart; the one route with a
//! larger body limit, [`ServerConfig::dataset_max_bytes`](crate::server::ServerConfig))
//! and `GET /api/datasets/{id}` (progress and report). See [`crate::server::datasets`].

use axum::extract::{Path, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::analytics::reply;
use super::{header_str, read_body, secret_project};
use crate::import::FileFormat;
use crate::server::app::{AppState, Table};
use crate::server::datasets::multipart_file;
use crate::server::error::ApiError;
use crate::server::query::{bad_param, Query};

pub(crate) fn add_routes(t: Table) -> Table {
    t.add("/api/datasets", &[Method::POST], upload).add(
        "/api/datasets/{id}",
        &[Method::GET],
        status,
    )
}

async fn upload(State(state): State<AppState>, req: Request) -> Response {
    let run = async {
        let (parts, body) = req.into_parts();
        let p = secret_project(&state, &parts.headers)?;
        let q = Query::parse(parts.uri.query(), &["format"])?;
        let mut format = match q.get("format") {
            None => None,
            Some("csv") => Some(FileFormat::Csv),
            Some("ndjson") | Some("jsonl") => Some(FileFormat::Ndjson),
            Some(other) => return Err(bad_param("format", format!("{other:?}: csv or ndjson"))),
        };
        let bytes = read_body(&state, &parts.headers, body, state.config.dataset_max_bytes).await?;
        let ct = header_str(&parts.headers, header::CONTENT_TYPE).unwrap_or("");
        let data = if ct.to_ascii_lowercase().starts_with("multipart/form-data") {
            let (data, name) = multipart_file(ct, &bytes)?;
            if format.is_none() {
                format = name.and_then(|n| FileFormat::from_path(std::path::Path::new(&n)));
            }
            bytes.slice_ref(data)
        } else {
            if format.is_none() {
                let ct = ct.to_ascii_lowercase();
                if ct.starts_with("text/csv") {
                    format = Some(FileFormat::Csv);
                } else if ct.contains("ndjson") || ct.contains("jsonl") {
                    format = Some(FileFormat::Ndjson);
                }
            }
            bytes
        };
        if data.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "ERR_VALIDATION",
                "the upload is empty",
            ));
        }
        let id = state.datasets.start(&p.id, data.len() as u64);
        let (datasets, store, engines) = (
            state.datasets.clone(),
            state.ingest.store().clone(),
            state.engines.clone(),
        );
        let (job, pid) = (id.clone(), p.id.clone());
        tokio::task::spawn_blocking(move || {
            datasets.run(store.as_ref(), &job, &pid, &data, format);
            engines.invalidate(&pid);
        });
        let status = state
            .datasets
            .get(&p.id, &id)
            .ok_or_else(|| ApiError::not_found("dataset"))?;
        Ok((StatusCode::ACCEPTED, Json(status)).into_response())
    };
    run.await.unwrap_or_else(|e: ApiError| e.into_response())
}

async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    reply((|| {
        let p = secret_project(&state, &headers)?;
        Query::parse(uri.query(), &[])?;
        state
            .datasets
            .get(&p.id, &id)
            .ok_or_else(|| ApiError::not_found(format!("no dataset {id:?} in this project")))
    })())
}
