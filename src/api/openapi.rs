//! The OpenAPI 3.1 document of the API, served at `GET /openapi.json` without a credential.
//!
//! It is generated from the code so it cannot drift: the wire types derive `ToSchema` (and the
//! list queries `IntoParams`), each handler carries its `#[utoipa::path]` (path template,
//! operation id, parameters, body, answers), and this module assembles them and adds what the
//! router's layers add to every route of a group (see [`super::router`]): the credential and
//! its 401 on `/v1/...`, 413 where a body is read, 500 and 503 everywhere, `X-Request-Id` on
//! every answer. The `/_wafcert/...` test controls are in the document only when the server
//! runs with them.
//!
//! Operation ids: an API operation has its SDK name from [`super::operation::OPERATIONS`];
//! every other route (health, readiness, metrics, this document, test controls) has a name
//! starting with `Wafcert`. `tests/api/openapi.rs` holds both to that and compares the
//! document with the committed snapshots.

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use utoipa::OpenApi;
use utoipa::openapi::path::{HttpMethod, Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{OneOfBuilder, Schema};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, OpenApi as Document, Ref, RefOr, Response as Answer,
};

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
    add_check_token(&mut doc);
    add_security_schemes(&mut doc);
    for (path, item) in doc.paths.paths.iter_mut() {
        for operation in operations(item) {
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
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "WafcertOpenApi",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
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
                    utoipa::openapi::schema::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String)
                        .enum_values(Some(["ok"])),
                ))
                .build(),
        )
        .build();
    let operation = utoipa::openapi::path::OperationBuilder::new()
        .operation_id(Some("WafcertHealth"))
        .tag("operations")
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

/// The operations of a path item.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.head.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// What the router's layers add to an operation on `path`.
fn add_layer_answers(path: &str, operation: &mut Operation) {
    let identity = path == "/" || path.starts_with("/v3");
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
        add_answer(
            operation,
            "413",
            "The body is larger than the limit (1 MiB; 16 KiB on `/v3`)",
            if identity {
                keystone_error()
            } else {
                waf_error()
            },
        );
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
        .schema(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String),
        )
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
