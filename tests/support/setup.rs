//! Setting up a server over its HTTP API, as a coordinator would.

use serde_json::{json, Value};

/// An HTTP client for the set-up calls, with the admin's token.
pub struct Admin {
    pub server: String,
    pub token: String,
    http: reqwest::Client,
}

impl Admin {
    pub async fn login(server: &str, password: &str) -> Self {
        Self::login_as(server, "admin", password).await
    }

    /// Signs in as another staff account.
    pub async fn login_as(server: &str, username: &str, password: &str) -> Self {
        let http = reqwest::Client::new();
        let body: Value = http
            .post(format!("{server}/api/v1/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            server: server.to_string(),
            token: body["token"].as_str().unwrap().to_string(),
            http,
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.server))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Creates and publishes a questionnaire; returns its version.
    pub async fn publish(&self, slug: &str, document: &Value) -> i32 {
        self.post(
            "/api/v1/questionnaires",
            json!({"slug": slug, "document": document}),
        )
        .await;
        let published = self
            .post(&format!("/api/v1/questionnaires/{slug}/publish"), json!({}))
            .await;
        published["version"].as_i64().unwrap() as i32
    }

    /// A new enrolment code for the interviewer whose device `device` is: another machine of
    /// theirs (the one that imports a phone's backup).
    pub async fn code_for_interviewer_of(&self, device: uuid::Uuid) -> String {
        let devices: Value = self
            .http
            .get(format!("{}/api/v1/devices", self.server))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let interviewer = devices["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == json!(device))
            .expect("the device is listed")["interviewer_id"]
            .as_str()
            .unwrap()
            .to_string();
        let code = self
            .post(
                &format!("/api/v1/interviewers/{interviewer}/enrolment-code"),
                json!({}),
            )
            .await;
        code["enrolment_code"].as_str().unwrap().to_string()
    }

    /// Creates an interviewer; returns its enrolment code.
    pub async fn interviewer(&self, name: &str) -> String {
        let created = self
            .post("/api/v1/interviewers", json!({"name": name}))
            .await;
        created["enrolment_code"].as_str().unwrap().to_string()
    }

    /// Downloads an export as text.
    pub async fn export(&self, slug: &str, format: &str) -> String {
        self.http
            .get(format!(
                "{}/api/v1/questionnaires/{slug}/responses.{format}",
                self.server
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// The project's example questionnaires.
pub fn example(name: &str) -> Value {
    let path = format!(
        "{}/schemas/examples/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The answers of an example questionnaire's first conformance case (a complete, valid
/// interview).
pub fn valid_answers(name: &str) -> Value {
    let path = format!(
        "{}/schemas/examples/{name}.cases.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(cases["cases"][0]["valid"], true, "{path}");
    cases["cases"][0]["answers"].clone()
}
