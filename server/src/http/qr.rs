//! `POST /api/v1/qr` (staff): a QR code, as SVG, of a short text. The console shows an
//! enrolment link this way (on screen and on the printable sheets); the text travels in the
//! body, never in a URL, so an enrolment code reaches no access log.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use parole_client::api::QrRequest;
use parole_client::i18n::Message;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use super::{ApiJson, Coordinator};
use crate::error::AppError;
use crate::AppState;

/// The longest text encoded: an enrolment link is far shorter.
pub const MAX_QR_TEXT: usize = 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/qr", post(qr))
}

async fn qr(_: Coordinator, ApiJson(req): ApiJson<QrRequest>) -> Result<Response, AppError> {
    let svg = qr_svg(&req.text)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response())
}

/// The QR code of `text` (error correction M: readable when printed and slightly damaged),
/// black on white with its quiet zone.
pub fn qr_svg(text: &str) -> Result<String, AppError> {
    let len = text.chars().count();
    if text.is_empty() || len > MAX_QR_TEXT {
        return Err(AppError::field_message(
            "/text",
            "length",
            Message::new(
                format!("le texte d'un code QR fait de 1 à {MAX_QR_TEXT} caractères (reçu {len})"),
                format!("a QR code's text is 1 to {MAX_QR_TEXT} characters (got {len})"),
            ),
        ));
    }
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("QR code of {len} characters: {e}")))?;
    Ok(code
        .render::<svg::Color>()
        .min_dimensions(256, 256)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_becomes_an_svg_and_an_empty_or_huge_text_is_refused() {
        let svg = qr_svg("http://127.0.0.1:8080/app/#enrol=ABCD-EFGH-JKLM").unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("#000000"));
        assert!(qr_svg("").is_err());
        assert!(qr_svg(&"x".repeat(MAX_QR_TEXT + 1)).is_err());
    }
}
