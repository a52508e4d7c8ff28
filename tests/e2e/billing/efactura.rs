//! Every kind of fiscal document Berth issues, issued through the store and rendered with
//! `berth_documents::render_ubl`, passes the official e-Factura checks (UBL 2.1 schema,
//! EN 16931 and CIUS-RO). The kit is `BERTH_EFACTURA_KIT`, by default `<repo>/../shared/efactura`;
//! a missing kit fails the test, naming where it was looked for.

use std::path::PathBuf;
use std::process::Command;

use berth_documents::{render_ubl, PdfRenderer, UblError};
use berth_domain::billing::{
    Coupon, CouponValue, DocumentKind, IssuedDocument, Percent, Quantity, RateCategory, UnitCode, VatId,
};
use berth_domain::billing_profile::{BillingProfile, BillingProfileCommand};
use berth_domain::ids::{InvoiceId, TenantId};
use berth_domain::invoice::{DraftLine, Invoice, InvoiceCommand};
use time::macros::datetime;
use uuid::Uuid;

use super::{
    by, currency, french_person, german_company, line, money, romanian_company, romanian_person, run,
    us_company, World,
};

fn kit() -> PathBuf {
    let kit = match std::env::var_os("BERTH_EFACTURA_KIT") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/efactura"),
    };
    let script = kit.join("validate");
    assert!(
        script.is_file(),
        "the e-Factura validation kit is missing: no {} (set BERTH_EFACTURA_KIT to the folder that holds `validate`)",
        script.display()
    );
    script
}

async fn issued(world: &World, tenant: TenantId, id: InvoiceId) -> IssuedDocument {
    world.issue(tenant, id).await.unwrap();
    world.invoice(id).await.document().unwrap().clone()
}

fn reduced(description: &str, price: i64, thousandths: i64) -> DraftLine {
    DraftLine::new(
        description,
        Quantity::from_thousandths(thousandths).unwrap(),
        UnitCode::Each,
        money(price, "RON"),
        RateCategory::Reduced,
        None,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fiscal_document_berth_issues_passes_the_e_factura_checks() {
    let script = kit();
    let world = World::new().await;
    let mut documents: Vec<(&str, IssuedDocument)> = Vec::new();
    let invoice = DocumentKind::Invoice;

    let company = world.tenant(romanian_company(), "RON").await;
    let lines = vec![
        line("Găzduire web Business", money(14_999, "RON"), 1000),
        line("Backup zilnic", money(2_550, "RON"), 2000),
    ];
    let b2b = world.draft(company, invoice, "RON", lines, None, None).await;
    documents.push(("ro-b2b", issued(&world, company, b2b).await));

    let person = world.tenant(romanian_person(), "RON").await;
    let b2c = world
        .draft(
            person,
            invoice,
            "RON",
            vec![line("Găzduire web Starter", money(14_500, "RON"), 1000)],
            None,
            None,
        )
        .await;
    documents.push(("ro-b2c", issued(&world, person, b2c).await));

    let german = world.tenant(german_company(), "EUR").await;
    let verified = BillingProfileCommand::RecordVatCheck {
        vat_id: VatId::parse("DE123456789").unwrap(),
        valid: true,
        checked_at: datetime!(2025-09-01 08:00 UTC),
    };
    run::<BillingProfile>(&world.store, &german.to_string(), verified, &by(german)).await;
    let reverse = world
        .draft(german, invoice, "EUR", vec![line("Managed hosting", money(25_000, "EUR"), 1000)], None, None)
        .await;
    documents.push(("eu-reverse-charge", issued(&world, german, reverse).await));

    let french = world.tenant(french_person(), "EUR").await;
    let oss = world
        .draft(french, invoice, "EUR", vec![line("Hébergement web", money(999, "EUR"), 1000)], None, None)
        .await;
    documents.push(("eu-consumer-oss", issued(&world, french, oss).await));

    let american = world.tenant(us_company(), "USD").await;
    let outside = world
        .draft(
            american,
            invoice,
            "USD",
            vec![line("Managed hosting", money(12_000, "USD"), 1000)],
            None,
            None,
        )
        .await;
    documents.push(("outside-eu", issued(&world, american, outside).await));

    // Two rates on one invoice, and a 10% coupon spread over both before tax.
    let lines =
        vec![line("Găzduire web", money(1_002, "RON"), 3000), reduced("Ghid tipărit de găzduire", 405, 2000)];
    let multi = world.draft(company, invoice, "RON", lines, None, None).await;
    let coupon =
        Coupon::new("Cupon BUNVENIT10", CouponValue::Percent(Percent::parse("10").unwrap())).unwrap();
    run::<Invoice>(
        &world.store,
        &multi.to_string(),
        InvoiceCommand::SetCoupon { coupon: Some(coupon) },
        &by(company),
    )
    .await;
    let multi = issued(&world, company, multi).await;
    assert_eq!(multi.vat_breakdown().len(), 2);
    documents.push(("multi-rate-coupon", multi));

    let credit = world
        .draft(
            company,
            DocumentKind::CreditNote,
            "RON",
            vec![line("Credit zile nefolosite", money(5_500, "RON"), 1000)],
            None,
            Some(b2b),
        )
        .await;
    documents.push(("credit-note", issued(&world, company, credit).await));

    // A proforma is no fiscal document: it has no e-Factura form, but its PDF renders; the
    // invoice issued from it once paid does.
    let proforma_id = world
        .draft(
            company,
            DocumentKind::Proforma,
            "RON",
            vec![line("Plan Pro, octombrie", money(39_500, "RON"), 1000)],
            None,
            None,
        )
        .await;
    let proforma = issued(&world, company, proforma_id).await;
    assert_eq!(render_ubl(&proforma), Err(UblError::NotFiscal));
    let pdf = PdfRenderer::with_dejavu().unwrap().render(&proforma).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    run::<Invoice>(
        &world.store,
        &proforma_id.to_string(),
        InvoiceCommand::RecordPayment { paid_on: super::TODAY },
        &by(company),
    )
    .await;
    let from_proforma = InvoiceId::from_uuid(Uuid::now_v7());
    let create = InvoiceCommand::CreateDraft {
        invoice_id: from_proforma,
        tenant_id: company,
        kind: invoice,
        currency: currency("RON"),
        lines: vec![line("Plan Pro, octombrie", money(39_500, "RON"), 1000)],
        coupon: None,
        billing: None,
        corrects: None,
        from_proforma: Some(proforma_id),
    };
    run::<Invoice>(&world.store, &from_proforma.to_string(), create, &by(company)).await;
    documents.push(("from-proforma", issued(&world, company, from_proforma).await));

    let dir = std::env::temp_dir().join(format!("berth-efactura-{}", world.env.db_name));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (name, document) in &documents {
        let xml = render_ubl(document).unwrap_or_else(|e| panic!("{name} does not render: {e}"));
        let file = dir.join(format!("{name}.xml"));
        std::fs::write(&file, xml).unwrap();
        files.push(file);
    }
    let output = Command::new(&script)
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "e-Factura validation failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(&format!("{} passed, 0 failed", documents.len())), "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
    world.env.cleanup().await;
}
