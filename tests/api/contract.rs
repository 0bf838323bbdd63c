//! `--contract otc|huawei` (issue 15): where OTC's and Huawei's documentation differ, the
//! profile picks one side; the default keeps wafcert's own choices.

use serde_json::json;
use wafcert::domain::Contract;

use crate::helpers::*;

crate::on_both_backends!(
    name_limits_follow_the_profile,
    otc_words_unknown_resources_with_its_own_code,
);

async fn name_limits_follow_the_profile(db: Db) {
    let f = fixture(60);
    let n64 = "n".repeat(64);
    let n65 = "n".repeat(65);
    let n256 = "n".repeat(256);
    // (contract, longest name on create, longest name on update)
    for (contract, create_max, update_max) in [
        (Contract::Standard, 256, 64),
        (Contract::Otc, 64, 64),
        (Contract::Huawei, 256, 256),
    ] {
        let app = TestApp::spawn_with(db, |c| c.contract = contract).await;
        for name in [&n64, &n65, &n256] {
            let (status, body) = app.post("waf/certificate", &f.body(name)).await;
            if name.len() <= create_max {
                assert_eq!(status, 200, "{contract} create {}: {body}", name.len());
                app.delete(&format!("waf/certificate/{}", body["id"].as_str().unwrap()))
                    .await;
            } else {
                assert_error(&(status, body), 400, "WAF.00011005");
            }
        }
        let id = app.create_cert("short", &f).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        for name in [&n64, &n65, &n256] {
            let answer = app
                .put(&format!("waf/certificate/{id}"), &json!({"name": name}))
                .await;
            if name.len() <= update_max {
                assert_eq!(
                    answer.0,
                    200,
                    "{contract} update {}: {}",
                    name.len(),
                    answer.1
                );
            } else {
                assert_error(&answer, 400, "WAF.00011005");
                assert!(
                    answer.1["error_msg"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("1 to {update_max} characters")),
                    "{}",
                    answer.1
                );
            }
        }
    }
}

async fn otc_words_unknown_resources_with_its_own_code(db: Db) {
    for (contract, code) in [
        (Contract::Standard, "WAF.00022001"),
        (Contract::Huawei, "WAF.00022001"),
        (Contract::Otc, "WAF.00014001"),
    ] {
        let app = TestApp::spawn_with(db, |c| c.contract = contract).await;
        for answer in [
            app.get(&format!("waf/certificate/{NO_SUCH_ID}")).await,
            app.delete(&format!("waf/certificate/{NO_SUCH_ID}")).await,
            app.get(&format!("{HOSTS}/{NO_SUCH_ID}")).await,
            app.get(&format!("waf/policy/{NO_SUCH_ID}")).await,
        ] {
            // 404 in every profile: OTC's clients detect deletion by the status alone.
            assert_error(&answer, 404, code);
        }
        // Other codes are the same in every profile.
        assert_error(
            &app.get("waf/certificate?pagesize=0").await,
            400,
            "WAF.00011011",
        );
        assert_error(&app.get("no/such/route").await, 404, "WAF.00014009");
    }
}

/// `serve --contract` takes `otc`, `huawei` or `standard` (also from `WAFCERT_CONTRACT`);
/// anything else stops the server before it starts, naming the choices.
#[test]
fn serve_refuses_an_unknown_contract() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wafcert"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "sqlite::memory:",
        ])
        .env("WAFCERT_CONTRACT", "aws")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("otc, huawei or standard"), "{err}");
}
