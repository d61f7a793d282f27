//! Partner onboarding as the seed flowcharts draw it (注册 → 审核 → 驳回/通过 → 凭证 → 认证),
//! over real HTTP, on SQLite and on PostgreSQL.

use crate::common;

use chrono::Duration;
use common::{Backend, CODE_A, CODE_B, CODE_C, TestApp, application};
use serde_json::json;

on_both_backends!(
    registration_review_and_credentials,
    bad_input_is_refused_and_changes_nothing,
    tokens_expire_and_suspension_revokes,
    rotation_keeps_old_credentials_for_the_overlap,
    documents_are_checked_and_kept,
    admin_listing_filters_and_pages,
);

async fn registration_review_and_credentials(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;

    // 注册成为合作商
    let (id, portal) = app.register(&application(CODE_A)).await;
    let (status, me) = app.get("/api/portal/v1/partners/me", Some(&portal)).await;
    assert_eq!((status, me["state"].as_str()), (200, Some("submitted")));
    assert_eq!(me["operator_id"], "MA5FCTXX0");

    // 审核不通过 → 通知第三方失败原因
    let reason = "营业执照照片不清晰，请重新上传 / licence photo unreadable";
    let (status, body) = app.post(&format!("/api/admin/v1/partners/{id}/reject"), Some(&admin), &json!({"reason": reason})).await;
    assert_eq!(status, 200, "{body}");
    let (_, me) = app.get("/api/portal/v1/partners/me", Some(&portal)).await;
    assert_eq!(me["state"], "rejected");
    assert_eq!(me["state_reason"], reason);
    // No credentials before approval.
    let (status, body) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    assert_eq!(status, 403, "{body}");

    // 重新提交 → 审核通过
    let mut fixed = application(CODE_A);
    fixed["roles"] = json!("both");
    let (status, body) = app.put("/api/portal/v1/partners/me", Some(&portal), &fixed).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("submitted")), "{body}");
    let (status, body) = app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(&admin), &json!({})).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("approved")), "{body}");

    // Credentials: the API secret is shown exactly once; T/CEC 102 secrets are always readable.
    let (status, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    assert_eq!(status, 200, "{creds}");
    let client_id = creds["api"][0]["client_id"].as_str().unwrap().to_owned();
    let secret = creds["api"][0]["client_secret"].as_str().expect("secret shown the first time").to_owned();
    let cec = &creds["cec_issued"][0];
    assert_eq!(cec["operator_id"], "MA5FCTXX0");
    assert_eq!(cec["data_secret"].as_str().unwrap().len(), 16);
    assert_eq!(cec["data_secret_iv"].as_str().unwrap().len(), 16);
    let (_, again) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    assert!(again["api"][0].get("client_secret").is_none(), "secret must not be shown twice: {again}");
    assert_eq!(again["cec_issued"][0]["sig_secret"], cec["sig_secret"]);

    // Secrets are encrypted at rest: the stored column does not contain the plaintext.
    let stored: Vec<String> = sqlx::query_scalar("SELECT secrets FROM cec_credentials").fetch_all(app.services.db.pool()).await.unwrap();
    assert!(stored.iter().all(|s| s.starts_with("v1:") && !s.contains(cec["sig_secret"].as_str().unwrap())));

    // OAuth2 token → authenticated endpoint.
    let (status, token) = app.token(&client_id, &secret).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["scope"], "partner cpo emsp");
    let access = token["access_token"].as_str().unwrap();
    let (status, who) = app.get("/api/partner/v1/me", Some(access)).await;
    assert_eq!(status, 200, "{who}");
    assert_eq!(who["partner_id"].as_str(), Some(id.as_str()));

    // The whole story is in the audit history, who and why included.
    let (_, detail) = app.get(&format!("/api/admin/v1/partners/{id}"), Some(&admin)).await;
    let actions: Vec<&str> = detail["history"].as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["register", "reject", "resubmit", "approve"]);
    assert_eq!(detail["history"][1]["reason"], reason);
    assert!(detail["history"][1]["actor"].as_str().unwrap().starts_with("admin:"));
    app.cleanup().await;
}

