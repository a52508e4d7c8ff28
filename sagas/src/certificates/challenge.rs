//! Answering an order's challenges, and clearing the answers afterwards: HTTP-01 as files on
//! the site's node, DNS-01 as TXT records in the tenant's zone (through the zone aggregate, so
//! the zones saga publishes them and the drift check counts them as Berth's own).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use berth_domain::certificate::{ChallengeMethod, FailureCode};
use berth_domain::domain_name::DomainName;
use berth_domain::ids::{NodeId, TenantId, ZoneId};
use berth_domain::site::Placement;
use berth_domain::zone::{RecordName, RecordSet, RecordType, RecordValue, Ttl, Zone, ZoneCommand};
use berth_eventstore::recorded::Recorded;
use berth_projections::zones;
use tokio_util::sync::CancellationToken;

use super::issue::Attempt;
use super::{Certificates, SAGA};
use crate::acme::Order;
use crate::node::saga_metadata;
use crate::node::tls::{ChallengePut, ChallengeRemove, ChallengeToken, KeyAuthorization};
use crate::outcome::Step;
use crate::saga::Outcome;

/// What was put up for an order, to take down once it is done.
pub(super) enum Presented {
    /// Files on a node.
    Files(NodeId, Vec<ChallengeToken>),
    /// TXT record sets, each in its zone.
    Records(Vec<(ZoneId, RecordSet)>),
}

impl Certificates {
    /// The zone Berth serves for `tenant` that holds `name`, with its name.
    pub(super) async fn zone_of(&self, name: &str, tenant: TenantId) -> Step<Option<(ZoneId, DomainName)>> {
        let Some((zone_id, owner)) =
            zones::containing(&self.work.pool, name).await.map_err(Outcome::later)?
        else {
            return Ok(None);
        };
        let zone =
            self.work.store.load::<Zone>(&zone_id.to_string()).await.map_err(Outcome::later)?.aggregate;
        Ok(zone.name().filter(|_| owner == tenant).map(|zone_name| (zone_id, zone_name.clone())))
    }

    pub(super) async fn present(
        &self,
        event: &Recorded,
        attempt: u32,
        order: &Order,
        method: ChallengeMethod,
        placement: &Placement,
        tenant: TenantId,
    ) -> Result<Presented, Attempt> {
        let refused =
            |e: crate::node::tls::ChallengeError| Attempt::Failed(FailureCode::OrderRefused, e.to_string());
        match method {
            ChallengeMethod::Http01 => {
                let meta = saga_metadata(event, SAGA, "host-key");
                let mut tokens = Vec::new();
                for challenge in &order.challenges {
                    let token = ChallengeToken::parse(&challenge.token).map_err(refused)?;
                    let content =
                        KeyAuthorization::parse(&token, &challenge.key_authorization).map_err(refused)?;
                    self.work
                        .call(placement.node_id, ChallengePut { token: token.clone(), content }, &meta)
                        .await
                        .map_err(|e| Attempt::Failed(FailureCode::NodeFailed, e.to_string()))?;
                    tokens.push(token);
                }
                Ok(Presented::Files(placement.node_id, tokens))
            }
            ChallengeMethod::Dns01 => {
                // A name and its wildcard share one record name: both values go in one set.
                let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for challenge in &order.challenges {
                    values.entry(challenge.base.clone()).or_default().push(challenge.dns_value.clone());
                }
                let mut sets = Vec::new();
                for (base, values) in values {
                    let Some((zone_id, zone_name)) =
                        self.zone_of(&base, tenant).await.map_err(Attempt::Later)?
                    else {
                        return Err(Attempt::Failed(
                            FailureCode::NotPointed,
                            format!("{base} is in no zone Berth serves"),
                        ));
                    };
                    let set = challenge_set(&base, &zone_name, &values)
                        .map_err(|e| Attempt::Failed(FailureCode::Unknown, e.to_string()))?;
                    let meta = saga_metadata(event, SAGA, &format!("dns-01:{attempt}:{base}"));
                    let command = ZoneCommand::SetRecordSet { set: set.clone() };
                    let id = zone_id.to_string();
                    if let Err(error) =
                        self.work.store.execute::<Zone>(&id, command, &meta, self.work.retry).await
                    {
                        return Err(match error {
                            berth_eventstore::execute::ExecuteError::Rejected(r) => {
                                Attempt::Failed(FailureCode::Unknown, r.to_string())
                            }
                            other => Attempt::Later(Outcome::later(other)),
                        });
                    }
                    sets.push((zone_id, set));
                }
                for (zone_id, _) in &sets {
                    self.published(*zone_id).await?;
                }
                Ok(Presented::Records(sets))
            }
        }
    }

    /// Waits until the DNS server holds the zone as it is now (the challenge records in it).
    async fn published(&self, zone_id: ZoneId) -> Result<(), Attempt> {
        let deadline = Instant::now() + Duration::from_secs(self.settings.challenge_timeout_secs.max(1));
        let id = zone_id.to_string();
        let zone =
            self.work.store.load::<Zone>(&id).await.map_err(|e| Attempt::Later(Outcome::later(e)))?.aggregate;
        let wanted = zone.revision();
        let mut feed = self.feed.clone();
        loop {
            let zone = self
                .work
                .store
                .load::<Zone>(&id)
                .await
                .map_err(|e| Attempt::Later(Outcome::later(e)))?
                .aggregate;
            if zone.published() >= wanted {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Attempt::Failed(
                    FailureCode::ChallengeFailed,
                    "the DNS server did not take the challenge record in time".into(),
                ));
            }
            // The zones saga records the publication as an event: wake when the log moves.
            let _ = tokio::time::timeout_at(deadline.into(), feed.wait(&CancellationToken::new())).await;
        }
    }

    /// Takes the answers down; what fails here only leaves a harmless answer behind.
    pub(super) async fn clear(&self, event: &Recorded, attempt: u32, presented: Presented) {
        match presented {
            Presented::Files(node_id, tokens) => {
                let meta = saga_metadata(event, SAGA, "host-key");
                for token in tokens {
                    if let Err(error) = self.work.call(node_id, ChallengeRemove { token }, &meta).await {
                        tracing::warn!(%error, "could not remove an HTTP-01 answer");
                    }
                }
            }
            Presented::Records(sets) => {
                for (zone_id, set) in sets {
                    let meta = saga_metadata(event, SAGA, &format!("dns-01-clear:{attempt}:{}", set.name()));
                    let command = ZoneCommand::RemoveRecordSet {
                        name: set.name().clone(),
                        rtype: set.rtype(),
                        only_if: Some(set.values().to_vec()),
                    };
                    if let Err(error) = self
                        .work
                        .store
                        .execute::<Zone>(&zone_id.to_string(), command, &meta, self.work.retry)
                        .await
                    {
                        tracing::warn!(%error, "could not remove a DNS-01 record");
                    }
                }
            }
        }
    }
}

/// The `_acme-challenge` TXT set of `base` in `zone`.
fn challenge_set(
    base: &str,
    zone: &DomainName,
    values: &[String],
) -> Result<RecordSet, berth_domain::zone::RecordError> {
    let name = RecordName::parse(&format!("_acme-challenge.{base}."), zone)?;
    let values =
        values.iter().map(|v| RecordValue::parse(RecordType::Txt, v)).collect::<Result<Vec<_>, _>>()?;
    RecordSet::new(name, RecordType::Txt, Ttl::new(Ttl::MIN)?, values)
}
