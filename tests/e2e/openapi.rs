use std::collections::BTreeSet;

use serde_json::Value;

use crate::api::Api;

/// Every `.route("path", method(..))` in the given sources, as (METHOD, path).
fn routes_in(files: &[&str]) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for file in files {
        let source = std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let mut rest = source.as_str();
        while let Some(start) = rest.find(".route(\"") {
            rest = &rest[start + 8..];
            let path_end = rest.find('"').unwrap();
            let path = rest[..path_end].to_owned();
            // The call's arguments end where its parentheses balance.
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            let call = &rest[path_end..end];
            for method in ["get", "post", "put", "patch", "delete"] {
                let mut search = call;
                while let Some(at) = search.find(&format!("{method}(")) {
                    let before = search[..at].chars().last();
                    if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                        found.insert((method.to_owned(), path.clone()));
                    }
                    search = &search[at + method.len()..];
                }
            }
            rest = &rest[end..];
        }
    }
    found
}

/// Both APIs publish an OpenAPI 3.1 document at /openapi.json that holds every route the code
/// registers (found by reading the router sources, so a new route without documentation fails).
/// Every `.rs` file under `dir` (relative to the checkout), in folders too.
fn sources(dir: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(format!("{}/{dir}", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{dir}/{}", entry.file_name().to_string_lossy());
        if entry.file_type().unwrap().is_dir() {
            found.extend(sources(&name));
        } else if name.ends_with(".rs") {
            found.push(name);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_in_the_openapi_document() {
    let api = Api::start().await;
    let command_sources = sources("command-api/src/routes");
    let query_sources = sources("query-api/src");
    let mut expectations = vec![
        (api.command.clone(), routes_in(&command_sources.iter().map(String::as_str).collect::<Vec<_>>())),
        (api.query.clone(), routes_in(&query_sources.iter().map(String::as_str).collect::<Vec<_>>())),
    ];
    let ops = routes_in(&["src/ops.rs"]);
    assert!(ops.contains(&("get".to_owned(), "/openapi.json".to_owned())));
    for (_, routes) in &mut expectations {
        assert!(routes.len() >= 8, "found too few routes: {routes:?}");
        routes.extend(ops.iter().cloned());
    }
    for (base, routes) in expectations {
        let doc: Value =
            api.http.get(format!("{base}/openapi.json")).send().await.unwrap().json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
        for (method, path) in &routes {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is missing from {base}/openapi.json"
            );
        }
        let documented: usize =
            doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(documented, routes.len(), "the document describes routes the code does not serve");
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
    api.stop().await;
}