async fn bad_input_is_refused_and_changes_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;

    // Invalid credit code: 422 naming the field, in both languages.
    let (status, body) = app.post("/api/portal/v1/partners", None, &application("91440300MA5FCTXX0A")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "credit_code");
    assert!(body["error"]["fields"][0]["message"].as_str().unwrap().contains("check digit"));
    assert!(body["error"]["fields"][0]["message_zh"].as_str().unwrap().contains("校验码"));

    // Malformed JSON: 400.
    let response =
        app.http.post(app.url("/api/portal/v1/partners")).header("content-type", "application/json").body("{\"company_name\":").send().await.unwrap();
    let (status, body) = common::read(response).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("malformed_request")), "{body}");

    // Duplicate registration: 409.
    let (id, portal) = app.register(&application(CODE_A)).await;
    let (status, body) = app.post("/api/portal/v1/partners", None, &application(CODE_A)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("already_registered")), "{body}");

    // Rejecting without a reason, resubmitting while in review: refused, state unchanged.
    let (status, body) = app.post(&format!("/api/admin/v1/partners/{id}/reject"), Some(&admin), &json!({"reason": " "})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("reason_required")), "{body}");
    let (status, body) = app.put("/api/portal/v1/partners/me", Some(&portal), &application(CODE_A)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("illegal_transition")), "{body}");

    // Double approval: the second is refused.
    let (status, _) = app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(&admin), &json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(&admin), &json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("illegal_transition")), "{body}");
    assert!(body["error"]["message_zh"].as_str().unwrap().contains("已通过"));

    // Concurrent approvals of one partner: exactly one wins.
    let (other, _) = app.register(&application(CODE_B)).await;
    let path = format!("/api/admin/v1/partners/{other}/approve");
    let empty = json!({});
    let (a, b) = tokio::join!(app.post(&path, Some(&admin), &empty), app.post(&path, Some(&admin), &empty));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");

    // Unknown partner, no credentials, wrong kind of token, wrong secret.
    let (status, _) = app.post(&format!("/api/admin/v1/partners/{}/approve", uuid::Uuid::now_v7()), Some(&admin), &json!({})).await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/api/admin/v1/partners", None).await;
    assert_eq!(status, 401);
    let (status, _) = app.get("/api/admin/v1/partners", Some(&portal)).await;
    assert_eq!(status, 401, "a portal token is not an admin session");
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let client_id = creds["api"][0]["client_id"].as_str().unwrap();
    let (status, body) = app.token(client_id, "cbs_wrong").await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    let (status, body) = app.token("cbk_unknown", "cbs_wrong").await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    let response = app.http.post(app.url("/oauth/token")).form(&[("grant_type", "password")]).send().await.unwrap();
    let (status, body) = common::read(response).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));

    // Nothing refused above left a trace: two partners, as registered.
    let (_, list) = app.get("/api/admin/v1/partners", Some(&admin)).await;
    assert_eq!(list["total"], 2);
    app.cleanup().await;
}

/// Registers and approves a partner; returns (id, portal token, client id, client secret).
async fn approved_partner(app: &TestApp, admin: &str, code: &str) -> (String, String, String, String) {
    let (id, portal) = app.register(&application(code)).await;
    let (status, _) = app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(admin), &json!({})).await;
    assert_eq!(status, 200);
    let (_, creds) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let client_id = creds["api"][0]["client_id"].as_str().unwrap().to_owned();
    let secret = creds["api"][0]["client_secret"].as_str().unwrap().to_owned();
    (id, portal, client_id, secret)
}

