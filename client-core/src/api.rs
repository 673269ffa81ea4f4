//! The HTTP API v1's wire types: the contract between the server and every client.
//! Add to it; never bend it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::changes::Change;
use crate::i18n::Message;
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
    /// Responses the server refused, waiting on the device to be corrected.
    #[serde(default)]
    pub rejected: u32,
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
    /// The message as one string, `"français / English"`, for clients that show one string.
    pub error: String,
    /// The same message in each language: `message` (French) and `message_en` (English).
    /// Absent only from a body that did not come from Parole.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// What went wrong, for a client to act on, where the status alone does not say
    /// (`draft_conflict`, `breaking_change`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ValidationError>,
}

impl ErrorBody {
    pub fn new(message: Message, errors: Vec<ValidationError>) -> Self {
        Self {
            error: message.joined(),
            message: Some(message),
            code: None,
            errors,
        }
    }

    /// The message in both languages (the one string in both when the body has no
    /// `message` / `message_en`).
    pub fn text(&self) -> Message {
        self.message
            .clone()
            .unwrap_or_else(|| Message::same(self.error.clone()))
    }
}

// ---------------------------------------------------------------------------------------------
// The staff API: accounts, questionnaires, interviewers and devices, exports.
//
// One type per request and per answer, used by the server's handlers, the native
// `ApiClient` and the CLI alike. A version that no longer takes responses is *retired*
// (`POST …/versions/{n}/retire`); its wire fields keep their first names, `revoked_at` and
// `revoked_reason`, which clients already read.

/// `POST /api/v1/users` (admin).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateUserRequest {
    pub username: String,
    pub password: String,
    pub role: Role,
}

/// The account `POST /api/v1/users` made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedUser {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
}

/// `GET /api/v1/auth/me` (staff): who the session is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
}

/// `PUT /api/v1/auth/password` (staff): one's own password. The session that asks stays
/// open; every other session of the account ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// `GET /api/v1/users` (admin): the staff accounts, by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserList {
    pub users: Vec<UserSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    /// RFC 3339.
    pub created_at: String,
    /// The last use of any of its sessions (RFC 3339).
    pub last_seen_at: Option<String>,
}

/// `PATCH /api/v1/users/{id}` (admin): what to change, each field optional. Disabling an
/// account or setting its password ends its sessions at once.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateUserRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// A new password (a reset: the user is told it by the admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `POST /api/v1/questionnaires` (coordinator): a new questionnaire, its draft `document`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateQuestionnaireRequest {
    pub slug: String,
    pub document: Value,
}

/// The questionnaire `POST /api/v1/questionnaires` made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedQuestionnaire {
    pub slug: String,
}

/// `PUT /api/v1/questionnaires/{slug}/draft` (coordinator).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PutDraftRequest {
    pub document: Value,
    /// The draft's revision the edit started from ([`QuestionnaireDetail::draft_revision`]):
    /// when another save came in since, nothing is saved and the answer is 409
    /// [`DraftConflict`]. Without it, the last save wins (the CLI's `publish --file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_revision: Option<i64>,
}

/// `PUT /api/v1/questionnaires/{slug}/draft` answered 200: the draft's new revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedDraft {
    pub revision: i64,
}

/// The error code of a [`DraftConflict`].
pub const DRAFT_CONFLICT: &str = "draft_conflict";
/// The error code of a publication refused for its breaking changes (409, each one in
/// `errors` with the code `type_changed`).
pub const BREAKING_CHANGE: &str = "breaking_change";

/// `PUT /api/v1/questionnaires/{slug}/draft` answered 409: someone saved the draft since
/// `base_revision`. [`ErrorBody`]'s shape (code [`DRAFT_CONFLICT`]), with where the draft is
/// now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftConflict {
    pub error: String,
    #[serde(flatten)]
    pub message: Message,
    pub code: String,
    /// The draft's current revision.
    pub revision: i64,
    /// When, and by whom (a username), it was saved last.
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<String>,
}

