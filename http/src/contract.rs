//! The parts of the API contract every operation shares, added to an OpenAPI document in one
//! place instead of being spelled out on every handler: the problem responses an operation can
//! answer, the headers every answer carries, the conditional-request and idempotency headers,
//! `security: []` on public operations, and the servers.
//!
//! The rules follow what the code does: every `/v1` operation can answer 400 (a bad parameter
//! or header), 429, 500 and 503; an authenticated one 401, 403 and 404 (another tenant's ids
//! are 404); a command 409 and 422; one with a JSON body 413 and 415; a change of an existing
//! resource takes `If-Match` (412, 428); a detail read answers an `ETag` and takes
//! `If-None-Match` (304).

use serde_json::{json, Map, Value};

/// Which API a document describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The command API (writes).
    Command,
    /// The query API (reads).
    Query,
}

/// Completes `doc` (utoipa's output, as JSON) with the shared contract.
pub fn complete(mut doc: Value, side: Side, server_url: &str) -> Value {
    doc["servers"] = json!([{ "url": server_url, "description": match side {
        Side::Command => "The command API: every change is a command here",
        Side::Query => "The query API: views built from the event log",
    }}]);
    let components = doc["components"].as_object_mut().map(std::mem::take).unwrap_or_default();
    doc["components"] = Value::Object(with_shared_components(components));
    refer_page_items(&mut doc["components"]["schemas"]);
    extend_problem(&mut doc["components"]["schemas"]);
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for (method, operation) in item.iter_mut() {
                if let Some(operation) = operation.as_object_mut() {
                    complete_operation(operation, side, path, method);
                }
            }
        }
    }
    doc
}

fn complete_operation(op: &mut Map<String, Value>, side: Side, path: &str, method: &str) {
    let versioned = path.starts_with("/v1/");
    let secured = op.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
    if !secured {
        op.insert("security".to_owned(), json!([]));
    }
    if !op.contains_key("summary") {
        let summary = op.get("operationId").and_then(Value::as_str).unwrap_or(method).replace('_', " ");
        op.insert("summary".to_owned(), json!(capitalize(&summary)));
    }
    let command = side == Side::Command && method != "get";
    let change = command && (method == "patch" || method == "delete" || path.contains('{'));
    let detail = side == Side::Query && method == "get" && (path.ends_with('}') || path == "/v1/tenant");
    let has_body = op.contains_key("requestBody");

    let mut parameters: Vec<&str> = Vec::new();
    if command && versioned {
        parameters.push("IdempotencyKey");
    }
    if change {
        parameters.push("IfMatch");
    }
    if detail {
        parameters.push("IfNoneMatch");
    }
    let list = op.entry("parameters").or_insert_with(|| json!([]));
    if let Some(list) = list.as_array_mut() {
        for name in parameters {
            list.push(json!({ "$ref": format!("#/components/parameters/{name}") }));
        }
        if list.is_empty() {
            op.remove("parameters");
        }
    }

    let mut shared: Vec<(&str, &str)> = vec![("500", "Internal"), ("503", "Unavailable")];
    if versioned {
        shared.extend([("400", "BadRequest"), ("429", "TooManyRequests")]);
    }
    if secured {
        shared.extend([("401", "Unauthorized"), ("403", "Forbidden"), ("404", "NotFound")]);
    }
    if command && versioned {
        shared.extend([("409", "Conflict"), ("422", "Unprocessable")]);
    }
    if has_body {
        shared.extend([("413", "PayloadTooLarge"), ("415", "UnsupportedMediaType")]);
    }
    if change {
        shared.extend([("412", "PreconditionFailed"), ("428", "PreconditionRequired")]);
    }
    if detail {
        shared.push(("304", "NotModified"));
    }
    let responses = op.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else { return };
    for (status, name) in shared {
        responses
            .entry(status)
            .or_insert_with(|| json!({ "$ref": format!("#/components/responses/{name}") }));
    }
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else { continue };
        if response.contains_key("$ref") {
            continue;
        }
        let headers = response.entry("headers").or_insert_with(|| json!({}));
        let Some(headers) = headers.as_object_mut() else { continue };
        let mut add = |name: &str, component: &str| {
            headers
                .entry(name)
                .or_insert_with(|| json!({ "$ref": format!("#/components/headers/{component}") }));
        };
        add("X-Request-Id", "RequestId");
        if secured {
            add("RateLimit", "RateLimit");
            add("RateLimit-Policy", "RateLimitPolicy");
        }
        let success = status.starts_with('2');
        if success && command && versioned {
            add("Idempotent-Replayed", "IdempotentReplayed");
        }
        if status == "201" || status == "202" {
            add("Location", "Location");
        }
        if success && detail {
            add("ETag", "ETag");
        }
        if status == "503" {
            add("Retry-After", "RetryAfter");
        }
    }
}

