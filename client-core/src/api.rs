//! The HTTP API v1's wire types: the contract between the server and every client.
//! Add to it; never bend it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::response::{ContentHash, Location, Response, ResponseId};
use crate::validate::ValidationError;

/// The largest number of responses in one `POST /api/v1/sync/responses`.
pub const MAX_BATCH_RESPONSES: usize = 500;
/// The largest body of one `POST /api/v1/sync/responses`, in bytes.
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Coordinator,
    Analyst,
    Interviewer,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginResponse {
    pub token: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolRequest {
    pub code: String,
    pub device_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolResponse {
    pub device_id: Uuid,
    pub token: String,
}

/// One published questionnaire version a device may fill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncQuestionnaire {
    pub slug: String,
    pub version: i32,
    pub title: String,
    pub document: Value,
}

/// `GET /api/v1/sync/questionnaires`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncQuestionnaires {
    pub questionnaires: Vec<SyncQuestionnaire>,
}

/// One response on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireResponse {
    pub id: ResponseId,
    pub questionnaire: String,
    pub version: i32,
    pub answers: Value,
    pub started_at: String,
    pub completed_at: String,
    /// The device that made the response (the one enrolled when it was filled). When
    /// absent, the server takes the sending device's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl From<&Response> for WireResponse {
    fn from(r: &Response) -> Self {
        Self {
            id: r.id,
            questionnaire: r.questionnaire.clone(),
            version: r.version,
            answers: r.answers.clone(),
            started_at: r.started_at.clone(),
            completed_at: r.completed_at.clone(),
            device_id: r.device_id,
            location: r.location.clone(),
        }
    }
}

impl WireResponse {
    /// The response this describes, with `sender` as its device when it names none.
    pub fn into_response(self, sender: Option<Uuid>) -> Response {
        Response {
            id: self.id,
            questionnaire: self.questionnaire,
            version: self.version,
            answers: self.answers,
            started_at: self.started_at,
            completed_at: self.completed_at,
            device_id: self.device_id.or(sender),
            location: self.location,
        }
    }
}

/// What the device reports of itself on each push, for the coordinator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceState {
    /// Responses queued on the device as the request leaves, the request's own included
    /// (the server keeps what remains once they are answered).
    pub queued: u32,
    pub drafts: u32,
    pub app_version: String,
}

/// `POST /api/v1/sync/responses`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushRequest {
    pub responses: Vec<WireResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_state: Option<DeviceState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    /// New: stored now.
    Accepted,
    /// Same id, same content hash: a retry; nothing changed.
    Duplicate,
    /// Same id, different content: nothing overwritten.
    Conflict,
    /// Refused, with the errors.
    Rejected,
}

/// The server's receipt for one response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResult {
    /// The item's id; `null` only when the item was so malformed it had no readable id.
    pub id: Option<ResponseId>,
    pub status: ItemStatus,
    /// The content hash the server holds for this id (absent only when nothing is held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<ContentHash>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ValidationError>,
}

/// `POST /api/v1/sync/responses` answer: one result per response, in request order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushResponse {
    pub results: Vec<PushResult>,
}

/// The body of every error the API returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ValidationError>,
}