async fn tokens_expire_and_suspension_revokes(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let (id, _portal, client_id, secret) = approved_partner(&app, &admin, CODE_A).await;

    let (_, token) = app.token(&client_id, &secret).await;
    let access = token["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token["expires_in"], 7200);
    app.advance(Duration::seconds(7201));
    let (status, body) = app.get("/api/partner/v1/me", Some(&access)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("expired_token")), "{body}");
    let (status, _) = app.get("/api/partner/v1/me", Some("cbt_not-a-real-token")).await;
    assert_eq!(status, 401);

    // Suspension ends access at once; reinstating restores it.
    let (_, token) = app.token(&client_id, &secret).await;
    let access = token["access_token"].as_str().unwrap().to_owned();
    let (status, _) = app.post(&format!("/api/admin/v1/partners/{id}/suspend"), Some(&admin), &json!({"reason": "结算逾期 / settlement overdue"})).await;
    assert_eq!(status, 200);
    let (status, _) = app.get("/api/partner/v1/me", Some(&access)).await;
    assert_eq!(status, 401);
    let (status, body) = app.token(&client_id, &secret).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")), "{body}");
    let (status, _) = app.post(&format!("/api/admin/v1/partners/{id}/reinstate"), Some(&admin), &json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = app.token(&client_id, &secret).await;
    assert_eq!(status, 200);
    app.cleanup().await;
}

async fn rotation_keeps_old_credentials_for_the_overlap(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let (_id, portal, old_id, old_secret) = approved_partner(&app, &admin, CODE_A).await;
    let (_, before) = app.get("/api/portal/v1/partners/me/credentials", Some(&portal)).await;
    let old_sig = before["cec_issued"][0]["sig_secret"].clone();

    let (status, rotated) = app.post("/api/portal/v1/partners/me/credentials/rotate", Some(&portal), &json!({"kind": "api"})).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["api"].as_array().unwrap().iter().find(|c| c["client_id"] != old_id.as_str()).expect("new credential").clone();
    let new_secret = new["client_secret"].as_str().expect("new secret shown once");
    assert!(rotated["api"].as_array().unwrap().iter().any(|c| c["client_id"] == old_id.as_str() && c["expires_at"].is_string()));

    // During the overlap both work; after it only the new one.
    assert_eq!(app.token(&old_id, &old_secret).await.0, 200);
    assert_eq!(app.token(new["client_id"].as_str().unwrap(), new_secret).await.0, 200);
    app.advance(Duration::hours(24) + Duration::seconds(1));
    assert_eq!(app.token(&old_id, &old_secret).await.0, 401);
    assert_eq!(app.token(new["client_id"].as_str().unwrap(), new_secret).await.0, 200);

    // T/CEC 102 secrets rotate the same way: both sets valid for the caller during the overlap.
    let (status, rotated) = app.post("/api/portal/v1/partners/me/credentials/rotate", Some(&portal), &json!({"kind": "cec"})).await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["cec_issued"].as_array().unwrap().len(), 2);
    let (_, sets) = app.services.cec_issued_for_operator("MA5FCTXX0").await.unwrap().unwrap();
    assert_eq!(sets.len(), 2);
    assert!(sets.iter().any(|s| s.secrets.sig_secret == old_sig.as_str().unwrap()));
    app.advance(Duration::hours(25));
    let (_, sets) = app.services.cec_issued_for_operator("MA5FCTXX0").await.unwrap().unwrap();
    assert_eq!(sets.len(), 1);
    assert_ne!(sets[0].secrets.sig_secret, old_sig.as_str().unwrap());

    // The partner's own endpoint for us to call.
    let peer = json!({"base_url": "http://127.0.0.1:9/evcs/", "operator_secret": "1234567890abcdef", "data_secret": "1234567890abcdef",
                      "data_secret_iv": "1234567890abcdef", "sig_secret": "1234567890abcdef"});
    let (status, body) = app.put("/api/portal/v1/partners/me/cec-peer", Some(&portal), &peer).await;
    assert_eq!((status, body["base_url"].as_str()), (200, Some("http://127.0.0.1:9/evcs")), "{body}");
    let mut short = peer.clone();
    short["data_secret"] = json!("short");
    let (status, body) = app.put("/api/portal/v1/partners/me/cec-peer", Some(&portal), &short).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (422, Some("data_secret")), "{body}");
    app.cleanup().await;
}

