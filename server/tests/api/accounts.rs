//! Accounts: logging in and out, the first admin, tokens and each role's rights.

use axum::http::{Method, StatusCode};
use parole_client::api::Role;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn logging_in_with_the_right_password_gives_a_token_and_the_role() {
    let ctx = Ctx::new().await;
    parole_server::create_user(&ctx.db.pool, "camille", Role::Analyst, "un mot de passe")
        .await
        .unwrap();
    let r = ctx
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "camille", "password": "un mot de passe"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["role"], "analyst");
    assert_eq!(v["token"].as_str().unwrap().len(), 64);
    // The token works.
    let r = ctx
        .get("/api/v1/questionnaires", v["token"].as_str().unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn logging_in_with_a_wrong_password_or_unknown_user_is_401() {
    let ctx = Ctx::new().await;
    parole_server::create_user(&ctx.db.pool, "camille", Role::Analyst, "un mot de passe")
        .await
        .unwrap();
    for (u, p) in [("camille", "mauvais"), ("personne", "un mot de passe")] {
        let r = ctx
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": u, "password": p}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.json()["error"].as_str().unwrap().contains("mot de passe"));
    }
}

#[tokio::test]
async fn ensure_admin_creates_the_admin_once_and_returns_a_generated_password() {
    let ctx = Ctx::new().await;
    let pw = parole_server::ensure_admin(&ctx.db.pool, None)
        .await
        .unwrap()
        .unwrap();
    assert!(pw.len() >= 16);
    assert_eq!(
        parole_server::ensure_admin(&ctx.db.pool, None)
            .await
            .unwrap(),
        None
    );
    let r = ctx
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "admin", "password": pw}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["role"], "admin");
}

