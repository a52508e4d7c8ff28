//! `/v1/nodes` (operators only): register a node, bootstrap, drain and decommission it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use berth_domain::allocation::Resources;
use berth_domain::evacuation::EvacuationMode;
use berth_domain::ids::{EvacuationId, NodeId};
use berth_domain::money::{Currency, Money};
use berth_domain::name::DisplayName;
use berth_domain::node::{HostKey, Node, NodeCommand, NodeSpec};
use berth_eventstore::vault::SshKeyPair;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Operator;
use berth_http::conditional::Precondition;

use crate::accepted::Located;
use crate::{Accepted, AppState, View};
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;

/// The node routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/nodes", post(register))
        .route("/v1/nodes/{id}/bootstrap", post(bootstrap))
        .route("/v1/nodes/{id}/drain", post(drain))
        .route("/v1/nodes/{id}/decommission", post(decommission))
        .route("/v1/nodes/{id}/evacuate", post(evacuate))
        .route("/v1/nodes/{id}/retire", post(retire))
}

/// `POST /v1/nodes/{id}/evacuate` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"mode": "from_backup"}))]
pub struct EvacuateNode {
    /// `from_backup` restores each site from its latest verified backup (for a node that is
    /// down); `live` takes a fresh backup of each site first (for a node that still answers).
    #[schema(value_type = berth_http::schema::EvacuationModeName)]
    pub mode: String,
}

/// `POST /v1/nodes/{id}/retire` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "the provider destroyed the VPS"}))]
pub struct RetireNode {
    /// Why the node is gone, for the log.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// What a node has.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    /// CPU cores.
    #[schema(minimum = 1)]
    pub vcpus: u32,
    /// Memory in MiB.
    #[schema(minimum = 1)]
    pub memory_mb: u64,
    /// Disk in GiB.
    #[schema(minimum = 1)]
    pub disk_gb: u64,
}

/// A monthly cost.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    /// Minor units (cents), never negative.
    #[schema(minimum = 0)]
    pub amount_minor: i64,
    /// An ISO 4217 code.
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
}

/// `POST /v1/nodes` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterNode {
    /// A name for people, unique.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Host name or IP address Berth reaches it on.
    #[schema(min_length = 1, max_length = 253)]
    pub address: String,
    /// SSH port.
    #[schema(minimum = 1, maximum = 65535, default = 22)]
    pub ssh_port: Option<u16>,
    /// SSH user.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,32}$", default = "root")]
    pub ssh_user: Option<String>,
    /// The node's SSH host key as an OpenSSH public key line (`ssh-ed25519 AAAA...`); pinned.
    pub host_key: String,
    /// What it has.
    pub capacity: Capacity,
    /// Who rents it out.
    #[schema(min_length = 1, max_length = 100)]
    pub provider: String,
    /// Where it is.
    #[schema(min_length = 1, max_length = 100)]
    pub region: String,
    /// What it costs a month.
    pub monthly_cost: Cost,
}

/// The answer to a node's registration.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodeRegistered {
    /// The node's id.
    pub id: Uuid,
    /// Its version.
    pub version: i64,
    /// The public key to add to the node's `authorized_keys`.
    pub ssh_public_key: String,
}

fn short_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ApiError::field(field, format!("must be 1 to {max} printable characters")));
    }
    Ok(value.to_owned())
}

fn parse_address(value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    let host_ok = value.len() <= 253
        && !value.is_empty()
        && value.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if value.parse::<std::net::IpAddr>().is_ok() || host_ok {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(ApiError::field("address", "must be an IP address or a host name"))
    }
}