/// Page items by reference: `Page_SiteView.items` is an array of `SiteView`, not a copy of it.
fn refer_page_items(schemas: &mut Value) {
    let Some(map) = schemas.as_object_mut() else { return };
    let pages: Vec<(String, String)> = map
        .keys()
        .filter_map(|name| name.strip_prefix("Page_").map(|item| (name.clone(), item.to_owned())))
        .filter(|(_, item)| map.contains_key(item))
        .collect();
    for (page, item) in pages {
        if let Some(items) = map.get_mut(&page).and_then(|p| p.pointer_mut("/properties/items/items")) {
            *items = json!({ "$ref": format!("#/components/schemas/{item}") });
        }
    }
}

/// A schema that is a problem with more members (`NotReady`: a problem and its checks) is
/// stated as one: `allOf` the `Problem` schema and its own members.
fn extend_problem(schemas: &mut Value) {
    let Some(map) = schemas.as_object_mut() else { return };
    let problem_members = ["type", "title", "status", "detail", "instance"];
    for (name, schema) in map.iter_mut() {
        if name == "Problem" || schema.get("allOf").is_some() {
            continue;
        }
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !["type", "title", "status"].iter().all(|m| required.contains(m)) {
            continue;
        }
        let mut own = schema.clone();
        if let Some(properties) = own.get_mut("properties").and_then(Value::as_object_mut) {
            properties.retain(|k, _| !problem_members.contains(&k.as_str()));
        }
        if let Some(required) = own.get_mut("required").and_then(Value::as_array_mut) {
            required.retain(|k| !k.as_str().is_some_and(|k| problem_members.contains(&k)));
        }
        *schema = json!({ "allOf": [{ "$ref": "#/components/schemas/Problem" }, own] });
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// A problem response: its description and, for the ones a client should wait on, headers.
fn problem(description: &str, headers: &[&str]) -> Value {
    let mut response = json!({
        "description": description,
        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } },
    });
    let mut map = Map::new();
    map.insert("X-Request-Id".to_owned(), json!({ "$ref": "#/components/headers/RequestId" }));
    // Every answer to an authenticated request says what is left of the caller's allowance,
    // refusals included; an unauthenticated one has no allowance to speak of.
    let authenticated = !headers.contains(&"WWW-Authenticate");
    let allowance: &[&str] = if authenticated { &["RateLimit", "RateLimit-Policy"] } else { &[] };
    for header in headers.iter().chain(allowance) {
        let component = header.replace('-', "");
        map.insert((*header).to_owned(), json!({ "$ref": format!("#/components/headers/{component}") }));
    }
    response["headers"] = Value::Object(map);
    response
}

fn header(description: &str, schema: Value) -> Value {
    json!({ "description": description, "schema": schema })
}

