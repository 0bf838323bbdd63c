//! Protection policies as far as hosts need them (issue 15): the policy a host gets when
//! created without one, policy CRUD, moving hosts with `?hosts=`, `keepPolicy` on host delete,
//! the host list's `protect_status` and `policyname` filters, the protect-status route, pages
//! past the end on every list, and `cloud_host_ids` on apply-to-hosts.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wafcert::domain::Role;

use crate::helpers::*;

crate::on_both_backends!(
    hosts_get_a_policy_of_their_own,
    policies_are_created_read_updated_and_deleted,
    hosts_move_between_policies,
    keep_policy_decides_whether_the_policy_goes_with_the_host,
    protect_status_is_set_and_filtered,
    pages_past_the_end_are_empty_on_every_list,
    cloud_host_ids_stay_refused,
    host_writes_and_policy_deletes_race_safely,
);

const POLICIES: &str = "waf/policy";

fn policy_path(id: &str) -> String {
    format!("{POLICIES}/{id}")
}

async fn hosts_get_a_policy_of_their_own(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let host = create_host(&app, "www.a.example", "HTTP", None).await;
    let policy_id = host["policyid"].as_str().unwrap().to_owned();
    assert_eq!(policy_id.len(), 32, "{host}");
    let (status, shown) = app.get(&host_path(&id_of(&host))).await;
    assert_eq!(status, 200);
    assert_eq!(shown["policyid"], policy_id.as_str(), "show returns it too");
    let (status, policy) = app.get(&policy_path(&policy_id)).await;
    assert_eq!(status, 200, "{policy}");
    assert_eq!(policy["id"], policy_id.as_str());
    assert_eq!(policy["name"], format!("policy_{}", &policy_id[..8]));
    assert_eq!(policy["hosts"], json!([id_of(&host)]));
    assert_eq!(policy["bind_host"][0]["hostname"], "www.a.example");
    for field in [
        "level",
        "full_detection",
        "robot_action",
        "action",
        "options",
        "modulex_options",
        "timestamp",
    ] {
        assert!(policy.get(field).is_some(), "{field} missing: {policy}");
    }
    // `policyid: ""` (what the OTC provider sends without one) also gets a new policy; a
    // named policy is used as is.
    let mut body = host_body("www.b.example", "HTTP", None);
    body["policyid"] = json!("");
    let (status, b) = app.post(HOSTS, &body).await;
    assert_eq!(status, 200, "{b}");
    assert_ne!(b["policyid"], policy_id.as_str());
    body = host_body("www.c.example", "HTTP", None);
    body["policyid"] = json!(policy_id);
    let (status, c) = app.post(HOSTS, &body).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["policyid"], policy_id.as_str());
    // An unknown or malformed policy is 404, and nothing is created.
    for bad in [NO_SUCH_ID, "nope"] {
        body = host_body("www.d.example", "HTTP", None);
        body["policyid"] = json!(bad);
        assert_error(&app.post(HOSTS, &body).await, 404, "WAF.00022001");
    }
    assert_eq!(app.get(HOSTS).await.1["total"], 3);
    assert_eq!(app.get(POLICIES).await.1["total"], 2);
    // A duplicate hostname leaves no orphan policy behind.
    assert_error(
        &app.post(HOSTS, &host_body("www.a.example", "HTTP", None))
            .await,
        400,
        "WAF.00011016",
    );
    assert_eq!(app.get(POLICIES).await.1["total"], 2);
}