async fn documents_are_checked_and_kept(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.uploads.max_document_bytes = 64 * 1024).await;
    let admin = app.admin_token().await;
    let (id, portal) = app.register(&application(CODE_A)).await;
    let upload = |kind: &'static str, name: &'static str, bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new().text("kind", kind).part("file", reqwest::multipart::Part::bytes(bytes).file_name(name));
        app.http.post(app.url("/api/portal/v1/partners/me/documents")).bearer_auth(&portal).multipart(form).send()
    };
    let pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n".to_vec();
    let (status, doc) = common::read(upload("business_license", "../../etc/营业执照.pdf", pdf.clone()).await.unwrap()).await;
    assert_eq!(status, 201, "{doc}");
    assert_eq!(doc["file_name"], "营业执照.pdf", "path components are stripped");
    assert_eq!(doc["content_type"], "application/pdf");

    let (status, body) = common::read(upload("business_license", "fake.pdf", b"MZ\x90\x00 not a pdf".to_vec()).await.unwrap()).await;
    assert_eq!(status, 415, "{body}");
    let (status, body) = common::read(upload("selfie", "a.pdf", pdf.clone()).await.unwrap()).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (422, Some("kind")), "{body}");
    let mut big = b"%PDF-".to_vec();
    big.resize(65 * 1024, b'x');
    let (status, body) = common::read(upload("other", "big.pdf", big).await.unwrap()).await;
    assert_eq!(status, 413, "{body}");

    // The admin downloads exactly what was uploaded.
    let response =
        app.http.get(app.url(&format!("/api/admin/v1/partners/{id}/documents/{}", doc["id"].as_str().unwrap()))).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().to_vec(), pdf);
    let (_, me) = app.get("/api/portal/v1/partners/me", Some(&portal)).await;
    assert_eq!(me["documents"].as_array().unwrap().len(), 1, "refused uploads left nothing");

    // After approval the application is closed to new documents.
    app.post(&format!("/api/admin/v1/partners/{id}/approve"), Some(&admin), &json!({})).await;
    let (status, _) = common::read(upload("other", "late.pdf", pdf).await.unwrap()).await;
    assert_eq!(status, 403);
    app.cleanup().await;
}

async fn admin_listing_filters_and_pages(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin_token().await;
    let (a, _) = app.register(&application(CODE_A)).await;
    app.advance(Duration::seconds(1));
    let mut b = application(CODE_B);
    b["company_name"] = json!("福州新能源运营有限公司");
    b["protocol"] = json!("ocpi221");
    app.register(&b).await;
    app.advance(Duration::seconds(1));
    app.register(&application(CODE_C)).await;
    app.post(&format!("/api/admin/v1/partners/{a}/approve"), Some(&admin), &json!({})).await;

    let (_, page) = app.get("/api/admin/v1/partners?per_page=2", Some(&admin)).await;
    assert_eq!((page["total"].as_i64(), page["items"].as_array().unwrap().len()), (Some(3), 2));
    assert_eq!(page["items"][0]["credit_code"], CODE_C, "newest first");
    let (_, page2) = app.get("/api/admin/v1/partners?per_page=2&page=2", Some(&admin)).await;
    assert_eq!(page2["items"][0]["id"].as_str(), Some(a.as_str()));
    let (_, approved) = app.get("/api/admin/v1/partners?state=approved", Some(&admin)).await;
    assert_eq!(approved["total"], 1);
    let (_, ocpi) = app.get("/api/admin/v1/partners?protocol=ocpi221", Some(&admin)).await;
    assert_eq!(ocpi["items"][0]["company_name"], "福州新能源运营有限公司");
    let (_, search) = app.get("/api/admin/v1/partners?q=ma5fct", Some(&admin)).await;
    assert_eq!(search["total"], 1);
    let (status, body) = app.get("/api/admin/v1/partners?state=happy", Some(&admin)).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (422, Some("state")));
    let (status, _) = app.get("/api/admin/v1/partners?per_page=1000", Some(&admin)).await;
    assert_eq!(status, 422);
    app.cleanup().await;
}