/// `POST /api/v1/questionnaires/{slug}/publish` answered 201: the version the draft became,
/// and what changed since the version before (none for the first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub version: i32,
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// `GET /api/v1/questionnaires/{slug}/changes` (coordinator): what publishing the draft
/// would change, compared with the latest published version (`base_version`; `null`, and
/// no changes, while nothing is published). `breaking` lists what would make the responses
/// already received unreadable: while it is not empty, publishing is refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuestionnaireChanges {
    pub base_version: Option<i32>,
    pub changes: Vec<Change>,
    pub breaking: Vec<Change>,
}

/// One questionnaire in `GET /api/v1/questionnaires`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionnaireSummary {
    pub slug: String,
    /// The latest version's title, else the draft's.
    pub title: Option<String>,
    pub latest_version: Option<i32>,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Whether the draft holds changes not yet published (true while nothing is).
    #[serde(default)]
    pub draft_changed: bool,
    /// Responses received, per version (versions without any are left out).
    #[serde(default)]
    pub responses: Vec<VersionResponses>,
    /// When the latest response was received.
    #[serde(default)]
    pub last_response_at: Option<DateTime<Utc>>,
}

/// How many responses one version has received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionResponses {
    pub version: i32,
    pub responses: i64,
}

/// `GET /api/v1/questionnaires`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionnaireList {
    pub questionnaires: Vec<QuestionnaireSummary>,
}

/// One published version, without its document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionSummary {
    pub version: i32,
    pub title: String,
    pub published_at: DateTime<Utc>,
    /// When it was retired; `None` while it takes responses.
    #[serde(rename = "revoked_at")]
    pub retired_at: Option<DateTime<Utc>>,
    #[serde(rename = "revoked_reason")]
    pub retired_reason: Option<String>,
}

/// `GET /api/v1/questionnaires/{slug}`: the draft and the published versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionnaireDetail {
    pub slug: String,
    pub draft: Value,
    /// The draft's revision: 1 when created, one more at each save. Send it back as
    /// [`PutDraftRequest::base_revision`] so as not to overwrite someone else's save.
    pub draft_revision: i64,
    /// When the draft was saved last, and by whom (a username; `null` when unknown).
    pub draft_updated_at: DateTime<Utc>,
    pub draft_updated_by: Option<String>,
    pub versions: Vec<VersionSummary>,
    /// See [`QuestionnaireSettings`].
    pub approved_only: bool,
}

/// `GET /api/v1/questionnaires/{slug}/versions/{n}`: one version with its document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionDetail {
    pub slug: String,
    #[serde(flatten)]
    pub summary: VersionSummary,
    pub document: Value,
}

/// The longest reason a retirement may give (it is shown on the phones).
pub const MAX_RETIRE_REASON_CHARS: usize = 500;

/// `POST /api/v1/questionnaires/{slug}/versions/{n}/retire` (coordinator): the body is
/// optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetireRequest {
    /// Why, shown on the phones (at most [`MAX_RETIRE_REASON_CHARS`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A version's retirement: the first one's time and reason stand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retirement {
    pub slug: String,
    pub version: i32,
    #[serde(rename = "revoked_at")]
    pub retired_at: DateTime<Utc>,
    #[serde(rename = "revoked_reason")]
    pub retired_reason: Option<String>,
}

/// The media type `POST /api/v1/xlsform` takes: an Excel workbook (.xlsx).
pub const XLSX_MEDIA_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// The largest workbook `POST /api/v1/xlsform` reads, in bytes (10 MiB).
pub const MAX_XLSFORM_BYTES: usize = 10 * 1024 * 1024;

/// One row of an XLSForm import's report: where (the sheet's name as written in the
/// workbook, the row as Excel numbers it, the column's header as written) and what, in
/// French and English. `row` and `column` are `null` when the issue is about a whole sheet
/// or the whole file (`sheet` is then `""`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XlsformIssue {
    pub sheet: String,
    pub row: Option<u32>,
    pub column: Option<String>,
    #[serde(flatten)]
    pub message: Message,
}