async fn policies_are_created_read_updated_and_deleted(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let (status, created) = app
        .post(
            POLICIES,
            &json!({"name": "strict-1", "level": 3, "full_detection": true,
                    "options": {"webattack": true, "cc": false},
                    "action": {"category": "block"}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = id_of(&created);
    assert_eq!(created["name"], "strict-1");
    assert_eq!(created["level"], 3);
    assert_eq!(created["full_detection"], true);
    assert_eq!(created["action"], json!({"category": "block"}));
    assert_eq!(created["options"]["cc"], false);
    assert_eq!(created["options"]["webattack"], true);
    assert_eq!(created["hosts"], json!([]));
    assert_eq!(created["bind_host"], json!([]));
    let (status, shown) = app.get(&policy_path(&id)).await;
    assert_eq!((status, &shown), (StatusCode::OK, &created));

    // Update: only the carried fields change; switches merge key by key.
    let (status, updated) = app
        .put(
            &policy_path(&id),
            &json!({"name": "strict-2", "options": {"cc": true}, "modulex_options": {"x": 1}}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "strict-2");
    assert_eq!(updated["level"], 3);
    assert_eq!(updated["options"]["cc"], true);
    assert_eq!(updated["options"]["webattack"], true);
    assert_eq!(updated["modulex_options"], json!({"x": 1}));
    assert_eq!(updated["timestamp"], created["timestamp"]);

    // Bad input.
    assert_error(
        &app.post(POLICIES, &json!({"level": 2})).await,
        400,
        "WAF.00011003",
    );
    assert_error(
        &app.post(POLICIES, &json!({"name": "a b"})).await,
        400,
        "WAF.00011005",
    );
    assert_error(
        &app.post(POLICIES, &json!({"name": "p", "level": 4})).await,
        400,
        "WAF.00011003",
    );
    assert_error(
        &app.put(&policy_path(&id), &json!({"options": [1]})).await,
        400,
        "WAF.00011003",
    );

    // List: paging and the name filter.
    for i in 0..3 {
        app.post(POLICIES, &json!({"name": format!("other-{i}")}))
            .await;
    }
    let (_, list) = app.get(&format!("{POLICIES}?name=STRICT")).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], id.as_str());
    let (_, page) = app.get(&format!("{POLICIES}?page=2&pagesize=3")).await;
    assert_eq!(page["total"], 4);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], id.as_str(), "oldest last");
    assert_error(
        &app.get(&format!("{POLICIES}?pagesize=0")).await,
        400,
        "WAF.00011011",
    );

    // Readonly callers read only.
    let ro = app.token_for(&app.project, Role::ReadOnly, None).await;
    assert_eq!(app.get_as(&policy_path(&id), &ro).await.0, 200);
    let (status, _) = app
        .send(
            app.client
                .delete(app.url(&policy_path(&id)))
                .header("X-Auth-Token", &ro),
        )
        .await;
    assert_eq!(status, 401);

    // Delete; then it is gone everywhere.
    let (status, deleted) = app.delete(&policy_path(&id)).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["id"], id.as_str());
    for answer in [
        app.get(&policy_path(&id)).await,
        app.put(&policy_path(&id), &json!({"level": 1})).await,
        app.delete(&policy_path(&id)).await,
        app.get(&policy_path("not-an-id")).await,
    ] {
        assert_error(&answer, 404, "WAF.00022001");
    }
}

