//! `/v1/invoices/{id}/pdf` and `/v1/invoices/{id}/efactura.xml`: an issued document for people
//! and for ANAF's e-Factura (UBL 2.1, CIUS-RO), rendered from the frozen document by
//! `berth-documents`, so it reads the same whenever it is fetched. Its ETag is the version it
//! was issued at: an issued document never changes.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use berth_documents::{render_ubl, UblError};
use berth_domain::billing::IssuedDocument;
use berth_domain::error::RefusalKind;
use berth_http::conditional::{versioned_file, IfNoneMatch};
use berth_http::extract::ApiPath;
use berth_http::ApiError;
use uuid::Uuid;

use crate::auth::Viewer;
use crate::AppState;

/// The document file routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/invoices/{id}/pdf", get(pdf))
        .route("/v1/invoices/{id}/efactura.xml", get(efactura))
}

/// A PDF file.
pub struct PdfFile;

impl utoipa::PartialSchema for PdfFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .content_media_type("application/pdf")
            .description(Some("The document as a PDF file"))
            .into()
    }
}

impl utoipa::ToSchema for PdfFile {}

/// A UBL 2.1 XML document.
pub struct UblFile;

impl utoipa::PartialSchema for UblFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .content_media_type("application/xml")
            .description(Some("The document as UBL 2.1 Invoice or CreditNote XML, CIUS-RO"))
            .into()
    }
}

impl utoipa::ToSchema for UblFile {}

/// The issued document `raw` as `viewer` may see it, and the version it was issued at.
async fn issued(state: &AppState, viewer: &Viewer, raw: &str) -> Result<(IssuedDocument, i64), ApiError> {
    let id: Uuid = raw.parse().map_err(|_| ApiError::NotFound)?;
    let mut scoped = viewer.scope(state).await?;
    let row: Option<(serde_json::Value, i64)> = match viewer {
        Viewer::Tenant(reader) => sqlx::query_as(
            "SELECT document, version FROM proj_invoices.invoice_documents WHERE id = $1 AND tenant_id = $2",
        )
        .bind(id)
        .bind(reader.tenant_id)
        .fetch_optional(&mut *scoped)
        .await?,
        Viewer::Operator(_) => {
            sqlx::query_as("SELECT document, version FROM proj_all_invoices.documents WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *scoped)
                .await?
        }
    };
    let Some((document, version)) = row else {
        // Unknown, another tenant's, or a draft that has no document yet.
        return Err(ApiError::NotFound);
    };
    // Reading a stored document back re-checks its totals; one that does not read is a fault.
    let document = serde_json::from_value(document).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((document, version))
}

/// An issued document as a PDF, in Romanian and English with every mention an invoice needs.
#[utoipa::path(get, path = "/v1/invoices/{id}/pdf", operation_id = "get_invoice_pdf", tag = "invoices",
    params(("id" = uuid::Uuid, Path, description = "The document's id")),
    responses((status = 200, description = "The PDF", body = PdfFile, content_type = "application/pdf")),
    security(("bearer" = [])))]
async fn pdf(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(raw): ApiPath<String>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let (document, version) = issued(&state, &viewer, &raw).await?;
    let renderer = state.pdf.as_ref().as_ref().map_err(|e| ApiError::Internal(e.clone()))?;
    let bytes = renderer.render(&document).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(versioned_file(version, "application/pdf", bytes, &if_none_match))
}

/// An issued invoice or credit note as e-Factura XML (UBL 2.1, CIUS-RO).
///
/// A proforma is no fiscal document and has none.
#[utoipa::path(get, path = "/v1/invoices/{id}/efactura.xml", operation_id = "get_invoice_efactura", tag = "invoices",
    params(("id" = uuid::Uuid, Path, description = "The document's id")),
    responses((status = 200, description = "The UBL document", body = UblFile, content_type = "application/xml")),
    security(("bearer" = [])))]
async fn efactura(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(raw): ApiPath<String>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let (document, version) = issued(&state, &viewer, &raw).await?;
    let xml = render_ubl(&document).map_err(|e: UblError| ApiError::Refused {
        code: "document-not-fiscal",
        kind: RefusalKind::NotFound,
        detail: e.to_string(),
        field: None,
    })?;
    Ok(versioned_file(version, "application/xml", xml.into_bytes(), &if_none_match))
}