impl XlsformIssue {
    /// `sheet:row:column`, the parts it has (`survey:12:relevant`, `survey`, `""`).
    pub fn place(&self) -> String {
        let mut out = self.sheet.clone();
        if let Some(row) = self.row {
            out.push_str(&format!(":{row}"));
        }
        if let Some(column) = &self.column {
            out.push_str(&format!(":{column}"));
        }
        out
    }
}

/// `POST /api/v1/xlsform` (coordinator; the body is the workbook): the questionnaire the
/// workbook converts to, nothing saved, and what could not be converted, row by row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XlsformReport {
    pub document: Value,
    pub warnings: Vec<XlsformIssue>,
    /// A slug made from the settings' `form_id` (or the title), for
    /// `POST /api/v1/questionnaires`: the format has no place for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
}

/// The 422 body of `POST /api/v1/xlsform` when the workbook cannot become a questionnaire:
/// [`ErrorBody`]'s shape, its `errors` being [`XlsformIssue`]s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XlsformRefusal {
    pub error: String,
    #[serde(flatten)]
    pub message: Message,
    pub errors: Vec<XlsformIssue>,
}

/// `POST /api/v1/interviewers` (coordinator).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateInterviewerRequest {
    pub name: String,
}

/// The interviewer `POST /api/v1/interviewers` made, with its one-time enrolment code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedInterviewer {
    pub id: Uuid,
    pub name: String,
    pub enrolment_code: String,
}

/// `POST /api/v1/interviewers/{id}/enrolment-code`: a new code (the unused ones stop
/// working).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolmentCode {
    pub id: Uuid,
    pub enrolment_code: String,
}

/// `POST /api/v1/qr` (staff): the text to draw as a QR code (answered as SVG).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QrRequest {
    pub text: String,
}

/// One interviewer in `GET /api/v1/interviewers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interviewer {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// `GET /api/v1/interviewers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterviewerList {
    pub interviewers: Vec<Interviewer>,
}

/// One device in `GET /api/v1/devices`: whose, when it last synced, and what it said it
/// still held then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceSummary {
    pub id: Uuid,
    pub name: String,
    pub interviewer_id: Uuid,
    pub interviewer_name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub device_state: Option<DeviceState>,
}

/// `GET /api/v1/devices`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<DeviceSummary>,
}

/// What an export does with the answers to `x-personal-data` questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum PersonalData {
    Omit,
    Include,
}

impl PersonalData {
    /// The `personal` parameter's values.
    pub const VALUES: [&'static str; 2] = ["omit", "include"];

    pub fn as_str(self) -> &'static str {
        match self {
            PersonalData::Omit => "omit",
            PersonalData::Include => "include",
        }
    }
}

impl TryFrom<String> for PersonalData {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "omit" => Ok(PersonalData::Omit),
            "include" => Ok(PersonalData::Include),
            _ => Err(format!("values: {}", PersonalData::VALUES.join(", "))),
        }
    }
}

/// The query of `GET /api/v1/questionnaires/{slug}/responses.{ndjson,csv}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportParams {
    /// Only this published version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    /// Only the responses after this sequence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    /// `omit` or `include` (default: by role; analysts may not include).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal: Option<PersonalData>,
    /// Only the responses completed on or after this day (the phone's local date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<chrono::NaiveDate>,
    /// Only the responses completed on or before this day (the phone's local date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<chrono::NaiveDate>,
    /// Only this interviewer's (the interviewer of the phone that made them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interviewer: Option<Uuid>,
    /// Only the responses in this review state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewState>,
    /// Only the responses with these answers (`where=quartier:malakoff`, repeatable; see
    /// [`Where`]).
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub where_: Vec<Where>,
    /// CSV: the separator, `,` (default) or `;` (Excel in French).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sep: Option<CsvSeparator>,
    /// CSV, GeoJSON: choice and yes/no labels in this language (`fr`, `en`, or a language
    /// of the questionnaire) instead of the values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
    /// CSV: the items of this repeat (its column name), one row each, instead of the
    /// responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<String>,
}

