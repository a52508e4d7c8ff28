//! How a refused command is classified, so every edge (HTTP, sagas, the CLI) can tell a broken
//! rule from a state conflict or a missing thing without reading the message.
//!
//! Each aggregate's error enum implements [`Refusal`]: a stable, kebab-case `code` per variant
//! (the problem type an API answers with) and its [`RefusalKind`]. The mapping from kind to an
//! HTTP status lives in one place on each API; the mapping from variant to code lives here,
//! next to the variants.

/// What kind of refusal a domain error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalKind {
    /// The command breaks a rule whatever the state (a grant above one's role, a static site
    /// with a PHP version): asking again will not help.
    Rule,
    /// The command does not fit the current state or the resource is busy; it may succeed
    /// once the state moves on.
    Conflict,
    /// The thing the command is about does not exist.
    NotFound,
    /// The command needs an active subscription or trial that the tenant does not have
    /// (creating a site without one). Paying, or starting a trial, is what helps; the APIs
    /// answer 402 Payment Required.
    PaymentRequired,
}

/// A domain error that says what kind of refusal it is.
pub trait Refusal: std::error::Error + Send + Sync + std::any::Any {
    /// A stable code for this refusal (`site-busy`, `node-full`), unique across the domain.
    fn code(&self) -> &'static str;
    /// Its kind.
    fn kind(&self) -> RefusalKind;
}

/// Any aggregate's refusal, with its type kept: [`Refused::downcast_ref`] gets it back.
#[derive(Debug)]
pub struct Refused {
    aggregate: &'static str,
    error: Box<dyn Refusal>,
}

impl Refused {
    /// Wraps the refusal of an aggregate of type `aggregate`.
    pub fn new(aggregate: &'static str, error: impl Refusal) -> Self {
        Self { aggregate, error: Box::new(error) }
    }

    /// The aggregate type that refused.
    pub fn aggregate(&self) -> &'static str {
        self.aggregate
    }

    /// The refusal's code.
    pub fn code(&self) -> &'static str {
        self.error.code()
    }

    /// The refusal's kind.
    pub fn kind(&self) -> RefusalKind {
        self.error.kind()
    }

    /// The typed error, if it is an `E`.
    pub fn downcast_ref<E: Refusal>(&self) -> Option<&E> {
        let any: &dyn std::any::Any = &*self.error;
        any.downcast_ref::<E>()
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Refused {}
