//! Every endpoint × every role: allowed, forbidden (403) or not
//! authenticated (401). "Allowed" means the request got past authorisation
//! (any status but 401/403: the bodies here are mostly deliberately invalid,
//! so nothing changes until the last, destructive row).

mod common;

use common::{sign_up_agent, spawn_app_with, token_of, AgentSpec, Backend, TestApp, ADMIN_TOKEN};
use serde_json::{json, Value};

async fn account(app: &TestApp, id: &str, role: &str) -> String {
    let email = format!("{id}@example.com");
    let spec = AgentSpec {
        id,
        email: &email,
        name: id,
        role,
        max_chats: 5,
        languages: &[],
    };
    token_of(&sign_up_agent(app, spec).await.1)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    /// Past authorisation.
    Ok,
    /// 403.
    No,
    /// 401.
    Auth,
}
use Want::{Auth, No, Ok};

#[tokio::test]
async fn every_endpoint_for_every_role() {
    // Many deliberate 401/403s from one address: abuse blocking would stop
    // the table half-way (it has its own tests in security_http.rs).
    let app = spawn_app_with(Backend::Sqlite, &[("abuse_block", "off")]).await;
    let owner = account(&app, "owner", "agent").await;
    let agent = account(&app, "agent", "agent").await;
    let supervisor = account(&app, "super", "supervisor").await;
    let conv = app.create().await;
    app.say(&conv, "I want to talk to a human").await;
    let res = app
        .client
        .post(app.url(&format!("/v1/agent/conversations/{}/accept", conv.id)))
        .bearer_auth(&owner)
        .send()
        .await
        .expect("accept");
    assert_eq!(res.status(), 200);
    let c = format!("/v1/conversations/{}", conv.id);
    let a = format!("/v1/agent/conversations/{}", conv.id);
    let bad = json!({"not": "valid"});
    // (method, path, body, [none, shopper, agent (not the owner), supervisor, admin])
    let table: Vec<(&str, String, Option<Value>, [Want; 5])> = vec![
        ("GET", c.clone(), None, [Auth, Ok, Auth, Auth, Auth]),
        (
            "POST",
            format!("{c}/messages"),
            Some(json!({"text": ""})),
            [Auth, Ok, Auth, Auth, Auth],
        ),
        (
            "POST",
            format!("{c}/csat"),
            Some(json!({"score": 0})),
            [Auth, Ok, Auth, Auth, Auth],
        ),
        (
            "POST",
            format!("{c}/identity"),
            Some(bad.clone()),
            [Auth, Ok, Auth, Auth, Auth],
        ),
        (
            "GET",
            format!("{c}/resolution"),
            None,
            [Auth, Auth, No, Ok, Ok],
        ),
        (
            "GET",
            "/v1/admin/resolutions".into(),
            None,
            [Auth, Auth, No, Ok, Ok],
        ),
        (
            "POST",
            "/v1/admin/import/shopify".into(),
            Some(json!({"orders": "x"})),
            [Auth, Auth, Auth, Auth, Ok],
        ),
        (
            "GET",
            "/v1/admin/webhooks".into(),
            None,
            [Auth, Auth, Auth, Auth, Ok],
        ),
        (
            "POST",
            "/v1/admin/gdpr/export".into(),
            Some(bad.clone()),
            [Auth, Auth, Auth, Auth, Ok],
        ),
        (
            "POST",
            "/v1/admin/gdpr/erase".into(),
            Some(bad.clone()),
            [Auth, Auth, Auth, Auth, Ok],
        ),
        (
            "POST",
            "/v1/admin/gdpr/purge".into(),
            Some(bad.clone()),
            [Auth, Auth, Auth, Auth, Ok],
        ),
        // The store workspace: supervisors and admins (reload: admins only).
        (
            "GET",
            "/v1/widget/config".into(),
            None,
            [Ok, Ok, Ok, Ok, Ok],
        ),
        (
            "GET",
            "/v1/admin/store".into(),
            None,
            [Auth, Auth, No, Ok, Ok],
        ),
        (
            "GET",
            "/v1/admin/store/versions".into(),
            None,
            [Auth, Auth, No, Ok, Ok],
        ),
        (
            "GET",
            "/v1/admin/store/files".into(),
            None,
            [Auth, Auth, No, Ok, Ok],
        ),
        (
            "POST",
            "/v1/admin/store/preview".into(),
            Some(bad.clone()),
            [Auth, Auth, No, Ok, Ok],
        ),
        (
            "POST",
            "/v1/admin/store/publish".into(),
            Some(bad.clone()),
            [Auth, Auth, No, Ok, Ok],
        ),
        (
            "POST",
            "/v1/admin/store/reload".into(),
            Some(json!({})),
            [Auth, Auth, Auth, Auth, Ok],
        ),
        // Single sign-on is public (off here: 404 oidc_not_configured).
        ("GET", "/v1/agent/oidc".into(), None, [Ok, Ok, Ok, Ok, Ok]),
        (
            "GET",
            "/v1/agent/oidc/start".into(),
            None,
            [Ok, Ok, Ok, Ok, Ok],
        ),
        (
            "GET",
            "/v1/agent/oidc/callback?code=a&state=b".into(),
            None,
            [Ok, Ok, Ok, Ok, Ok],
        ),
        (
            "GET",
            "/v1/agent/me".into(),
            None,
            [Auth, Auth, Ok, Ok, Auth],
        ),
        (
            "GET",
            "/v1/agent/queue".into(),
            None,
            [Auth, Auth, Ok, Ok, Auth],
        ),
        (
            "GET",
            "/v1/agent/canned-replies".into(),
            None,
            [Auth, Auth, Ok, Ok, Auth],
        ),
        (
            "POST",
            "/v1/agent/canned-replies".into(),
            Some(bad.clone()),
            [Auth, Auth, No, Ok, Auth],
        ),
        (
            "DELETE",
            "/v1/agent/canned-replies/999999".into(),
            None,
            [Auth, Auth, No, Ok, Auth],
        ),
        ("GET", a.clone(), None, [Auth, Auth, No, Ok, Auth]),
        (
            "POST",
            format!("{a}/accept"),
            None,
            [Auth, Auth, Ok, Ok, Auth],
        ),
        (
            "POST",
            format!("{a}/messages"),
            Some(json!({"text": ""})),
            [Auth, Auth, No, Ok, Auth],
        ),
        (
            "POST",
            format!("{a}/notes"),
            Some(json!({"text": ""})),
            [Auth, Auth, No, Ok, Auth],
        ),
        (
            "POST",
            format!("{a}/typing"),
            Some(bad.clone()),
            [Auth, Auth, No, Ok, Auth],
        ),
        (
            "POST",
            format!("{a}/transfer"),
            Some(bad.clone()),
            [Auth, Auth, No, Ok, Auth],
        ),
        (
            "POST",
            format!("{a}/resolve"),
            Some(json!({"outcome": "nope"})),
            [Auth, Auth, No, Ok, Auth],
        ),
        // Destructive when allowed: last.
        (
            "POST",
            format!("{a}/release"),
            None,
            [Auth, Auth, No, Ok, Auth],
        ),
    ];
    let roles: [(&str, Option<&str>); 5] = [
        ("none", None),
        ("shopper", Some(conv.token.as_str())),
        ("agent", Some(agent.as_str())),
        ("supervisor", Some(supervisor.as_str())),
        ("admin", Some(ADMIN_TOKEN)),
    ];
    let mut failures = Vec::new();
    for (method, path, body, wants) in &table {
        for ((role, token), want) in roles.iter().zip(wants) {
            let url = app.url(path);
            let mut req = match *method {
                "GET" => app.client.get(url),
                "DELETE" => app.client.delete(url),
                _ => app.client.post(url),
            };
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let status = req.send().await.expect("request").status().as_u16();
            let got = match status {
                401 => Auth,
                403 => No,
                _ => Ok,
            };
            if got != *want {
                failures.push(format!(
                    "{method} {path} as {role}: {status}, wanted {want:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