/// The separator of a CSV export: `,` (RFC 4180's) or `;` (what Excel expects where the
/// decimal mark is a comma, as in French).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum CsvSeparator {
    #[default]
    Comma,
    Semicolon,
}

impl CsvSeparator {
    /// The separator's byte.
    pub fn byte(self) -> u8 {
        match self {
            CsvSeparator::Comma => b',',
            CsvSeparator::Semicolon => b';',
        }
    }
}

impl From<CsvSeparator> for String {
    fn from(s: CsvSeparator) -> String {
        (s.byte() as char).to_string()
    }
}

impl TryFrom<String> for CsvSeparator {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "," => Ok(CsvSeparator::Comma),
            ";" => Ok(CsvSeparator::Semicolon),
            _ => Err("values: `,` or `;`".to_string()),
        }
    }
}

impl ExportParams {
    /// The filters of this query, as the responses page takes them.
    pub fn filter(&self) -> ResponseFilter {
        ResponseFilter {
            version: self.version,
            from: self.from,
            to: self.to,
            interviewer: self.interviewer,
            review: self.review,
            where_: self.where_.clone(),
        }
    }
}

/// A query's parameters as `key=value` pairs, a list (`where`) as the key repeated: what
/// the server's query parser reads (`serde_urlencoded`, behind `reqwest`'s `.query()`,
/// cannot write lists).
pub fn query_pairs<T: Serialize>(query: &T) -> Vec<(String, String)> {
    let scalar = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = Vec::new();
    if let Ok(Value::Object(map)) = serde_json::to_value(query) {
        for (k, v) in map {
            match v {
                Value::Null => {}
                Value::Array(items) => out.extend(items.iter().map(|i| (k.clone(), scalar(i)))),
                v => out.push((k, scalar(&v))),
            }
        }
    }
    out
}

/// What the responses page, the exports and the summaries are filtered on (every filter
/// optional, all of them together). Their query structs each repeat these fields and build
/// this with `filter()`: `#[serde(flatten)]` would read every value as a string, and a query
/// string's `version=2` would no longer parse as a number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseFilter {
    pub version: Option<i32>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub interviewer: Option<Uuid>,
    pub review: Option<ReviewState>,
    pub where_: Vec<Where>,
}

/// One `where=question:value` filter: only the responses whose answer to `question` (its
/// column name, `section.question` inside a section) is `value` (or, for a multiple choice,
/// includes it). Several values of one question are alternatives ("Malakoff or Bottière");
/// filters on different questions all apply ("women" and "15–24").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Where {
    pub question: String,
    pub value: String,
}

impl From<Where> for String {
    fn from(w: Where) -> String {
        format!("{}:{}", w.question, w.value)
    }
}

impl TryFrom<String> for Where {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.split_once(':') {
            Some((q, v)) if !q.trim().is_empty() => Ok(Where {
                question: q.trim().to_string(),
                value: v.to_string(),
            }),
            _ => Err("expected question:value, e.g. quartier:malakoff".to_string()),
        }
    }
}

/// `PUT /api/v1/attachments/sha256:{hex}`: what the server holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentStored {
    pub name: String,
    pub size: u64,
    /// `false` when the server already held it (nothing changed).
    pub created: bool,
}

/// `GET /api/v1/questionnaires/{slug}/collection` (coordinator): how the collection goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    /// Responses received, every version.
    pub total: i64,
    /// Responses by the day they were completed (the interviewer's local date), in order.
    pub per_day: Vec<DayCount>,
    /// Responses by interviewer (the interviewer of the phone that made them), by name.
    pub per_interviewer: Vec<InterviewerCount>,
    /// The median time from the first answer to "Terminer", in seconds.
    pub median_duration_s: Option<f64>,
    /// Responses received whose photos have not all arrived yet.
    pub waiting_for_photos: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub responses: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterviewerCount {
    pub interviewer_id: Uuid,
    pub name: String,
    pub responses: i64,
    pub last_received_at: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Reading and reviewing responses (staff)

/// `PUT /api/v1/questionnaires/{slug}/settings` (coordinator), also returned in
/// [`QuestionnaireDetail`]. `approved_only`: analysts see (in the list, one by one and in the
/// exports) only the responses a coordinator approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionnaireSettings {
    pub approved_only: bool,
}