impl RegisterNode {
    /// The node's description, with `key_id` naming its sealed private key.
    pub fn into_spec(self, key_id: Uuid) -> Result<NodeSpec, ApiError> {
        let name = DisplayName::parse(&self.name).map_err(|e| ApiError::field("name", e))?;
        let address = parse_address(&self.address)?;
        let ssh_port = self.ssh_port.unwrap_or(22);
        if ssh_port == 0 {
            return Err(ApiError::field("ssh_port", "must be 1 to 65535"));
        }
        let ssh_user = self.ssh_user.unwrap_or_else(|| "root".to_owned());
        if ssh_user.is_empty()
            || ssh_user.len() > 32
            || !ssh_user.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(ApiError::field("ssh_user", "must be a Unix user name"));
        }
        let host_key = HostKey::parse(&self.host_key).map_err(|e| ApiError::field("host_key", e))?;
        let Capacity { vcpus, memory_mb, disk_gb } = self.capacity;
        if vcpus == 0 || memory_mb == 0 || disk_gb == 0 {
            return Err(ApiError::field("capacity", "vcpus, memory_mb and disk_gb must be positive"));
        }
        let currency = Currency::parse(&self.monthly_cost.currency)
            .map_err(|e| ApiError::field("monthly_cost.currency", e))?;
        let monthly_cost = Money::new(self.monthly_cost.amount_minor, currency)
            .map_err(|e| ApiError::field("monthly_cost.amount_minor", e))?;
        Ok(NodeSpec {
            name,
            address,
            ssh_port,
            ssh_user,
            host_key,
            capacity: Resources { millicores: u64::from(vcpus) * 1000, memory_mb, disk_gb },
            provider: short_text("provider", &self.provider, 100)?,
            region: short_text("region", &self.region, 100)?,
            monthly_cost,
            key_id,
        })
    }
}

/// Register a node (operators only).
///
/// Berth makes an SSH key pair for it; authorize the answer's `ssh_public_key` on the node, then
/// bootstrap it.
#[utoipa::path(post, path = "/v1/nodes", operation_id = "register_node", tag = "nodes", request_body = RegisterNode,
    responses((status = 202, description = "Registered; authorize `ssh_public_key` on the node", body = NodeRegistered)),
    security(("bearer" = [])))]
async fn register(
    State(state): State<AppState>,
    operator: Operator,
    ApiJson(body): ApiJson<RegisterNode>,
) -> Result<Located<NodeRegistered>, ApiError> {
    let node_id = NodeId::from_uuid(operator.new_id());
    let key_id = Uuid::now_v7();
    let spec = body.into_spec(key_id)?;
    let keys = SshKeyPair::generate(&format!("berth-node-{}", spec.name.as_str()));
    // The name and address are claimed by the node's own `Registered` event, in this commit.
    let sealed = state.vault.seal(key_id, &format!("ssh-key:node:{node_id}"), keys.seed.as_slice());
    let command = NodeCommand::Register { node_id, spec: Box::new(spec) };
    let meta = operator.metadata();
    let outcome = state
        .store
        .execute_with::<Node>(&node_id.to_string(), command, &meta, state.retry, &[sealed])
        .await?;
    // A replayed registration (same Idempotency-Key) answers with the first key pair's public
    // half: the idempotency layer returns the first response, never this fresh one.
    let location = state.links.to(View::Node(node_id.as_uuid()), outcome.version);
    let registered =
        NodeRegistered { id: node_id.as_uuid(), version: outcome.version, ssh_public_key: keys.public_line };
    Ok(Located::new(StatusCode::ACCEPTED, location, registered))
}

async fn node_command(
    state: &AppState,
    operator: &Operator,
    id: &str,
    precondition: Precondition,
    command: NodeCommand,
) -> Result<Located<Accepted>, ApiError> {
    let node_id: NodeId = crate::routes::parse_id(id)?;
    let expected = precondition.expected(state.require_if_match)?;
    // A retired node's name and address are given back by its own `Decommissioned` event.
    let meta = operator.metadata();
    let outcome = state
        .store
        .execute_at::<Node>(&node_id.to_string(), command, &meta, state.retry, &[], expected)
        .await?;
    Ok(state.links.accepted(node_id.as_uuid(), outcome.version, View::Node(node_id.as_uuid())))
}