#[tokio::test]
async fn the_given_admin_password_is_used_and_not_returned() {
    let ctx = Ctx::new().await;
    let out = parole_server::ensure_admin(&ctx.db.pool, Some("secret-admin-pw".into()))
        .await
        .unwrap();
    assert_eq!(out, None);
    let r = ctx
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "admin", "password": "secret-admin-pw"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn calls_without_a_valid_token_are_401() {
    let ctx = Ctx::new().await;
    let r = ctx
        .call(Method::GET, "/api/v1/questionnaires", None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json()["error"].is_string());
    let r = ctx.get("/api/v1/questionnaires", "not-a-token").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = ctx.get("/api/v1/sync/questionnaires", "not-a-token").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn each_role_gets_403_outside_its_rights() {
    let (ctx, coord, _device, device_token) = Ctx::with_device().await;
    let analyst = ctx.login_as(Role::Analyst).await;
    let interviewer = ctx.login_as(Role::Interviewer).await;
    let admin = ctx.login_as(Role::Admin).await;
    let user_body = json!({"username": "x1", "password": "12345678", "role": "analyst"});
    let q_body = json!({"slug": "nouveau", "document": besoins()});

    // Only the admin creates users (coordinator: 403), whatever the body.
    for t in [&coord, &analyst, &interviewer, &device_token] {
        let r = ctx.post("/api/v1/users", Some(t), user_body.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    }
    let r = ctx.post("/api/v1/users", Some(&admin), user_body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // Analysts read and export but do not write; devices and interviewer users neither.
    for t in [&analyst, &interviewer, &device_token] {
        let r = ctx
            .post("/api/v1/questionnaires", Some(t), q_body.clone())
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = ctx
            .post("/api/v1/interviewers", Some(t), json!({"name": "x"}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = ctx.get("/api/v1/devices", t).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    for t in [&interviewer, &device_token] {
        let r = ctx.get("/api/v1/questionnaires", t).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = ctx
            .get("/api/v1/questionnaires/besoins-formation/responses.csv", t)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = ctx
        .get(
            "/api/v1/questionnaires/besoins-formation/responses.ndjson",
            &analyst,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // Only devices sync.
    for t in [&coord, &analyst, &admin] {
        let r = ctx.get("/api/v1/sync/questionnaires", t).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = ctx.push(t, vec![]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }

    // The admin can do what a coordinator can.
    let r = ctx
        .post("/api/v1/questionnaires", Some(&admin), q_body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_logged_out_token_stops_working() {
    let ctx = Ctx::new().await;
    let t = ctx.login_as(Role::Coordinator).await;
    let r = ctx.post("/api/v1/auth/logout", Some(&t), json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        ctx.get("/api/v1/questionnaires", &t).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_nul_character_in_any_body_is_a_422_naming_the_field_never_a_500() {
    let (ctx, coord, _device, _token) = Ctx::with_device().await;
    let admin = ctx.login_as(Role::Admin).await;
    let mut document = besoins();
    document["title"] = json!("Besoins\u{0}");
    let cases: Vec<(&str, Option<&str>, Value, &str)> = vec![
        (
            "/api/v1/auth/login",
            None,
            json!({"username": "ad\u{0}min", "password": "x"}),
            "/username",
        ),
        (
            "/api/v1/interviewers",
            Some(&coord),
            json!({"name": "Lou\u{0}"}),
            "/name",
        ),
        (
            "/api/v1/enrol",
            None,
            json!({"code": "ABCD", "device_name": "tel\u{0}"}),
            "/device_name",
        ),
        (
            "/api/v1/users",
            Some(&admin),
            json!({"username": "lou", "password": "un mot de passe", "role": "analyst", "x\u{0}": 1}),
            "/x\u{fffd}",
        ),
        (
            "/api/v1/questionnaires",
            Some(&coord),
            json!({"slug": "nouveau", "document": document}),
            "/document/title",
        ),
        (
            "/api/v1/questionnaires/besoins-formation/versions/1/retire",
            Some(&coord),
            json!({"reason": "fin\u{0}"}),
            "/reason",
        ),
    ];
    for (uri, token, body, path) in cases {
        let r = ctx.post(uri, token, body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri}: {}",
            r.text()
        );
        let v = r.json();
        assert_eq!(v["errors"][0]["path"], path, "{uri}: {v}");
        assert_eq!(v["errors"][0]["code"], "nul_character", "{uri}: {v}");
    }
}

#[tokio::test]
async fn a_staff_session_ends_when_idle_or_old_and_a_device_token_does_not() {
    let (ctx, coord, _device, device_token) = Ctx::with_device().await;
    let backdate = |column: &'static str, hours: i32| {
        let pool = ctx.db.pool.clone();
        async move {
            sqlx::query(&format!(
                "update token set {column} = now() - make_interval(hours => $1)"
            ))
            .bind(hours)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    assert_eq!(
        ctx.get("/api/v1/devices", &coord).await.status,
        StatusCode::OK
    );
    // Used within the idle limit (2 h), it lives on.
    backdate("last_used_at", 1).await;
    assert_eq!(
        ctx.get("/api/v1/devices", &coord).await.status,
        StatusCode::OK
    );
    // Unused for 3 hours: over.
    backdate("last_used_at", 3).await;
    let r = ctx.get("/api/v1/devices", &coord).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.json()["message_en"]
            .as_str()
            .unwrap()
            .contains("session expired"),
        "{}",
        r.text()
    );
    // Busy but logged in 13 hours ago (the limit is 12): over too.
    let login = ctx
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "coordinator", "password": "mot-de-passe-solide"}),
        )
        .await;
    let coord = login.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        ctx.get("/api/v1/devices", &coord).await.status,
        StatusCode::OK
    );
    backdate("created_at", 13).await;
    assert_eq!(
        ctx.get("/api/v1/devices", &coord).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A phone may stay offline for weeks: its token still works.
    backdate("last_used_at", 24 * 30).await;
    let r = ctx
        .push(&device_token, vec![response(besoins_answers())])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn a_first_admin_password_shorter_than_the_rules_is_refused_at_start() {
    let ctx = Ctx::new().await;
    let e = parole_server::ensure_admin(&ctx.db.pool, Some("court".into()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("PAROLE_ADMIN_PASSWORD") && e.contains("at least 8"),
        "{e}"
    );
    assert!(
        parole_server::ensure_admin(&ctx.db.pool, Some("assez long".into()))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn guessing_a_password_or_an_enrolment_code_is_locked_out_with_retry_after() {
    let ctx = Ctx::new().await;
    let _coord = ctx.login_as(Role::Coordinator).await;
    let login = |password: &'static str| {
        ctx.post(
            "/api/v1/auth/login",
            None,
            json!({"username": "coordinator", "password": password}),
        )
    };
    // Ten wrong passwords are simply wrong; the eleventh starts a lock-out.
    for _ in 0..11 {
        assert_eq!(login("pas le bon").await.status, StatusCode::UNAUTHORIZED);
    }
    for password in ["pas le bon", "mot-de-passe-solide"] {
        let r = login(password).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
        let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&wait), "{wait}");
        assert!(r.json()["message_en"]
            .as_str()
            .unwrap()
            .contains("try again in"));
    }
    // The lock-out is short and ends: the right password then works, and clears it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(login("mot-de-passe-solide").await.status, StatusCode::OK);

    // Enrolment codes: ten wrong ones, then the client is held back.
    for _ in 0..11 {
        let r = ctx
            .post(
                "/api/v1/enrol",
                None,
                json!({"code": "AAAA-BBBB-CCCC", "device_name": "x"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = ctx
        .post(
            "/api/v1/enrol",
            None,
            json!({"code": "AAAA-BBBB-CCCC", "device_name": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
}

/// The admin's id and the id of the account `username`, from the admin's list.
async fn user_id(ctx: &Ctx, admin: &str, username: &str) -> String {
    let users = ctx.get("/api/v1/users", admin).await.json();
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("{username} is listed: {users}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn login(ctx: &Ctx, username: &str, password: &str) -> Reply {
    ctx.post(
        "/api/v1/auth/login",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}

async fn patch_user(ctx: &Ctx, admin: &str, id: &str, body: Value) -> Reply {
    ctx.call(
        Method::PATCH,
        &format!("/api/v1/users/{id}"),
        Some(admin),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn an_admin_lists_accounts_changes_a_role_and_disabling_ends_the_sessions_at_once() {
    let ctx = Ctx::new().await;
    let admin = ctx.login_as(Role::Admin).await;
    parole_server::create_user(&ctx.db.pool, "camille", Role::Analyst, "un mot de passe")
        .await
        .unwrap();
    let camille = login(&ctx, "camille", "un mot de passe").await.json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let users = ctx.get("/api/v1/users", &admin).await.json();
    let listed = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "camille")
        .unwrap()
        .clone();
    assert_eq!(listed["role"], "analyst");
    assert_eq!(listed["disabled"], false);
    assert!(listed["last_seen_at"].is_string(), "{listed}");
    let id = listed["id"].as_str().unwrap().to_string();

    // Promoted: the open session has the new role at once.
    assert_eq!(
        ctx.call(
            Method::POST,
            "/api/v1/interviewers",
            Some(&camille),
            Some(json!({"name": "A"}))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let r = patch_user(&ctx, &admin, &id, json!({"role": "coordinator"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let me = ctx.get("/api/v1/auth/me", &camille).await.json();
    assert_eq!(me["role"], "coordinator");
    assert_eq!(me["username"], "camille");

    // Disabled: the session ends and signing in fails; enabled again, signing in works.
    let r = patch_user(&ctx, &admin, &id, json!({"disabled": true})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        ctx.get("/api/v1/auth/me", &camille).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&ctx, "camille", "un mot de passe").await.status,
        StatusCode::UNAUTHORIZED
    );
    let users = ctx.get("/api/v1/users", &admin).await.json();
    assert!(users["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["username"] == "camille" && u["disabled"] == true));
    patch_user(&ctx, &admin, &id, json!({"disabled": false})).await;
    assert_eq!(
        login(&ctx, "camille", "un mot de passe").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admin_resets_a_password_which_ends_the_sessions_and_obeys_the_rules() {
    let ctx = Ctx::new().await;
    let admin = ctx.login_as(Role::Admin).await;
    parole_server::create_user(
        &ctx.db.pool,
        "camille",
        Role::Coordinator,
        "un mot de passe",
    )
    .await
    .unwrap();
    let old = login(&ctx, "camille", "un mot de passe").await.json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let id = user_id(&ctx, &admin, "camille").await;
    let r = patch_user(&ctx, &admin, &id, json!({"password": "court"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["errors"][0]["path"], "/password");
    let r = patch_user(
        &ctx,
        &admin,
        &id,
        json!({"password": "un nouveau mot de passe"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        ctx.get("/api/v1/auth/me", &old).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&ctx, "camille", "un mot de passe").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&ctx, "camille", "un nouveau mot de passe")
            .await
            .status,
        StatusCode::OK
    );
    // Unknown accounts and interviewers' roles are refused, each saying why.
    let r = patch_user(
        &ctx,
        &admin,
        "00000000-0000-7000-8000-000000000000",
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = patch_user(&ctx, &admin, &id, json!({"role": "interviewer"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["errors"][0]["path"], "/role");
}

#[tokio::test]
async fn an_admin_cannot_disable_or_demote_their_own_account() {
    let ctx = Ctx::new().await;
    let admin = ctx.login_as(Role::Admin).await;
    let me = ctx.get("/api/v1/auth/me", &admin).await.json();
    let id = me["id"].as_str().unwrap();
    for body in [json!({"disabled": true}), json!({"role": "analyst"})] {
        let r = patch_user(&ctx, &admin, id, body).await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert!(r.json()["message"]
            .as_str()
            .unwrap()
            .contains("autre admin"));
    }
    // Still an admin, still signed in.
    assert_eq!(
        ctx.get("/api/v1/users", &admin).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn changing_ones_own_password_needs_the_current_one_and_ends_the_other_sessions() {
    let ctx = Ctx::new().await;
    parole_server::create_user(&ctx.db.pool, "camille", Role::Analyst, "un mot de passe")
        .await
        .unwrap();
    let token = |r: Reply| r.json()["token"].as_str().unwrap().to_string();
    let here = token(login(&ctx, "camille", "un mot de passe").await);
    let elsewhere = token(login(&ctx, "camille", "un mot de passe").await);
    let change = |current: &'static str, new: &'static str| {
        let (ctx, here) = (&ctx, here.clone());
        async move {
            ctx.call(
                Method::PUT,
                "/api/v1/auth/password",
                Some(&here),
                Some(json!({"current_password": current, "new_password": new})),
            )
            .await
        }
    };
    let r = change("pas le bon", "un autre mot de passe").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["errors"][0]["path"], "/current_password");
    let r = change("un mot de passe", "court").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["errors"][0]["path"], "/new_password");
    let r = change("un mot de passe", "un autre mot de passe").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        ctx.get("/api/v1/auth/me", &here).await.status,
        StatusCode::OK
    );
    assert_eq!(
        ctx.get("/api/v1/auth/me", &elsewhere).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&ctx, "camille", "un autre mot de passe").await.status,
        StatusCode::OK
    );
}
