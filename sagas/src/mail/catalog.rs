//! The mails Berth sends: each template's name, its built-in subject and text, and a sample
//! of the context it is rendered with. The sample is what an operator's override is checked
//! against at start (a variable it names that the sample lacks is an error), so each sample
//! holds every variable its sender passes, with a value of the same shape.

use serde_json::{json, Value};

/// An invoice, credit note or proforma was issued; its PDF is attached.
pub const INVOICE_ISSUED: &str = "invoice_issued";
/// A payment was received.
pub const PAYMENT_RECEIPT: &str = "payment_receipt";
/// A payment failed (with the next attempt, if there is one).
pub const PAYMENT_FAILED: &str = "payment_failed";
/// The tenant's account was suspended.
pub const SUSPENSION_NOTICE: &str = "suspension_notice";
/// The tenant's account was reinstated.
pub const REINSTATEMENT: &str = "reinstatement";
/// A site's certificate is close to expiry.
pub const CERTIFICATE_EXPIRING: &str = "certificate_expiring";
/// A site's backup failed.
pub const BACKUP_FAILED: &str = "backup_failed";
/// A site's deployment failed.
pub const DEPLOYMENT_FAILED: &str = "deployment_failed";

/// The monthly cost and capacity report, to operators; its PDF and CSV files are attached.
pub const COST_REPORT: &str = "cost_report";

/// A site was moved to another node.
pub const SITE_EVACUATED: &str = "site_evacuated";
/// A site's node is gone for good.
pub const SITE_LOST: &str = "site_lost";
/// A lost site was restored onto another node.
pub const SITE_RESTORED: &str = "site_restored";

/// One built-in template.
pub struct Builtin {
    /// Its name.
    pub name: &'static str,
    /// The subject's template (one line).
    pub subject: &'static str,
    /// The plain-text body's template.
    pub text: &'static str,
    /// A context with every variable its sender passes.
    pub sample: fn() -> Value,
}

macro_rules! builtin {
    ($name:expr, $file:literal, $sample:expr) => {
        Builtin {
            name: $name,
            subject: include_str!(concat!("../../templates/mail/", $file, ".subject")),
            text: include_str!(concat!("../../templates/mail/", $file, ".txt")),
            sample: $sample,
        }
    };
}

/// Every template, built in.
pub const BUILTIN: &[Builtin] = &[
    builtin!(INVOICE_ISSUED, "invoice_issued", || json!({
        "kind": "Invoice",
        "number": "BRT-000042",
        "issue_date": "2026-12-01",
        "due_date": "2026-12-15",
        "total": "119.00 EUR",
        "buyer_name": "Acme SRL",
        "seller_name": "Berth Hosting SRL",
    })),
    builtin!(PAYMENT_RECEIPT, "payment_receipt", || json!({
        "invoice_number": "BRT-000042",
        "amount": "119.00 EUR",
        "paid_on": "2026-12-03",
    })),
    builtin!(PAYMENT_FAILED, "payment_failed", || json!({
        "invoice_number": "BRT-000042",
        "amount": "119.00 EUR",
        "reason": "the card was declined",
        "next_retry": "2026-12-06",
    })),
    builtin!(SUSPENSION_NOTICE, "suspension_notice", || json!({
        "tenant_name": "Acme",
        "suspended_on": "2026-12-20",
        "reason": "invoice BRT-000042 is unpaid",
        "amount_due": "119.00 EUR",
    })),
    builtin!(REINSTATEMENT, "reinstatement", || json!({
        "tenant_name": "Acme",
        "reinstated_on": "2026-12-21",
    })),
    builtin!(CERTIFICATE_EXPIRING, "certificate_expiring", || json!({
        "domain": "blog.acme.example",
        "days_left": 14,
        "not_after": "2027-01-15",
        "reason": "the CA could not be reached",
    })),
    builtin!(BACKUP_FAILED, "backup_failed", || json!({
        "site": "blog.acme.example",
        "trigger": "scheduled",
        "failed_at": "2026-12-01 03:20 UTC",
        "attempts": 3,
        "reason": "the node ran out of disk space",
        "next_attempt": "2026-12-02 03:00 UTC",
    })),
    builtin!(COST_REPORT, "cost_report", || json!({
        "month": "2027-01",
        "total_cost": "1234.56 EUR",
        "revenue": "4321.00 EUR",
        "margin": "3086.44 EUR",
        "tenants": 42,
        "recommendations": "Recommended: add one node of 4 vCPU / 8 GB in fsn1 before 2027-02-14.",
    })),
    builtin!(DEPLOYMENT_FAILED, "deployment_failed", || json!({
        "site": "shop.acme.example",
        "trigger": "push",
        "commit": "3f2c1a9",
        "failed_at": "2026-12-01 03:20 UTC",
        "step": "build",
        "exit_code": 2,
        "reason": "command 1 exited 2",
        "log_tail": "$ npm run build\nerror: missing script",
    })),
    builtin!(SITE_EVACUATED, "site_evacuated", || json!({
        "site": "blog.acme.example",
        "moved_at": "2026-12-01 03:00 UTC",
        "backup_at": "2026-12-01 02:00 UTC",
    })),
    builtin!(SITE_LOST, "site_lost", || json!({
        "site": "blog.acme.example",
        "lost_at": "2026-12-01 03:00 UTC",
        "backup_at": "2026-12-01 02:00 UTC",
    })),
    builtin!(SITE_RESTORED, "site_restored", || json!({
        "site": "blog.acme.example",
        "moved_at": "2026-12-01 03:00 UTC",
        "backup_at": "2026-12-01 02:00 UTC",
    })),
];

/// The built-in template `name`.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTIN.iter().find(|b| b.name == name)
}
