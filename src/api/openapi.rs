//! The OpenAPI 3.1 document of the API, served at `GET /openapi.json` without a credential.
//!
//! It is generated from the code so it cannot drift: the wire types derive `ToSchema` (and the
//! list queries `IntoParams`), each handler carries its `#[utoipa::path]` with what is its own
//! (method, path template, its own parameters, body, success answer and route-specific error
//! causes), and this module assembles them and adds, in one place, what follows from the
//! route: the operation id, the tag, the ids in a `/v1` path and the 404 of an unknown one,
//! the 400 causes of a JSON body, of paging and of a query string, the error shape of every
//! 4xx; and what the router's layers add to every route of a group (see [`super::router`]):
//! the credential and its 401 on `/v1/...`, 413 where a body is read, 500 and 503
//! everywhere, `X-Request-Id` on every answer. The `/_wafcert/...` test controls are in the
//! document only when the server runs with them.
//!
//! Operation ids: an API operation has its SDK name from [`super::operation::operation`] (the
//! one mapping of routes to names); every other route (health, readiness, metrics, this
//! document, test controls) names itself, starting with `Wafcert`. `tests/api/openapi.rs`
//! holds both to that and compares the document with the committed snapshots.

use axum::body::Bytes;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use utoipa::OpenApi;
use utoipa::openapi::path::{
    HttpMethod, Operation, Parameter, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, OpenApi as Document, Ref, RefOr, Required, Response as Answer,
};

use super::error::ErrorBody;
use super::extract::{ID_PATTERN, path_id_kind};
use super::{AppState, certificates, events, hosts, keystone, metrics, policies, rotation};
use super::{test_controls, test_controls::clock, test_controls::faults, test_controls::journal};

/// The routes every server has.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "wafcert",
        description = "Certificate management of the Open Telekom Cloud / Huawei Cloud WAF \
            (dedicated mode), self-hosted. Errors of `/v1/...` answer \
            `{\"error_code\", \"error_msg\"}` (an unknown resource is `WAF.00014001` instead of \
            `WAF.00022001` under `--contract otc`); the `/v3` identity routes answer Keystone's \
            `{\"error\": {\"code\", \"title\", \"message\"}}`. Every answer carries \
            `X-Request-Id`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        certificates::list,
        certificates::create,
        certificates::show,
        certificates::update,
        certificates::delete,
        certificates::apply_to_hosts,
        rotation::rotate,
        rotation::details,
        hosts::list,
        hosts::create,
        hosts::show,
        hosts::update,
        hosts::delete,
        hosts::protect_status,
        policies::list,
        policies::create,
        policies::show,
        policies::update,
        policies::delete,
        events::list,
        keystone::versions,
        keystone::version,
        keystone::issue,
        keystone::validate,
        keystone::revoke,
        keystone::projects::list,
        keystone::projects::show,
        keystone::projects::auth_projects,
        keystone::projects::auth_domains,
        super::ready,
        metrics::scrape,
        document_json,
    ),
    components(schemas(ErrorBody<'static>, keystone::ErrorEnvelope<'static>)),
    tags(
        (name = "certificates", description = "Certificates and their binding to hosts"),
        (name = "hosts", description = "Protected domains (dedicated-mode hosts)"),
        (name = "policies", description = "Protection policies, as far as hosts need them"),
        (name = "wafcert extensions", description = "wafcert's own routes under `/v1/{project_id}/wafcert`"),
        (name = "identity", description = "Keystone v3 compatible identity"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

/// The test controls, only with `serve --test-controls`.
#[derive(OpenApi)]
#[openapi(
    paths(
        clock::show,
        clock::change,
        test_controls::reset,
        test_controls::seed,
        journal::show,
        journal::clear,
        faults::show,
        faults::add,
        faults::clear,
    ),
    tags((name = "test controls", description = "Clock, reset, ids, request journal and \
        injected faults; no credential, for tests only"))
)]
struct TestControlsDoc;

/// The security scheme of `X-Auth-Token`.
const TOKEN: &str = "token";
/// The security scheme of AK/SK signing.
const AKSK: &str = "aksk";