async fn hosts_move_between_policies(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let a = create_host(&app, "www.a.example", "HTTP", None).await;
    let b = create_host(&app, "www.b.example", "HTTP", None).await;
    let (_, target) = app.post(POLICIES, &json!({"name": "shared"})).await;
    let target_id = id_of(&target);
    // Huawei's UpdatePolicyProtectHost: PUT with ?hosts= and no body.
    let (status, moved) = app
        .send(
            app.client
                .put(app.url(&format!(
                    "{}?hosts={},{}",
                    policy_path(&target_id),
                    id_of(&a),
                    id_of(&b)
                )))
                .header("X-Auth-Token", &app.token),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let mut hosts: Vec<String> = moved["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    hosts.sort();
    let mut expected = vec![id_of(&a), id_of(&b)];
    expected.sort();
    assert_eq!(hosts, expected);
    assert_eq!(
        app.get(&host_path(&id_of(&a))).await.1["policyid"],
        target_id.as_str()
    );
    // The policy is in use now: deleting it is refused, naming the hosts.
    let answer = app.delete(&policy_path(&target_id)).await;
    assert_error(&answer, 400, "WAF.00022003");
    assert!(
        answer.1["error_msg"]
            .as_str()
            .unwrap()
            .contains("www.a.example")
    );
    // Filter the host list by the policy's name.
    let (_, list) = app.get(&format!("{HOSTS}?policyname=shar")).await;
    assert_eq!(list["total"], 2);
    // All or nothing: an unknown host changes nothing.
    let (_, other) = app.post(POLICIES, &json!({"name": "other"})).await;
    let answer = app
        .put(
            &format!(
                "{}?hosts={},{NO_SUCH_ID}",
                policy_path(&id_of(&other)),
                id_of(&a)
            ),
            &json!({}),
        )
        .await;
    assert_error(&answer, 404, "WAF.00022001");
    assert_eq!(
        app.get(&host_path(&id_of(&a))).await.1["policyid"],
        target_id.as_str()
    );
    // Moving onto an unknown policy is 404 too.
    assert_error(
        &app.put(
            &format!("{}?hosts={}", policy_path(NO_SUCH_ID), id_of(&a)),
            &json!({}),
        )
        .await,
        404,
        "WAF.00022001",
    );
}

async fn keep_policy_decides_whether_the_policy_goes_with_the_host(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let policies =
        || async { app.get(&format!("{POLICIES}?pagesize=-1")).await.1["total"].clone() };
    // Absent and `true` keep the policy.
    let a = create_host(&app, "www.a.example", "HTTP", None).await;
    let b = create_host(&app, "www.b.example", "HTTP", None).await;
    assert_eq!(policies().await, 2);
    assert_eq!(app.delete(&host_path(&id_of(&a))).await.0, 200);
    assert_eq!(
        app.delete(&format!("{}?keepPolicy=true", host_path(&id_of(&b))))
            .await
            .0,
        200
    );
    assert_eq!(policies().await, 2);
    // `false` removes it when no other host uses it...
    let c = create_host(&app, "www.c.example", "HTTP", None).await;
    let (status, deleted) = app
        .delete(&format!("{}?keepPolicy=false", host_path(&id_of(&c))))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": id_of(&c), "hostname": "www.c.example"})
    );
    assert_eq!(policies().await, 2);
    assert_error(
        &app.get(&policy_path(c["policyid"].as_str().unwrap())).await,
        404,
        "WAF.00022001",
    );
    // ... and keeps it while another host does.
    let d = create_host(&app, "www.d.example", "HTTP", None).await;
    let mut body = host_body("www.e.example", "HTTP", None);
    body["policyid"] = d["policyid"].clone();
    let (_, e) = app.post(HOSTS, &body).await;
    app.delete(&format!("{}?keepPolicy=false", host_path(&id_of(&d))))
        .await;
    let (status, policy) = app.get(&policy_path(d["policyid"].as_str().unwrap())).await;
    assert_eq!(status, 200);
    assert_eq!(policy["hosts"], json!([id_of(&e)]));
    assert_error(
        &app.delete(&format!("{}?keepPolicy=maybe", host_path(&id_of(&e))))
            .await,
        400,
        "WAF.00011002",
    );
}

async fn protect_status_is_set_and_filtered(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let a = create_host(&app, "www.a.example", "HTTP", None).await;
    let b = create_host(&app, "www.b.example", "HTTP", None).await;
    create_host(&app, "www.c.example", "HTTP", None).await;
    // The hyphen (Huawei's SDK and provider) and the underscore (gophertelekomcloud).
    for (host, spelling, status) in [(&a, "protect-status", 0), (&b, "protect_status", -1)] {
        let (code, answer) = app
            .put(
                &format!("{}/{spelling}", host_path(&id_of(host))),
                &json!({"protect_status": status}),
            )
            .await;
        assert_eq!(code, 200, "{answer}");
        assert_eq!(answer, json!({"protect_status": status}));
        assert_eq!(
            app.get(&host_path(&id_of(host))).await.1["protect_status"],
            status
        );
    }
    let ids = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect()
    };
    let (_, paused) = app.get(&format!("{HOSTS}?protect_status=0")).await;
    assert_eq!(
        (paused["total"].clone(), ids(&paused)),
        (json!(1), vec![id_of(&a)])
    );
    let (_, bypassed) = app
        .get(&format!("{HOSTS}?protect_status=-1&hostname=www"))
        .await;
    assert_eq!(ids(&bypassed), vec![id_of(&b)]);
    assert_eq!(
        app.get(&format!("{HOSTS}?protect_status=1")).await.1["total"],
        1
    );
    assert_error(
        &app.get(&format!("{HOSTS}?protect_status=5")).await,
        400,
        "WAF.00011002",
    );
    // A full host update keeps the filter column in step.
    app.put(&host_path(&id_of(&a)), &json!({"protect_status": 1}))
        .await;
    assert_eq!(
        app.get(&format!("{HOSTS}?protect_status=1")).await.1["total"],
        2
    );
    // Refusals.
    let path = format!("{}/protect-status", host_path(&id_of(&a)));
    assert_error(
        &app.put(&path, &json!({"protect_status": 2})).await,
        400,
        "WAF.00011003",
    );
    assert_error(&app.put(&path, &json!({})).await, 400, "WAF.00011003");
    assert_error(
        &app.put(
            &format!("{}/protect-status", host_path(NO_SUCH_ID)),
            &json!({"protect_status": 0}),
        )
        .await,
        404,
        "WAF.00022001",
    );
    let ro = app.token_for(&app.project, Role::ReadOnly, None).await;
    let (status, _) = app
        .send(
            app.client
                .put(app.url(&path))
                .header("X-Auth-Token", &ro)
                .json(&json!({"protect_status": 0})),
        )
        .await;
    assert_eq!(status, 401);
}

