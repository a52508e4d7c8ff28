//! Usage commands, the idempotency key of a reading, and the rules that decide them.

use serde::{Deserialize, Serialize};

use super::{Usage, UsageError, UsageEvent};
use crate::billing::{Quantity, ServicePeriod};
use crate::ids::{SubscriptionId, TenantId};
use crate::plan::Metric;

/// The largest total one metric may reach in one period, in thousandths (a billion units).
const MAX_TOTAL_THOUSANDTHS: i64 = Quantity::MAX_UNITS * 1000;

/// A meter's idempotency key for one reading: 1 to 200 characters of A-Z, a-z, 0-9 and `:._-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UsageKey(String);

impl UsageKey {
    /// Checks a key.
    pub fn parse(input: &str) -> Result<Self, UsageError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || ":._-".contains(c);
        if input.is_empty() || input.len() > 200 || !input.chars().all(allowed) {
            return Err(UsageError::Key(input.to_owned()));
        }
        Ok(Self(input.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UsageKey {
    type Error = UsageError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<UsageKey> for String {
    fn from(value: UsageKey) -> Self {
        value.0
    }
}

/// What can be asked of a subscription's usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum UsageCommand {
    /// Record one reading of `metric` in the billing `period`. Run it with the command id
    /// [`super::usage_command_id`] of `key`.
    Record {
        tenant_id: TenantId,
        subscription_id: SubscriptionId,
        metric: Metric,
        quantity: Quantity,
        period: ServicePeriod,
        key: UsageKey,
    },
}

/// Decides the events for `command`.
pub(super) fn decide(usage: &Usage, command: UsageCommand) -> Result<Vec<UsageEvent>, UsageError> {
    match command {
        UsageCommand::Record { tenant_id, subscription_id, metric, quantity, period, key } => {
            if usage.subscription_id.is_some_and(|s| s != subscription_id)
                || usage.tenant_id.is_some_and(|t| t != tenant_id)
            {
                return Err(UsageError::OtherSubscription);
            }
            if let Some(known) = usage.totals.iter().find(|t| t.period.start() == period.start()) {
                if known.period != period {
                    return Err(UsageError::PeriodMismatch { known: known.period, given: period });
                }
            }
            if usage.with(period, metric, quantity.thousandths()) > MAX_TOTAL_THOUSANDTHS {
                return Err(UsageError::TotalTooLarge);
            }
            Ok(vec![UsageEvent::Recorded { tenant_id, subscription_id, metric, quantity, period, key }])
        }
    }
}
