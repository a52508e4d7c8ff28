//! A tenant's payment account: its customer at the payment provider and its saved cards.
//! The card itself is collected by the tenant's frontend (Stripe.js) and never passes through
//! Berth; what is kept is the provider's PaymentMethod id and what identifies the card to its
//! owner (brand, last four digits, expiry).

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::error::{Refusal, RefusalKind};
use crate::ids::TenantId;

/// The most cards a tenant keeps.
pub const MAX_CARDS: usize = 10;

/// A card on file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedCard {
    /// The provider's PaymentMethod id (`pm_...`).
    pub payment_method: String,
    /// `visa`, `mastercard`, ...
    pub brand: String,
    /// The last four digits.
    pub last4: String,
    /// Expiry month.
    pub exp_month: u8,
    /// Expiry year.
    pub exp_year: u16,
}

/// What can be asked of a payment account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum PaymentAccountCommand {
    /// Record the tenant's customer at the provider (once; the same again is nothing).
    LinkCustomer { tenant_id: TenantId, customer: String },
    /// Save a card attached to that customer; it becomes the default.
    SaveCard { card: SavedCard },
    /// Forget a card (detached at the provider first). The newest other card becomes the default.
    RemoveCard { payment_method: String },
}

/// Something that happened to a payment account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentAccountEvent {
    /// The tenant's customer at the provider.
    CustomerLinked {
        /// The tenant.
        tenant_id: TenantId,
        /// `cus_...`.
        customer: String,
    },
    /// A card was saved and made the default.
    CardSaved {
        /// The card.
        card: SavedCard,
    },
    /// A card was removed.
    CardRemoved {
        /// Its PaymentMethod id.
        payment_method: String,
    },
}

impl DomainEvent for PaymentAccountEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CustomerLinked { .. } => "PaymentCustomerLinked",
            Self::CardSaved { .. } => "PaymentCardSaved",
            Self::CardRemoved { .. } => "PaymentCardRemoved",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::event::Versioned for PaymentAccountEvent {}

/// Why a payment account command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentAccountError {
    /// A card before the customer.
    #[error("the tenant has no customer at the payment provider yet")]
    NoCustomer,
    /// Another customer than the one linked.
    #[error("the tenant is linked to another customer")]
    OtherCustomer,
    /// No such card.
    #[error("the tenant has no card {0}")]
    NoSuchCard(String),
    /// Over the limit.
    #[error("a tenant keeps at most {0} cards")]
    TooManyCards(usize),
}

impl Refusal for PaymentAccountError {
    fn code(&self) -> &'static str {
        match self {
            Self::NoCustomer => "payment-customer-missing",
            Self::OtherCustomer => "payment-customer-mismatch",
            Self::NoSuchCard(_) => "payment-method-not-found",
            Self::TooManyCards(_) => "too-many-cards",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NoSuchCard(_) => RefusalKind::NotFound,
            Self::NoCustomer | Self::OtherCustomer => RefusalKind::Conflict,
            Self::TooManyCards(_) => RefusalKind::Rule,
        }
    }
}

/// A tenant's payment account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentAccount {
    tenant_id: Option<TenantId>,
    customer: Option<String>,
    /// Oldest first; the last is the default.
    cards: Vec<SavedCard>,
}

impl PaymentAccount {
    /// The provider's customer.
    pub fn customer(&self) -> Option<&str> {
        self.customer.as_deref()
    }

    /// The card charged by default.
    pub fn default_card(&self) -> Option<&SavedCard> {
        self.cards.last()
    }

    /// Every card, oldest first.
    pub fn cards(&self) -> &[SavedCard] {
        &self.cards
    }
}

impl crate::aggregate::Consequences for PaymentAccount {
    fn owner(&self) -> Option<uuid::Uuid> {
        self.tenant_id.map(|t| t.as_uuid())
    }
}

impl Aggregate for PaymentAccount {
    const TYPE: &'static str = "payment_account";
    type Command = PaymentAccountCommand;
    type Event = PaymentAccountEvent;
    type Error = PaymentAccountError;
    type Services = ();

    async fn handle(
        &mut self,
        command: PaymentAccountCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), PaymentAccountError> {
        use PaymentAccountCommand as C;
        use PaymentAccountEvent as E;
        let events = match command {
            C::LinkCustomer { tenant_id, customer } => match &self.customer {
                Some(linked) if *linked == customer => Vec::new(),
                Some(_) => return Err(PaymentAccountError::OtherCustomer),
                None => vec![E::CustomerLinked { tenant_id, customer }],
            },
            C::SaveCard { card } => {
                if self.customer.is_none() {
                    return Err(PaymentAccountError::NoCustomer);
                }
                if self.default_card() == Some(&card) {
                    Vec::new()
                } else if self.cards.len() >= MAX_CARDS
                    && !self.cards.iter().any(|c| c.payment_method == card.payment_method)
                {
                    return Err(PaymentAccountError::TooManyCards(MAX_CARDS));
                } else {
                    vec![E::CardSaved { card }]
                }
            }
            C::RemoveCard { payment_method } => {
                if !self.cards.iter().any(|c| c.payment_method == payment_method) {
                    return Err(PaymentAccountError::NoSuchCard(payment_method));
                }
                vec![E::CardRemoved { payment_method }]
            }
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: PaymentAccountEvent) {
        match event {
            PaymentAccountEvent::CustomerLinked { tenant_id, customer } => {
                self.tenant_id = Some(tenant_id);
                self.customer = Some(customer);
            }
            PaymentAccountEvent::CardSaved { card } => {
                self.cards.retain(|c| c.payment_method != card.payment_method);
                self.cards.push(card);
            }
            PaymentAccountEvent::CardRemoved { payment_method } => {
                self.cards.retain(|c| c.payment_method != payment_method);
            }
        }
    }
}
