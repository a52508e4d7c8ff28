//! `/v1/zones`: create and delete DNS zones, and set or remove their record sets.

use axum::extract::State;
use axum::routing::{delete, post};
use axum::Router;
use berth_domain::domain_name::DomainName;
use berth_domain::ids::ZoneId;
use berth_domain::role::Permission;
use berth_domain::zone::{parse_record_set, RecordName, RecordType, Zone, ZoneCommand};
use serde::Deserialize;

use berth_http::conditional::Precondition;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;

use crate::accepted::Located;
use crate::auth::Caller;
use crate::{Accepted, AppState, View};

/// The zone routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/zones", post(create))
        .route("/v1/zones/{id}", delete(remove))
        .route("/v1/zones/{id}/records", post(set_records))
        .route("/v1/zones/{id}/records/{name}/{type}", delete(remove_records))
}

/// `POST /v1/zones` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "acme.test"}))]
pub struct CreateZone {
    /// The zone's name, its apex (internationalized names are taken and kept as punycode).
    #[schema(min_length = 1, max_length = 253)]
    pub name: String,
}

/// `POST /v1/zones/{id}/records` body: one record set, created or replaced whole.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "www", "type": "A", "ttl": 300, "records": ["192.0.2.10"]}))]
pub struct SetRecords {
    /// The owner name: `@` for the apex, a name relative to the zone (`www`, `_dmarc`,
    /// `*.dev`), or an absolute one ending in a dot, which must lie inside the zone.
    #[schema(min_length = 1, max_length = 254)]
    pub name: String,
    /// The type.
    #[serde(rename = "type")]
    #[schema(value_type = berth_http::schema::RecordTypeName)]
    pub rtype: String,
    /// Seconds resolvers may keep the answer.
    #[schema(minimum = 60, maximum = 86400)]
    pub ttl: u32,
    /// The values, in zone-file form: `192.0.2.10`, `10 mail.example.com.`, `v=spf1 -all`,
    /// `10 5 5060 sip.example.com.`, `0 issue "letsencrypt.org"`.
    #[schema(min_items = 1, max_items = 100)]
    pub records: Vec<String>,
}

const ZONE: &str = "The zone's id";

/// Create a DNS zone.
///
/// Berth serves it from its DNS servers once the zones saga has put it there; delegate the
/// domain to them at its registrar.
#[utoipa::path(post, path = "/v1/zones", operation_id = "create_zone", tag = "dns", request_body = CreateZone,
    responses((status = 202, description = "Accepted: the zone is created", body = Accepted)), security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateZone>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let name = DomainName::parse(&body.name).map_err(|e| ApiError::field("name", e))?;
    let zone_id = ZoneId::from_uuid(caller.new_id());
    // The name is claimed by the zone's own `Created` event, in the same commit.
    let command = ZoneCommand::Create { zone_id, tenant_id: caller.tenant_id, name };
    let outcome =
        state.store.execute::<Zone>(&zone_id.to_string(), command, &caller.metadata(), state.retry).await?;
    Ok(state.links.accepted(zone_id.as_uuid(), outcome.version, View::Zone(zone_id.as_uuid())))
}

/// Delete a zone: the DNS servers stop serving it, and its name is free again.
#[utoipa::path(delete, path = "/v1/zones/{id}", operation_id = "delete_zone", tag = "dns",
    params(("id" = uuid::Uuid, Path, description = ZONE)),
    responses((status = 202, description = "Accepted; the DNS servers drop it", body = Accepted)), security(("bearer" = [])))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    let (zone_id, _) = owned_zone(&state, &caller, &id).await?;
    zone_command(&state, &caller, zone_id, precondition, ZoneCommand::Delete).await
}

/// Create or replace a record set.
///
/// Every value is checked for its type; the name must lie inside the zone, and a CNAME must be
/// its name's only record.
#[utoipa::path(post, path = "/v1/zones/{id}/records", operation_id = "set_zone_records", tag = "dns", request_body = SetRecords,
    params(("id" = uuid::Uuid, Path, description = ZONE)),
    responses((status = 202, description = "Accepted; the DNS servers follow", body = Accepted)), security(("bearer" = [])))]
async fn set_records(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<SetRecords>,
) -> Result<Located<Accepted>, ApiError> {
    let (zone_id, name) = owned_zone(&state, &caller, &id).await?;
    let set = parse_record_set(&name, &body.name, &body.rtype, body.ttl, &body.records)
        .map_err(|(field, error)| ApiError::field(&field, error))?;
    zone_command(&state, &caller, zone_id, precondition, ZoneCommand::SetRecordSet { set }).await
}

/// Remove a record set (`@` names the apex).
#[utoipa::path(delete, path = "/v1/zones/{id}/records/{name}/{type}", operation_id = "delete_zone_records", tag = "dns",
    params(("id" = uuid::Uuid, Path, description = ZONE), ("name" = String, Path, description = "The owner name, as in a record set"),
        ("type" = berth_http::schema::RecordTypeName, Path, description = "The type")),
    responses((status = 202, description = "Accepted; the DNS servers follow", body = Accepted)), security(("bearer" = [])))]
async fn remove_records(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, name, rtype)): ApiPath<(String, String, String)>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    let (zone_id, zone_name) = owned_zone(&state, &caller, &id).await?;
    let name = RecordName::parse(&name, &zone_name).map_err(|e| ApiError::field("name", e))?;
    let rtype = RecordType::parse(&rtype).map_err(|e| ApiError::field("type", e))?;
    let command = ZoneCommand::RemoveRecordSet { name, rtype, only_if: None };
    zone_command(&state, &caller, zone_id, precondition, command).await
}

/// The zone and its name, if it exists and belongs to the caller's tenant; 404 otherwise
/// (another tenant's zone is as unknown as a missing one).
async fn owned_zone(state: &AppState, caller: &Caller, id: &str) -> Result<(ZoneId, DomainName), ApiError> {
    caller.require(Permission::ManageSites)?;
    let zone_id: ZoneId = crate::routes::parse_id(id)?;
    let loaded = state.store.load::<Zone>(&zone_id.to_string()).await?;
    match (loaded.aggregate.tenant_id(), loaded.aggregate.name()) {
        (Some(tenant), Some(name)) if tenant == caller.tenant_id => Ok((zone_id, name.clone())),
        _ => Err(ApiError::NotFound),
    }
}

async fn zone_command(
    state: &AppState,
    caller: &Caller,
    zone_id: ZoneId,
    precondition: Precondition,
    command: ZoneCommand,
) -> Result<Located<Accepted>, ApiError> {
    let expected = precondition.expected(state.require_if_match)?;
    let meta = caller.metadata().within_tenant();
    let outcome = state
        .store
        .execute_at::<Zone>(&zone_id.to_string(), command, &meta, state.retry, &[], expected)
        .await?;
    Ok(state.links.accepted(zone_id.as_uuid(), outcome.version, View::Zone(zone_id.as_uuid())))
}