/// Where a response stands in its review. Every response starts `received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Received,
    Approved,
    HasIssues,
    Rejected,
}

impl ReviewState {
    /// The states as the API writes them.
    pub const VALUES: [&'static str; 4] = ["received", "approved", "has_issues", "rejected"];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Received => "received",
            ReviewState::Approved => "approved",
            ReviewState::HasIssues => "has_issues",
            ReviewState::Rejected => "rejected",
        }
    }

    /// The state named `s` (as [`Self::as_str`] writes it).
    pub fn parse(s: &str) -> Option<ReviewState> {
        [
            ReviewState::Received,
            ReviewState::Approved,
            ReviewState::HasIssues,
            ReviewState::Rejected,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// `PUT /api/v1/responses/{id}/review` (coordinator): the new state, with a comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewRequest {
    pub state: ReviewState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The longest comment a review may carry, in characters.
pub const MAX_REVIEW_COMMENT_CHARS: usize = 2000;

/// One step of a response's review: the state set, by whom (a username; `null` when the
/// account is gone), when, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewEntry {
    pub state: ReviewState,
    pub comment: Option<String>,
    pub by: Option<String>,
    pub at: DateTime<Utc>,
}

/// A response's review: its state now and every step, newest first (empty while nobody has
/// reviewed it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub state: ReviewState,
    pub history: Vec<ReviewEntry>,
}

/// `GET /api/v1/responses/{id}` (readers): one response. For an analyst, the answers to
/// personal questions are left out and the location is rounded, as in the exports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseDetail {
    pub id: Uuid,
    /// The questionnaire's slug.
    pub questionnaire: String,
    pub version: i32,
    pub answers: Value,
    /// As the phone wrote them (with its offset).
    pub started_at: String,
    pub completed_at: String,
    pub received_at: DateTime<Utc>,
    /// From the first answer to "Terminer", in seconds.
    pub duration_s: f64,
    pub device_id: Option<Uuid>,
    pub device_name: Option<String>,
    pub interviewer_id: Option<Uuid>,
    pub interviewer_name: Option<String>,
    pub location: Option<Value>,
    pub review: Review,
}

/// One response in [`ResponsePage`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseSummary {
    pub id: Uuid,
    pub version: i32,
    pub completed_at: String,
    pub received_at: DateTime<Utc>,
    /// The interviewer of the phone that made it (a value for the `interviewer` filter).
    #[serde(default)]
    pub interviewer_id: Option<Uuid>,
    pub interviewer_name: Option<String>,
    pub review_state: ReviewState,
    /// Its answers, as in [`ResponseDetail`] (for an analyst, without personal ones), so a
    /// table of answers needs no call per row.
    #[serde(default)]
    pub answers: Value,
    /// Where it was filled (for an analyst, rounded), as in [`ResponseDetail`].
    #[serde(default)]
    pub location: Option<Value>,
}

/// `GET /api/v1/questionnaires/{slug}/responses` (readers): one page, newest received
/// first; `next` is the cursor of the next page (`null` on the last one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponsePage {
    pub responses: Vec<ResponseSummary>,
    pub next: Option<Cursor>,
}

/// Where a page of responses ends: opaque to clients, which send it back as `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cursor(i64);

impl Cursor {
    /// The cursor after the response with this sequence number.
    pub fn after_seq(seq: i64) -> Cursor {
        Cursor(seq)
    }

    pub fn seq(self) -> i64 {
        self.0
    }
}

impl From<Cursor> for String {
    fn from(c: Cursor) -> String {
        format!("r{:x}", c.0)
    }
}

impl TryFrom<String> for Cursor {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.strip_prefix('r')
            .and_then(|hex| i64::from_str_radix(hex, 16).ok())
            .filter(|seq| *seq > 0)
            .map(Cursor)
            .ok_or_else(|| "a cursor is the `next` of a previous page".to_string())
    }
}

