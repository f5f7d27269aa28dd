//! `GET /health`, `GET /openapi.json`, and the project's own settings
//! (`GET` / `PATCH /api/project`, secret key required).

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{header_str, read_body, secret_project};
use crate::server::app::{set, AppState, Table};
use crate::server::error::ApiError;
use crate::server::projects::Project;

pub(crate) fn add_routes(t: Table) -> Table {
    t.add("/health", &[Method::GET], health)
        .add("/openapi.json", &[Method::GET], openapi)
        .add("/api/project", &[Method::GET, Method::PATCH], project)
}

async fn health(State(state): State<AppState>) -> Response {
    let store = state.ingest.store().clone();
    let checked = tokio::task::spawn_blocking(move || store.schema_version()).await;
    let (ok, store_json) = match checked {
        Ok(Ok(v)) => (true, json!({"ok": true, "schema_version": v})),
        Ok(Err(e)) => (false, json!({"ok": false, "error": e.to_string()})),
        Err(e) => (false, json!({"ok": false, "error": e.to_string()})),
    };
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "store": store_json,
        "queue_depth": state.ingest.queue_depth(),
        "projects": state.projects.list().len(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

fn project_json(p: &Project) -> Value {
    json!({"id": p.id, "name": p.name, "cors_origins": p.cors_origins, "webhook_url": p.webhook_url, "created_at": p.created_at})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectPatch {
    cors_origins: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    webhook_url: Option<Option<String>>,
}

/// `"webhook_url": null` clears the webhook (Some(None)); absent leaves it (None).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

async fn project(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let run = async {
        let p = secret_project(&state, &parts.headers)?;
        let p = if parts.method == Method::PATCH {
            let bytes = read_body(&state, &parts.headers, body, 64 * 1024).await?;
            let patch: ProjectPatch =
                crate::server::decode::body::parse_json_object(&bytes).map_err(ApiError::body)?;
            let p = match patch.cors_origins {
                Some(o) => state.projects.set_cors(&p.id, o)?,
                None => p,
            };
            match patch.webhook_url {
                Some(u) => state.projects.set_webhook(&p.id, u)?,
                None => p,
            }
        } else {
            p
        };
        Ok::<_, ApiError>(p)
    };
    match run.await {
        Ok(p) => {
            let mut r = Json(project_json(&p)).into_response();
            if let Some(o) =
                header_str(&parts.headers, header::ORIGIN).filter(|o| p.allows_read_from(o))
            {
                set(r.headers_mut(), header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
                set(
                    r.headers_mut(),
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    "true",
                );
            }
            r
        }
        Err(e) => e.into_response(),
    }
}

fn error_responses() -> Value {
    json!({
        "400": {"$ref": "#/components/responses/Error"},
        "401": {"$ref": "#/components/responses/Error"},
        "403": {"$ref": "#/components/responses/Error"},
        "408": {"$ref": "#/components/responses/Error"},
        "413": {"$ref": "#/components/responses/Error"},
        "415": {"$ref": "#/components/responses/Error"},
        "429": {"$ref": "#/components/responses/Error"},
        "503": {"$ref": "#/components/responses/Error"}
    })
}

fn ingest_op(summary: &str, tag: &str, schema: &str, ok: Value) -> Value {
    let mut responses = error_responses();
    if let Some(m) = responses.as_object_mut() {
        m.insert("200".into(), ok);
    }
    json!({
        "summary": summary,
        "tags": [tag],
        "security": [{"basicWriteKey": []}, {"bearerKey": []}, {}],
        "requestBody": {"required": true, "content": {
            "application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}},
            "text/plain": {"schema": {"type": "string"}}
        }},
        "responses": responses
    })
}

fn report_response(extra: Value) -> Value {
    json!({"description": "Accepted; refused messages listed by index", "content": {"application/json": {"schema": {
        "allOf": [{"$ref": "#/components/schemas/BatchReport"}, extra]
    }}}})
}

fn param(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn path_id(description: &str) -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": description})
}

/// A secret-key operation.
fn read_op(summary: &str, tag: &str, params: Vec<Value>, ok: &str) -> Value {
    json!({
        "summary": summary, "tags": [tag], "security": [{"bearerKey": []}],
        "parameters": params,
        "responses": {
            "200": {"description": ok, "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": {"$ref": "#/components/responses/Error"},
            "401": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"},
            "429": {"$ref": "#/components/responses/Error"}
        }
    })
}

fn with_body(mut op: Value, schema: Value, status: &str) -> Value {
    if let Some(m) = op.as_object_mut() {
        m.insert(
            "requestBody".into(),
            json!({"content": {"application/json": {"schema": schema}}}),
        );
        if status != "200" {
            if let Some(r) = m.get_mut("responses").and_then(Value::as_object_mut) {
                if let Some(ok) = r.remove("200") {
                    r.insert(status.into(), ok);
                }
                r.insert(
                    "409".into(),
                    json!({"$ref": "#/components/responses/Error"}),
                );
            }
        }
    }
    op
}

/// `op` with a JSON array as its 200 body.
fn array_ok(mut op: Value) -> Value {
    if let Some(r) = op.pointer_mut("/responses/200/content/application~1json/schema") {
        *r = json!({"type": "array", "items": {"type": "object"}});
    }
    op
}

/// The read API, churn, datasets, live and dashboard routes.
fn read_paths(paths: &mut serde_json::Map<String, Value>) {
    let days = |d: u32| {
        param(
            "days",
            json!({"type": "integer", "minimum": 1, "maximum": 3660, "default": d}),
            "the last N days up to now",
        )
    };
    let period = |d: &str| {
        param(
            "period",
            json!({"enum": ["day", "week", "month"], "default": d}),
            "period of the rows",
        )
    };
    let mut put = |p: &str, v: Value| {
        paths.insert(p.into(), v);
    };
    put(
        "/api/metrics",
        json!({"get": read_op("Visitors, conversions (events named in the server's conversion list, default purchase, signup, payment_completed), conversion rate, pages per session, traffic sources, recent conversions", "analytics", vec![days(7)], "MetricsReport")}),
    );
    put(
        "/api/active-users",
        json!({"get": read_op("DAU / WAU / MAU, rolling WAU_7 / MAU_30, stickiness", "analytics", vec![days(30), period("day")], "ActiveUsersReport")}),
    );
    put(
        "/api/retention",
        json!({"get": read_op("Retention cohorts (counts and percentages)", "analytics", vec![days(90), period("week"), param("mode", json!({"enum": ["first_time", "recurring"]}), "cohort mode"), param("periods", json!({"type": "integer", "minimum": 1}), "largest number of columns")], "RetentionReport")}),
    );
    put(
        "/api/revenue",
        json!({"get": read_op("Revenue, ARPU, ARPPU, churn rate, LTV, signup conversion", "analytics", vec![days(365), period("month"), param("currency", json!({"type": "string"}), "ISO currency (default: the most frequent)")], "RevenueReport")}),
    );
    put(
        "/api/sessions",
        json!({"get": read_op("Sessions, duration, pages, bounce rate, sources, entry and exit pages", "analytics", vec![days(30), period("day"), param("top", json!({"type": "integer", "minimum": 1, "maximum": 1000}), "length of the top lists")], "SessionsReport")}),
    );
    let export_op = read_op(
        "Export events as CSV, a JSON array or NDJSON",
        "analytics",
        vec![
            days(30),
            param(
                "format",
                json!({"enum": ["csv", "json", "ndjson"], "default": "json"}),
                "output format",
            ),
        ],
        "the events",
    );
    let mut export_op = export_op;
    if let Some(r) = export_op.pointer_mut("/responses/200") {
        *r = json!({"description": "the events: a JSON array (format=json), NDJSON or CSV", "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}}
        }});
    }
    put("/api/export", json!({"get": export_op}));
    let mut user_get = read_op(
        "A user: record, event count, first / last seen, recent events, latest churn score",
        "users",
        vec![],
        "the profile",
    );
    let mut user_del = read_op(
        "Delete everything stored about a user (GDPR erasure)",
        "users",
        vec![],
        "DeleteReport",
    );
    let mut user_exp = read_op(
        "Everything stored about a user (GDPR access)",
        "users",
        vec![],
        "UserExport",
    );
    for op in [&mut user_get, &mut user_del, &mut user_exp] {
        if let Some(m) = op.as_object_mut() {
            m.insert("parameters".into(), json!([path_id("user id")]));
        }
    }
    put(
        "/api/users/{id}",
        json!({"get": user_get, "delete": user_del}),
    );
    put("/api/users/{id}/export", json!({"get": user_exp}));
    put(
        "/api/churn/scores",
        json!({"get": read_op("Scores of the latest run, highest first", "churn", vec![
        param("segment", json!({"enum": ["low", "medium", "high", "critical"]}), "only this risk segment (case-insensitive)"),
        param("limit", json!({"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}), "page size"),
        param("offset", json!({"type": "integer", "minimum": 0, "default": 0}), "rows to skip")], "a page of scores")}),
    );
    put(
        "/api/churn/train",
        json!({"post": with_body(read_op("Train a churn model and score every active user (background job)", "churn", vec![], "TrainingStatus (running)"),
        json!({"type": "object", "additionalProperties": false, "properties": {"as_of": {"type": ["string", "number", "null"], "description": "RFC 3339 date-time or epoch milliseconds"}, "horizon_days": {"type": ["integer", "null"]}, "lookback_days": {"type": ["integer", "null"]}}}), "202")}),
    );
    put(
        "/api/churn/training-status",
        json!({"get": read_op("State of the last training run", "churn", vec![], "TrainingStatus")}),
    );
    put(
        "/api/churn/predict",
        json!({"post": with_body(read_op("Churn probability, risk segment and reasons for one customer's transactions", "churn", vec![], "prediction"),
        json!({"type": "object", "required": ["transactions"], "additionalProperties": false, "properties": {
            "transactions": {"type": "array", "items": {"type": "object", "required": ["customer_id", "date", "amount", "event_type"], "properties": {"customer_id": {"type": "string"}, "date": {"type": "string", "format": "date-time"}, "amount": {"type": "number"}, "event_type": {"type": "string"}}}},
            "as_of": {"type": ["string", "number", "null"], "description": "RFC 3339 date-time or epoch milliseconds"}}}), "200")}),
    );
    let mut upload = read_op("Upload a CSV or NDJSON dataset (raw body or multipart field `file`); imported in the background", "datasets",
        vec![param("format", json!({"enum": ["csv", "ndjson"]}), "format (default: from the content type, file name or content)")], "DatasetStatus (running)");
    if let Some(m) = upload.as_object_mut() {
        m.insert("requestBody".into(), json!({"content": {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}, "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}}));
        if let Some(r) = m.get_mut("responses").and_then(Value::as_object_mut) {
            if let Some(ok) = r.remove("200") {
                r.insert("202".into(), ok);
            }
            r.insert(
                "413".into(),
                json!({"$ref": "#/components/responses/Error"}),
            );
        }
    }
    put("/api/datasets", json!({"post": upload}));
    let mut ds = read_op(
        "Progress and report of an upload",
        "datasets",
        vec![],
        "DatasetStatus",
    );
    if let Some(m) = ds.as_object_mut() {
        m.insert("parameters".into(), json!([path_id("dataset id")]));
    }
    put("/api/datasets/{id}", json!({"get": ds}));
    let mut live = read_op("Server-Sent Events: `stats` every second ({at, events_per_second, active_users}), `alert` when users enter the Critical segment", "live", vec![], "event stream");
    if let Some(r) = live.pointer_mut("/responses/200") {
        *r = json!({"description": "event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}});
    }
    put("/api/live", json!({"get": live}));
    put(
        "/api/funnel",
        json!({"get": read_op("Funnel conversion (ordered, strict or unordered) within a window from the first step", "analytics", vec![
        param("steps", json!({"type": "string"}), "comma-separated event names (2 or more)"),
        param("window", json!({"type": "string", "default": "7d"}), "conversion window: 7d, 12h, 90m"),
        days(30),
        param("mode", json!({"enum": ["ordered", "strict", "unordered"], "default": "ordered"}), "funnel mode"),
        param("breakdown", json!({"type": "string"}), "property of the first step to break down by"),
        param("segment", json!({"type": "string"}), "saved segment name")], "FunnelReport")}),
    );
    let seg_body = json!({"type": "object", "required": ["expr"], "additionalProperties": false, "properties": {"name": {"type": "string"}, "expr": {"type": "string", "description": "e.g. did(feature_used, >= 3, 14d)"}, "description": {"type": "string"}}});
    put(
        "/api/segments",
        json!({
            "get": array_ok(read_op("Saved segments", "segments", vec![], "SavedSegment[]")),
            "post": with_body(read_op("Save a segment", "segments", vec![], "SavedSegment"), seg_body.clone(), "201")
        }),
    );
    let named = |mut op: Value| {
        if let Some(m) = op.as_object_mut() {
            m.insert("parameters".into(), json!([{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}]));
        }
        op
    };
    put(
        "/api/segments/{name}",
        json!({
            "get": named(read_op("A saved segment with its size and statistics", "segments", vec![], "{segment, stats}")),
            "put": named(with_body(read_op("Change a segment's condition or description", "segments", vec![], "SavedSegment"), seg_body, "200")),
            "delete": named(read_op("Delete a saved segment", "segments", vec![], "{deleted}"))
        }),
    );
    put(
        "/api/dashboard",
        json!({"get": read_op("Dashboard data: SVG charts, at-risk table, summary", "dashboard", vec![days(30)], "DashboardData")}),
    );
    put(
        "/",
        json!({"get": {"summary": "The dashboard page (login form; data is fetched with the secret key)", "tags": ["dashboard"], "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}}}),
    );
}

/// The OpenAPI 3.1 document of every route (`GET /openapi.json`).
pub(crate) fn openapi_document() -> Value {
    let mut paths = serde_json::Map::new();
    let segment_ok =
        report_response(json!({"type": "object", "properties": {"success": {"type": "boolean"}}}));
    for call in ["track", "identify", "page", "screen", "group", "alias"] {
        paths.insert(
            format!("/v1/{call}"),
            json!({"post": ingest_op(&format!("Segment {call} call (one message)"), "segment", "SegmentMessage", segment_ok.clone())}),
        );
    }
    for p in ["/v1/batch", "/v1/import"] {
        paths.insert(
            p.into(),
            json!({"post": ingest_op("Segment batch: {batch, sentAt, context, writeKey}", "segment", "SegmentBatch", segment_ok.clone())}),
        );
    }
    let ph_ok = report_response(json!({"type": "object", "properties": {"status": {"const": 1}}}));
    for &p in super::posthog::PATHS {
        let mut op = ingest_op("PostHog capture (array, {api_key, batch, sent_at} or one event; gzip, base64, form data=)", "posthog", "PostHogBody", ph_ok.clone());
        if let Some(m) = op.as_object_mut() {
            m.insert("parameters".into(), json!([
                {"name": "compression", "in": "query", "schema": {"type": "string", "enum": ["gzip-js", "base64"]}},
                {"name": "_", "in": "query", "description": "client send time, epoch ms (sent_at)", "schema": {"type": "integer"}},
                {"name": "beacon", "in": "query", "description": "1: answered 204 without a body", "schema": {"type": "string"}},
                {"name": "data", "in": "query", "description": "GET payload (base64 or JSON)", "schema": {"type": "string"}}
            ]));
            m.insert("security".into(), json!([{}]));
        }
        let mut get = op.clone();
        if let Some(m) = get.as_object_mut() {
            m.remove("requestBody");
        }
        paths.insert(p.into(), json!({"post": op, "get": get}));
    }
    let native_ok = report_response(json!({"type": "object"}));
    paths.insert("/api/track".into(), json!({"post": ingest_op("Track one message, an array, or {batch: [...]}; also the {sessionId, type, category, action, label, value, path, timestamp} shape", "native", "NativeBody", native_ok.clone())}));
    paths.insert("/api/identify".into(), json!({"post": ingest_op("Identify one user or a batch", "native", "NativeBody", native_ok)}));
    paths.insert("/health".into(), json!({"get": {"summary": "Store status and queue depth", "tags": ["admin"], "responses": {
        "200": {"description": "Healthy", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
        "503": {"description": "The store is unavailable", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}
    }}}));
    paths.insert("/openapi.json".into(), json!({"get": {"summary": "This document", "tags": ["admin"], "responses": {"200": {"description": "OpenAPI 3.1"}}}}));
    let project_ok = json!({"description": "The project", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Project"}}}});
    paths.insert("/api/project".into(), json!({
        "get": {"summary": "The project of the secret key", "tags": ["admin"], "security": [{"bearerKey": []}], "responses": {"200": project_ok, "401": {"$ref": "#/components/responses/Error"}}},
        "patch": {"summary": "Set allowed browser origins", "tags": ["admin"], "security": [{"bearerKey": []}],
                  "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"cors_origins": {"type": ["array", "null"], "items": {"type": "string"}, "description": "null or absent: unchanged"}, "webhook_url": {"type": ["string", "null"], "description": "null: no webhook; absent: unchanged"}}, "additionalProperties": false}}}},
                  "responses": {"200": project_ok, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}}}
    }));
    read_paths(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "churnlens", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Event ingestion (native, Segment- and PostHog-compatible) and administration. Errors: {\"error\": {\"code\", \"message\"}}."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "basicWriteKey": {"type": "http", "scheme": "basic", "description": "write key as user name, empty password (Segment)"},
                "bearerKey": {"type": "http", "scheme": "bearer", "description": "write key (ingestion) or secret key (reads, admin)"}
            },
            "responses": {"Error": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "Rejected": {"type": "object", "properties": {"index": {"type": "integer"}, "code": {"type": "string"}, "reason": {"type": "string"}}},
                "BatchReport": {"type": "object", "properties": {"accepted": {"type": "integer"}, "duplicates": {"type": "integer"}, "rejected": {"type": "array", "items": {"$ref": "#/components/schemas/Rejected"}}}},
                "Message": {"type": "object", "description": "type (track, page, screen, identify, alias), event, name, user_id/userId, anonymous_id/anonymousId, previous_id/previousId, message_id/messageId, session_id/sessionId, timestamp, properties, traits, context", "additionalProperties": true},
                "SimpleEvent": {"type": "object", "properties": {"sessionId": {"type": "string"}, "type": {"type": "string"}, "category": {"type": "string"}, "action": {"type": "string"}, "label": {"type": "string"}, "value": {}, "path": {"type": "string"}, "timestamp": {}}},
                "NativeBody": {"oneOf": [
                    {"$ref": "#/components/schemas/Message"}, {"$ref": "#/components/schemas/SimpleEvent"},
                    {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
                    {"type": "object", "required": ["batch"], "properties": {"batch": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}}, "writeKey": {"type": "string"}}}
                ]},
                "SegmentMessage": {"type": "object", "additionalProperties": true, "properties": {"writeKey": {"type": "string"}, "sentAt": {"type": "string"}}},
                "SegmentBatch": {"type": "object", "required": ["batch"], "properties": {"batch": {"type": "array", "items": {"$ref": "#/components/schemas/SegmentMessage"}}, "sentAt": {"type": "string"}, "context": {"type": "object"}, "integrations": {"type": "object"}, "writeKey": {"type": "string"}}},
                "PostHogEvent": {"type": "object", "properties": {"event": {"type": "string"}, "distinct_id": {}, "properties": {"type": "object"}, "uuid": {"type": "string"}, "timestamp": {"type": "string"}, "offset": {"type": "integer"}, "api_key": {"type": "string"}, "$set": {"type": "object"}}},
                "PostHogBody": {"oneOf": [
                    {"type": "array", "items": {"$ref": "#/components/schemas/PostHogEvent"}},
                    {"type": "object", "required": ["batch"], "properties": {"batch": {"type": "array", "items": {"$ref": "#/components/schemas/PostHogEvent"}}, "api_key": {"type": "string"}, "sent_at": {"type": "string"}}},
                    {"$ref": "#/components/schemas/PostHogEvent"}
                ]},
                "Health": {"type": "object", "properties": {"status": {"enum": ["ok", "degraded"]}, "store": {"type": "object"}, "queue_depth": {"type": "integer"}, "projects": {"type": "integer"}, "version": {"type": "string"}}},
                "Project": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "cors_origins": {"type": "array", "items": {"type": "string"}}, "created_at": {"type": "string"}}}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::app::route_table;

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let doc = openapi_document();
        let paths = doc["paths"].as_object().unwrap();
        let table = route_table();
        for r in &table {
            for m in &r.methods {
                let m = m.as_str().to_ascii_lowercase();
                assert!(
                    paths.get(r.path).and_then(|p| p.get(&m)).is_some(),
                    "{m} {} is not in the OpenAPI document",
                    r.path
                );
            }
        }
        for (path, ops) in paths {
            let r = table
                .iter()
                .find(|r| r.path == path)
                .unwrap_or_else(|| panic!("{path} is documented but not routed"));
            for m in ops.as_object().unwrap().keys() {
                assert!(
                    r.methods.iter().any(|x| x.as_str().eq_ignore_ascii_case(m)),
                    "{m} {path} is documented but not routed"
                );
            }
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }
}