/// The document of a server with (`true`) or without test controls.
pub fn document(test_controls: bool) -> Document {
    let mut doc = ApiDoc::openapi();
    if test_controls {
        doc.merge(TestControlsDoc::openapi());
    }
    add_health(&mut doc);
    add_security_schemes(&mut doc);
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in operations(item) {
            add_route_facts(path, &method, operation);
        }
    }
    add_check_token(&mut doc);
    for (path, item) in doc.paths.paths.iter_mut() {
        for (_, operation) in operations(item) {
            add_layer_answers(path, operation);
        }
    }
    doc
}

/// `GET /openapi.json` of a server with or without test controls: the document, built once.
pub(super) fn route(test_controls: bool) -> MethodRouter<AppState> {
    let json = match serde_json::to_vec(&document(test_controls)) {
        Ok(json) => Bytes::from(json),
        // Serialising plain data cannot fail; answer an empty document rather than panic.
        Err(_) => Bytes::from_static(b"{}"),
    };
    get(move || document_json(json.clone()))
}

/// `GET /openapi.json`: this document (OpenAPI 3.1).
#[utoipa::path(get, path = "/openapi.json", operation_id = "WafcertOpenApi",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
async fn document_json(json: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

/// `GET /healthz` (a closure in the router): 200 `ok` while the process runs.
fn add_health(doc: &mut Document) {
    let ok = ResponseBuilder::new()
        .description("The process runs")
        .content(
            "text/plain; charset=utf-8",
            ContentBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["ok"])),
                ))
                .build(),
        )
        .build();
    let operation = utoipa::openapi::path::OperationBuilder::new()
        .operation_id(Some("WafcertHealth"))
        .summary(Some(
            "`GET /healthz`: liveness, without touching the database",
        ))
        .response("200", ok)
        .build();
    doc.paths.paths.insert(
        "/healthz".to_owned(),
        PathItem::new(HttpMethod::Get, operation),
    );
}

/// `HEAD /v3/auth/tokens` (`KeystoneCheckToken`): axum answers HEAD with the GET handler
/// (`KeystoneValidateToken`) and drops the body, so it is that operation without bodies.
fn add_check_token(doc: &mut Document) {
    let Some(item) = doc.paths.paths.get_mut("/v3/auth/tokens") else {
        return;
    };
    let Some(get) = item.get.clone() else {
        return;
    };
    let mut head = get;
    head.operation_id = Some("KeystoneCheckToken".to_owned());
    head.summary =
        Some("`HEAD /v3/auth/tokens`: whether the `X-Subject-Token` is valid".to_owned());
    head.description = None;
    for answer in head.responses.responses.values_mut() {
        if let RefOr::T(answer) = answer {
            answer.content.clear();
        }
    }
    item.head = Some(head);
}

/// The two ways to authenticate a `/v1/...` request (and the identity lookups).
fn add_security_schemes(doc: &mut Document) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        TOKEN,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Auth-Token",
            "A token from `POST /v3/auth/tokens` (`X-Subject-Token`) or `wafcert token create`.",
        ))),
    );
    components.add_security_scheme(
        AKSK,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "Authorization",
            "AK/SK request signing as the Huawei Cloud SDKs do it: `Authorization: \
             SDK-HMAC-SHA256 Access=<access key id>, SignedHeaders=<names;...>, \
             Signature=<hex>` over the canonical request, with `X-Sdk-Date: \
             YYYYMMDDTHHMMSSZ` within 15 minutes of the server's clock. Access keys come from \
             `wafcert access-key create`.",
        ))),
    );
}

/// The operations of a path item, with their methods.
fn operations(item: &mut PathItem) -> impl Iterator<Item = (Method, &mut Operation)> {
    [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
        (Method::HEAD, item.head.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| Some((method, operation?)))
}

/// Whether `path` is an identity route, answering errors in Keystone's shape.
fn is_identity(path: &str) -> bool {
    path == "/" || path.starts_with("/v3")
}

/// The tag of an operation: the route group its path belongs to (the names of `tags(...)`).
fn tag(path: &str) -> &'static str {
    const BY_PREFIX: [(&str, &str); 5] = [
        ("/v1/{project_id}/waf/certificate", "certificates"),
        ("/v1/{project_id}/premium-waf/host", "hosts"),
        ("/v1/{project_id}/waf/policy", "policies"),
        ("/v1/{project_id}/wafcert/", "wafcert extensions"),
        ("/_wafcert/", "test controls"),
    ];
    if is_identity(path) {
        return "identity";
    }
    BY_PREFIX
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map_or("operations", |(_, tag)| tag)
}