fn with_shared_components(mut components: Map<String, Value>) -> Map<String, Value> {
    let string = json!({ "type": "string" });
    let headers = json!({
        "RequestId": header("This request's id (set by the caller, or made by Berth), copied into the metadata of every event the request causes.", string.clone()),
        "RetryAfter": header("Seconds to wait before trying again.", json!({ "type": "integer", "minimum": 1 })),
        "RateLimit": header("What is left of the caller's allowance (IETF draft `RateLimit`): `\"per-token\";r=<requests left>;t=<seconds until it is full again>`. On every answer to an authenticated request.", string.clone()),
        "RateLimitPolicy": header("The caller's allowance (IETF draft `RateLimit-Policy`): `\"per-token\";q=<requests>;w=60`, per process.", string.clone()),
        "IdempotentReplayed": header("`true` when this is the first answer to an earlier request with the same Idempotency-Key, replayed.", json!({ "type": "string", "enum": ["true"] })),
        "Location": header("The query API URL that shows the result, with `min_version` set to the version this command reached.", json!({ "type": "string", "format": "uri" })),
        "ETag": header("The resource's version, quoted: send it back in `If-Match` to change the resource only if it is still this version, or in `If-None-Match` to be told 304 if it is.", string.clone()),
        "WWWAuthenticate": header("How to authenticate: `Bearer realm=\"berth\"`.", string.clone()),
    });
    let parameters = json!({
        "IdempotencyKey": { "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Makes a retry safe: a repeat with the same key and body gets the first answer and changes nothing; another body with the same key is 422; a repeat while the first is still running is 409 with Retry-After.",
            "schema": { "type": "string", "minLength": 1, "maxLength": 255 } },
        "IfMatch": { "name": "If-Match", "in": "header", "required": false,
            "description": "The ETag of the version this change is meant for: a stale one is 412 and changes nothing. Required (428 without it) when the provider sets `command_api.require_if_match`.",
            "schema": { "type": "string", "examples": ["\"3\""] } },
        "IfNoneMatch": { "name": "If-None-Match", "in": "header", "required": false,
            "description": "An ETag the caller holds: 304 without a body if the resource is still at that version.",
            "schema": { "type": "string", "examples": ["\"3\""] } },
    });
    let responses = json!({
        "BadRequest": problem("A malformed body, query or path parameter or header; `field` names it", &[]),
        "Unauthorized": problem("No bearer token, or an unknown, revoked or expired one", &["WWW-Authenticate"]),
        "Forbidden": problem("The caller's role does not allow this", &[]),
        "NotFound": problem("No such resource for this caller (another tenant's ids included)", &[]),
        "Conflict": problem("The command does not fit the current state (its own problem type says which), a unique value is taken, a concurrent change kept winning, or a request with this Idempotency-Key is still running", &["Retry-After"]),
        "Unprocessable": problem("The command breaks a rule (its own problem type says which), or the Idempotency-Key was used for another request", &[]),
        "PreconditionFailed": problem("If-Match names another version than the current one; nothing changed", &[]),
        "PreconditionRequired": problem("This provider requires If-Match on changes", &[]),
        "PayloadTooLarge": problem("The body is over the size limit", &[]),
        "UnsupportedMediaType": problem("The body is not `application/json`", &[]),
        "TooManyRequests": problem("Over the caller's allowance", &["Retry-After", "RateLimit", "RateLimit-Policy"]),
        "Internal": problem("Something failed on Berth's side; the details are in its logs", &[]),
        "Unavailable": problem("A backing service is down, or the view has not reached the asked version yet", &["Retry-After"]),
        "NotModified": { "description": "Not modified: the resource is still at the version in If-None-Match",
            "headers": { "ETag": { "$ref": "#/components/headers/ETag" }, "X-Request-Id": { "$ref": "#/components/headers/RequestId" },
                "RateLimit": { "$ref": "#/components/headers/RateLimit" }, "RateLimit-Policy": { "$ref": "#/components/headers/RateLimitPolicy" } } },
    });
    let problem_schema =
        serde_json::to_value(<crate::Problem as utoipa::PartialSchema>::schema()).unwrap_or_default();
    let schemas = json!({ "Problem": problem_schema });
    for (kind, shared) in
        [("headers", headers), ("parameters", parameters), ("responses", responses), ("schemas", schemas)]
    {
        let entry = components.entry(kind).or_insert_with(|| json!({}));
        if let (Some(entry), Value::Object(shared)) = (entry.as_object_mut(), shared) {
            for (name, value) in shared {
                entry.entry(name).or_insert(value);
            }
        }
    }
    components
}