/// The path parameter of a node.
const NODE: &str = "The node's id";

/// Bootstrap a node: upload the node scripts and check what it runs.
#[utoipa::path(post, path = "/v1/nodes/{id}/bootstrap", operation_id = "bootstrap_node", tag = "nodes",
    params(("id" = uuid::Uuid, Path, description = NODE)),
    responses((status = 202, description = "Bootstrap requested", body = Accepted)), security(("bearer" = [])))]
async fn bootstrap(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    node_command(&state, &operator, &id, precondition, NodeCommand::RequestBootstrap).await
}

/// Drain a node: it keeps its sites and takes no new ones.
#[utoipa::path(post, path = "/v1/nodes/{id}/drain", operation_id = "drain_node", tag = "nodes",
    params(("id" = uuid::Uuid, Path, description = NODE)),
    responses((status = 202, description = "Draining: no new sites", body = Accepted)), security(("bearer" = [])))]
async fn drain(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    node_command(&state, &operator, &id, precondition, NodeCommand::Drain).await
}

/// Retire a node that holds no sites; its name and address are free again.
#[utoipa::path(post, path = "/v1/nodes/{id}/decommission", operation_id = "decommission_node", tag = "nodes",
    params(("id" = uuid::Uuid, Path, description = NODE)),
    responses((status = 202, description = "Retired", body = Accepted)), security(("bearer" = [])))]
async fn decommission(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    node_command(&state, &operator, &id, precondition, NodeCommand::Decommission).await
}

/// Move every site off a node.
///
/// The node is drained (it takes no new sites), then each of its sites is placed on another
/// ready node with room, restored there from its latest verified backup (`from_backup`) or
/// from a backup taken now (`live`), and switched over; its address record follows when Berth
/// serves its zone. Sites move a few at a time (`sagas.evacuation.concurrency`). A site that
/// cannot move stays where it was, with the reason. Follow it at the answer's `Location`.
#[utoipa::path(post, path = "/v1/nodes/{id}/evacuate", operation_id = "evacuate_node", tag = "nodes",
    request_body = EvacuateNode, params(("id" = uuid::Uuid, Path, description = NODE)),
    responses((status = 202, description = "Accepted: the evacuation (its id) is under way", body = Accepted)),
    security(("bearer" = [])))]
async fn evacuate(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<EvacuateNode>,
) -> Result<Located<Accepted>, ApiError> {
    let mode = crate::routes::billing::input::one_of(
        "mode",
        &body.mode,
        &EvacuationMode::ALL,
        EvacuationMode::as_str,
    )?;
    let evacuation_id = EvacuationId::from_uuid(operator.new_id());
    let node_id: NodeId = crate::routes::parse_id(&id)?;
    node_command(&state, &operator, &id, precondition, NodeCommand::Evacuate { evacuation_id, mode }).await?;
    let version = state.store.load::<Node>(&node_id.to_string()).await?.version;
    Ok(state.links.accepted(evacuation_id.as_uuid(), version, View::Evacuation(evacuation_id.as_uuid())))
}

/// Forget a node that is gone for good.
///
/// The sites it still holds become `lost` (their tenants are told, with the time of their
/// latest verified backup); their capacity and domains are released, and each can be restored
/// onto another node (`POST /v1/sites/{id}/recover`) or deleted, without the gone node. The
/// node's name and address are free again for its replacement.
#[utoipa::path(post, path = "/v1/nodes/{id}/retire", operation_id = "retire_node", tag = "nodes",
    request_body = RetireNode, params(("id" = uuid::Uuid, Path, description = NODE)),
    responses((status = 202, description = "Retired; its sites are being marked lost", body = Accepted)),
    security(("bearer" = [])))]
async fn retire(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<RetireNode>,
) -> Result<Located<Accepted>, ApiError> {
    let reason = short_text("reason", &body.reason, 500)?;
    node_command(&state, &operator, &id, precondition, NodeCommand::Retire { reason }).await
}