/// A path template with every parameter filled in with an id, as a request would have it.
fn sample_path(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if s.starts_with('{') {
                "0123456789abcdef0123456789abcdef"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The names of a path template's parameters, in order.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
}

/// What follows from an operation's route rather than from its handler: its SDK name (the
/// operation table is the one mapping of routes to names), its tag, and on the WAF routes
/// the ids in its path with the 404 of an unknown one and the 400 causes of what it reads;
/// the error shape of every 4xx. The handler's attribute holds only what is its own.
fn add_route_facts(path: &str, method: &Method, operation: &mut Operation) {
    if let Some(name) = super::operation::operation(method, &sample_path(path)) {
        operation.operation_id = Some(name.to_owned());
    }
    operation.tags = Some(vec![tag(path).to_owned()]);
    if !is_identity(path) {
        add_path_ids(path, operation);
        add_bad_request(path, operation);
    }
    let error = if is_identity(path) {
        keystone_error()
    } else {
        waf_error()
    };
    if is_identity(path) && operation.security.is_some() {
        add_answer(operation, "401", "No valid credential", error.clone());
    }
    for (status, answer) in &mut operation.responses.responses {
        if let RefOr::T(answer) = answer
            && status.starts_with('4')
            && answer.content.is_empty()
        {
            answer.content.insert(
                "application/json".to_owned(),
                ContentBuilder::new().schema(Some(error.clone())).build(),
            );
        }
    }
}

/// The project and resource ids of a `/v1` path as parameters, ahead of the handler's own,
/// and the 404 of an id that names nothing in the project (unless the handler words it).
fn add_path_ids(path: &str, operation: &mut Operation) {
    let mut parameters = Vec::new();
    let mut resource = None;
    for name in path_parameters(path) {
        if name == "project_id" {
            parameters.push(id_parameter(
                name,
                "The project: 32 lowercase hex characters, the project of the credential \
                 (another one is 401 `WAF.00012002`)."
                    .to_owned(),
            ));
        } else if let Some(kind) = path_id_kind(name) {
            parameters.push(id_parameter(
                name,
                format!(
                    "The {kind}: 32 lowercase hex characters; a malformed one, or one of no \
                     {kind} of the project, is 404 `WAF.00022001`."
                ),
            ));
            resource = Some(kind);
        }
    }
    if parameters.is_empty() {
        return;
    }
    parameters.extend(operation.parameters.take().unwrap_or_default());
    operation.parameters = Some(parameters);
    if let Some(kind) = resource {
        add_answer(
            operation,
            "404",
            &format!("`WAF.00022001`: no such {kind} in the project"),
            waf_error(),
        );
    }
}

/// A path parameter holding an id.
fn id_parameter(name: &str, description: String) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(ID_PATTERN)),
        ))
        .build()
}

/// A cause of a 400 that follows from what an operation reads: its code, its words, and
/// whether it leads its code's clause (and the description) or ends them.
struct Cause {
    code: &'static str,
    words: &'static str,
    leads: bool,
}

/// The generic causes of an operation's 400: a JSON body, the paging of a list, any query
/// string.
fn bad_request_causes(path: &str, operation: &Operation) -> Vec<Cause> {
    let queries: Vec<&str> = operation
        .parameters
        .iter()
        .flatten()
        .filter(|p| p.parameter_in == ParameterIn::Query)
        .map(|p| p.name.as_str())
        .collect();
    let mut causes = Vec::new();
    if operation.request_body.is_some() {
        causes.push(Cause {
            code: "WAF.00011003",
            // The test controls' bodies take no unknown field, and say which field is bad.
            words: if path.starts_with("/_wafcert/") {
                "a bad field (the message names it), bad JSON or an unknown field"
            } else {
                "bad JSON"
            },
            leads: true,
        });
    }
    if queries.contains(&"page") {
        causes.push(Cause {
            code: "WAF.00011011",
            words: "bad `page` or `pagesize`",
            leads: true,
        });
    }
    if !queries.is_empty() {
        causes.push(Cause {
            code: "WAF.00011002",
            words: "a malformed query string",
            leads: false,
        });
    }
    causes
}