async fn pages_past_the_end_are_empty_on_every_list(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(90);
    app.create_cert("c1", &f).await;
    app.create_cert("c2", &f).await;
    create_host(&app, "www.a.example", "HTTP", None).await;
    create_host(&app, "www.b.example", "HTTP", None).await;
    // Huawei's certificates data source pages with pagesize=100 until a page is empty.
    for (list, total) in [("waf/certificate", 2), (HOSTS, 2), (POLICIES, 2)] {
        for query in [
            "page=2&pagesize=100",
            "page=3&pagesize=2",
            "page=99999&pagesize=1",
        ] {
            let (status, page) = app.get(&format!("{list}?{query}")).await;
            assert_eq!(status, 200, "{list}?{query}: {page}");
            assert_eq!(page["items"], json!([]), "{list}?{query}");
            assert_eq!(page["total"], total, "{list}?{query}");
        }
    }
}

async fn cloud_host_ids_stay_refused(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let f = fixture(90);
    let cert = app.create_cert("c", &f).await;
    let host = create_host(&app, "www.a.example", "HTTP", None).await;
    let path = format!("waf/certificate/{}/apply-to-hosts", id_of(&cert));
    let (status, applied) = app
        .post(
            &path,
            &json!({"cloud_host_ids": [], "premium_host_ids": [id_of(&host)]}),
        )
        .await;
    assert_eq!(status, 200, "{applied}");
    let answer = app
        .post(
            &path,
            &json!({"cloud_host_ids": [NO_SUCH_ID], "premium_host_ids": [id_of(&host)]}),
        )
        .await;
    assert_error(&answer, 400, "WAF.00011003");
}

/// A host created on, or moved onto, a policy while the policy is deleted: exactly one wins
/// (both lock the policy's row first), and no host ever names a missing policy.
async fn host_writes_and_policy_deletes_race_safely(db: Db) {
    let app = TestApp::spawn_on(db).await;
    let spare = create_host(&app, "spare.example", "HTTP", None).await;
    for round in 0..15 {
        let (_, policy) = app
            .post(POLICIES, &json!({"name": format!("race-{round}")}))
            .await;
        let pid = id_of(&policy);
        let mut body = host_body(&format!("www{round}.race.example"), "HTTP", None);
        body["policyid"] = json!(pid);
        let path = policy_path(&pid);
        let (created, deleted) = tokio::join!(app.post(HOSTS, &body), app.delete(&path));
        match (created.0.as_u16(), deleted.0.as_u16()) {
            (200, 400) => assert_eq!(deleted.1["error_code"], "WAF.00022003"),
            (404, 200) => assert_eq!(created.1["error_code"], "WAF.00022001"),
            other => panic!("round {round}: {other:?} {} {}", created.1, deleted.1),
        }
        let (_, other) = app
            .post(POLICIES, &json!({"name": format!("move-{round}")}))
            .await;
        let oid = id_of(&other);
        let mv = format!("{}?hosts={}", policy_path(&oid), id_of(&spare));
        let (path, empty) = (policy_path(&oid), json!({}));
        let (moved, deleted) = tokio::join!(app.put(&mv, &empty), app.delete(&path));
        match (moved.0.as_u16(), deleted.0.as_u16()) {
            (200, 400) | (404, 200) => {}
            other => panic!("round {round}: {other:?} {} {}", moved.1, deleted.1),
        }
        // A host deleted with its policy while it is moved to another one: the two lock the
        // policies and the host in the same order, so neither deadlocks.
        let doomed = create_host(&app, &format!("doomed{round}.race.example"), "HTTP", None).await;
        let (_, target) = app
            .post(POLICIES, &json!({"name": format!("to-{round}")}))
            .await;
        let mv = format!("{}?hosts={}", policy_path(&id_of(&target)), id_of(&doomed));
        let gone = format!("{}?keepPolicy=false", host_path(&id_of(&doomed)));
        let (moved, deleted) = tokio::join!(app.put(&mv, &empty), app.delete(&gone));
        assert_eq!(deleted.0, 200, "round {round}: {}", deleted.1);
        let own = app
            .get(&policy_path(doomed["policyid"].as_str().unwrap()))
            .await
            .0;
        let to = app.get(&policy_path(&id_of(&target))).await.0;
        match (moved.0.as_u16(), own.as_u16(), to.as_u16()) {
            // The delete first: the host's own policy went with it; the move found no host.
            (404, 404, 200)
            // The move first: the delete took the target policy along, or (moved between the
            // delete's read and its delete) kept both.
            | (200, 200, 404 | 200) => {}
            other => panic!("round {round}: {other:?} {}", moved.1),
        }
    }
    let (_, hosts) = app.get(&format!("{HOSTS}?pagesize=-1")).await;
    for host in hosts["items"].as_array().unwrap() {
        let pid = host["policyid"].as_str().unwrap();
        let (status, policy) = app.get(&policy_path(pid)).await;
        assert_eq!(status, 200, "{} names a missing policy", host["hostname"]);
        assert!(policy["hosts"].as_array().unwrap().contains(&host["id"]));
    }
}