/// How many responses a page holds: 1 to [`PageLimit::MAX`] (default [`PageLimit::DEFAULT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct PageLimit(u32);

impl PageLimit {
    pub const DEFAULT: u32 = 50;
    pub const MAX: u32 = 200;

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        PageLimit(Self::DEFAULT)
    }
}

impl From<PageLimit> for u32 {
    fn from(l: PageLimit) -> u32 {
        l.0
    }
}

impl TryFrom<u32> for PageLimit {
    type Error = String;

    fn try_from(n: u32) -> Result<Self, String> {
        if (1..=Self::MAX).contains(&n) {
            Ok(PageLimit(n))
        } else {
            Err(format!("from 1 to {}", Self::MAX))
        }
    }
}

/// The query of `GET /api/v1/questionnaires/{slug}/responses`: every filter optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseListParams {
    /// Only this published version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    /// Only the responses completed on or after this day (the phone's local date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<chrono::NaiveDate>,
    /// Only the responses completed on or before this day (the phone's local date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<chrono::NaiveDate>,
    /// Only this interviewer's (the interviewer of the phone that made them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interviewer: Option<Uuid>,
    /// Only the responses in this review state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewState>,
    /// Only the responses with these answers (see [`Where`]).
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub where_: Vec<Where>,
    /// The `next` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Cursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<PageLimit>,
}

impl ResponseListParams {
    /// The filters of this query.
    pub fn filter(&self) -> ResponseFilter {
        ResponseFilter {
            version: self.version,
            from: self.from,
            to: self.to,
            interviewer: self.interviewer,
            review: self.review,
            where_: self.where_.clone(),
        }
    }
}

/// The query of `GET /api/v1/questionnaires/{slug}/summary`: the responses page's filters,
/// plus `by` for the side-by-side view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SummaryParams {
    /// Only this published version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    /// Only the responses completed on or after this day (the phone's local date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<chrono::NaiveDate>,
    /// Only the responses completed on or before this day (the phone's local date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<chrono::NaiveDate>,
    /// Only this interviewer's (the interviewer of the phone that made them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interviewer: Option<Uuid>,
    /// Only the responses in this review state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewState>,
    /// Only the responses with these answers (see [`Where`]).
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub where_: Vec<Where>,
    /// Every figure once per value of this single-choice question (its column name, e.g.
    /// `conseil`): satisfaction per neighbourhood.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl SummaryParams {
    /// The filters of this query.
    pub fn filter(&self) -> ResponseFilter {
        ResponseFilter {
            version: self.version,
            from: self.from,
            to: self.to,
            interviewer: self.interviewer,
            review: self.review,
            where_: self.where_.clone(),
        }
    }
}

/// `GET /api/v1/questionnaires/{slug}/summary` (readers): the figures of every question over
/// the selected responses, computed by PostgreSQL.
///
/// Labels come in every language of the questionnaire (`labels`: language → text, the
/// default language always there), so that the reader picks one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponsesSummary {
    pub questionnaire: String,
    /// The versions summarised (all of them, or the one asked for), oldest first.
    pub versions: Vec<i32>,
    /// The questionnaire's languages, default first.
    pub languages: Vec<String>,
    /// How many responses the filters select.
    pub responses: i64,
    /// `omit`: the personal questions are left out (analysts); `include`: they are there.
    pub personal_data: PersonalData,
    /// The question the figures are broken down by, when `by` was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<SummaryBy>,
    /// One entry per question that takes an answer, in question order (the union over the
    /// versions); notes and sections have none, a repeat's questions have one each.
    pub questions: Vec<QuestionSummary>,
}

/// The `by` question of a side-by-side summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryBy {
    pub question: String,
    pub labels: std::collections::BTreeMap<String, String>,
}

/// What a question's figures are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryKind {
    /// Counts per choice: single and multiple choices, scales, yes/no.
    Choices,
    /// Count, minimum, median, mean, maximum and a histogram.
    Numbers,
    /// Counts per day.
    Dates,
    /// How many answered, nothing more (text may be personal; photos, locations, times).
    Answered,
}