/// The 400 answer: the handler's own clauses (`` `CODE`: causes; ...``, only what is
/// particular to the route) with the generic causes merged in, each into its code's clause
/// (`` `WAF.00011003`: bad JSON, a missing name ``) or as a clause of its own.
fn add_bad_request(path: &str, operation: &mut Operation) {
    let causes = bad_request_causes(path, operation);
    if causes.is_empty() {
        return;
    }
    let mut clauses: Vec<String> = match operation.responses.responses.get("400") {
        Some(RefOr::T(answer)) => answer.description.split("; ").map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let mut leading = Vec::new();
    for cause in causes {
        let marker = format!("`{}`: ", cause.code);
        match clauses.iter_mut().find(|c| c.starts_with(&marker)) {
            Some(clause) if cause.leads => {
                clause.insert_str(marker.len(), &format!("{}, ", cause.words));
            }
            Some(clause) => clause.push_str(&format!(", or {}", cause.words)),
            None if cause.leads => leading.push(format!("{marker}{}", cause.words)),
            None => clauses.push(format!("{marker}{}", cause.words)),
        }
    }
    leading.append(&mut clauses);
    operation.responses.responses.remove("400");
    add_answer(operation, "400", &leading.join("; "), waf_error());
}

/// What the router's layers add to an operation on `path`.
fn add_layer_answers(path: &str, operation: &mut Operation) {
    let identity = is_identity(path);
    if path.starts_with("/v1/") {
        // The `protected` group: the authentication layer.
        operation.security = Some(vec![
            SecurityRequirement::new(TOKEN, Vec::<String>::new()),
            SecurityRequirement::new(AKSK, Vec::<String>::new()),
        ]);
        add_answer(
            operation,
            "401",
            "`WAF.00012001`: no, an unknown, expired or revoked credential, or a bad \
             signature; `WAF.00012002`: a credential of another project; `WAF.00012003`: the \
             role lacks the permission (a `readonly` credential writing)",
            waf_error(),
        );
    }
    if operation.request_body.is_some() {
        let (description, shape) = if identity {
            ("The body is larger than 16 KiB", keystone_error())
        } else {
            ("`WAF.00011003`: the body is larger than 1 MiB", waf_error())
        };
        add_answer(operation, "413", description, shape);
    }
    let (fail, busy) = if identity {
        (either_error(), either_error())
    } else {
        (waf_error(), waf_error())
    };
    add_answer(
        operation,
        "500",
        "`WAF.00010001`: an internal failure (the cause is logged, not sent)",
        fail,
    );
    add_answer(
        operation,
        "503",
        "`WAF.00010002`: storage is unavailable or full, or the request ran past the \
         server's deadline; retry later",
        busy,
    );
    let request_id = HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some("The request's id, also in the server's log"))
        .build();
    for answer in operation.responses.responses.values_mut() {
        if let RefOr::T(answer) = answer {
            answer
                .headers
                .insert("X-Request-Id".to_owned(), request_id.clone());
        }
    }
}

/// Adds an answer to `operation` unless the handler documents that status itself.
fn add_answer(operation: &mut Operation, status: &str, description: &str, schema: RefOr<Schema>) {
    if operation.responses.responses.contains_key(status) {
        return;
    }
    let answer: Answer = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build();
    operation
        .responses
        .responses
        .insert(status.to_owned(), RefOr::T(answer));
}

fn waf_error() -> RefOr<Schema> {
    Ref::from_schema_name("WafError").into()
}

fn keystone_error() -> RefOr<Schema> {
    Ref::from_schema_name("KeystoneError").into()
}

/// An identity route's 5xx: Keystone's shape from the handler, the WAF shape from the
/// request deadline that wraps every route.
fn either_error() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(keystone_error())
        .item(waf_error())
        .into()
}