/// What a question's figures count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryUnit {
    /// Each response once.
    Responses,
    /// Each item of a repeat once (a response with three items counts three times).
    Items,
}

/// One question's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionSummary {
    /// Its column name (`section.question`), a repeat's questions as `repeat.question`.
    pub question: String,
    /// The JSON pointer of its answer (`/formations_suivies/-/date` inside a repeat).
    pub pointer: String,
    /// The question's kind as the questionnaire model names it (`single_choice`, `integer`…).
    pub question_kind: String,
    pub kind: SummaryKind,
    pub unit: SummaryUnit,
    /// The repeat's column name, when `unit` is `items`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<String>,
    /// The question as asked, by language.
    pub labels: std::collections::BTreeMap<String, String>,
    /// One group without `by`; with it, one per value of the `by` question in its order,
    /// then one for the responses that did not answer it (`by_value` null) if any.
    pub groups: Vec<SummaryGroup>,
}

/// A question's figures over one group of responses (or of repeat items).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryGroup {
    /// The `by` question's value of this group (null: every response without `by`, or the
    /// responses that did not answer it with `by`).
    pub by_value: Option<String>,
    /// That value's label, by language (empty without `by`).
    #[serde(default)]
    pub by_labels: std::collections::BTreeMap<String, String>,
    /// Responses (or items) in the group: the base of every percentage.
    pub total: i64,
    /// How many of them have an answer.
    pub answered: i64,
    /// How many have none (the question hidden, skipped, or absent from their version).
    pub no_answer: i64,
    /// `no_answer` out of `total`, in percent (one decimal).
    pub no_answer_pct: f64,
    /// Counts per choice, in the questionnaire's order (kind `choices`). A multiple choice's
    /// percentages are of the respondents, so they may add up past 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<ChoiceCount>,
    /// Answers matching no choice of the selected versions (kind `choices`).
    #[serde(default)]
    pub other: i64,
    /// Kind `numbers`, when at least one answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<NumberSummary>,
    /// Kind `dates`: answers per day, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_day: Vec<DayTally>,
}

/// How many chose one choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceCount {
    /// The choice's value as text (`"malakoff"`, `"4"`, `"true"`).
    pub value: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub count: i64,
    /// `count` out of the group's `total`, in percent (one decimal).
    pub pct: f64,
}

/// The figures of a number question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumberSummary {
    pub count: i64,
    pub min: f64,
    pub median: f64,
    pub mean: f64,
    pub max: f64,
    /// Bins of equal width from the minimum to the maximum over every group (so that groups
    /// compare), about ten; an integer question with a narrow range gets one bin per value.
    pub histogram: Vec<Bin>,
}

/// One histogram bin: `from` ≤ x < `to` (the last one includes `to`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    pub from: f64,
    pub to: f64,
    pub count: i64,
}

/// How many answered one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayTally {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub count: i64,
}

/// `part` out of `whole` in percent, rounded to one decimal (0 when `whole` is 0): how every
/// percentage of a summary is written.
pub fn percent(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_nothing_else() {
        for seq in [1, 15, 0x7fff_ffff_ffff] {
            let s = String::from(Cursor::after_seq(seq));
            assert_eq!(Cursor::try_from(s).unwrap().seq(), seq);
        }
        for bad in ["", "r", "42", "r0", "r-1", "rzz", "R1f"] {
            assert!(Cursor::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_page_holds_one_to_two_hundred_responses() {
        for (n, ok) in [(0, false), (1, true), (50, true), (200, true), (201, false)] {
            assert_eq!(PageLimit::try_from(n).is_ok(), ok, "{n}");
        }
        assert_eq!(PageLimit::default().get(), 50);
    }

    #[test]
    fn review_states_are_written_as_the_api_writes_them() {
        for s in ReviewState::VALUES {
            let state = ReviewState::parse(s).unwrap();
            assert_eq!(state.as_str(), s);
            assert_eq!(serde_json::to_value(state).unwrap(), s);
        }
        assert_eq!(ReviewState::parse("parfait"), None);
    }
}
