use cqrs_es::test::TestFramework;

use super::*;
use crate::billing::tests::{person, seller};
use crate::billing::{CountryCode, Iban, PostalAddress};

fn iban() -> Iban {
    Iban::parse("RO49AAAA1B31007593840000").unwrap()
}

fn set(party: Party) -> SellerCommand {
    SellerCommand::SetDetails {
        party: Box::new(party),
        iban: iban(),
        bank_name: Some("Banca Transilvania".into()),
    }
}

fn changed() -> SellerEvent {
    SellerEvent::DetailsChanged {
        party: Box::new(seller()),
        payment: PaymentMeans::bank_transfer(iban(), Some("Banca Transilvania")).unwrap(),
    }
}

#[test]
fn details_are_set_once_and_repeats_add_nothing() {
    TestFramework::<Seller>::with(())
        .given_no_previous_events()
        .when(set(seller()))
        .then_expect_events(vec![changed()]);
    TestFramework::<Seller>::with(()).given(vec![changed()]).when(set(seller())).then_expect_events(vec![]);
}

#[test]
fn the_seller_is_a_romanian_company_with_a_vat_id() {
    TestFramework::<Seller>::with(())
        .given_no_previous_events()
        .when(set(person("RO")))
        .then_expect_error(SellerError::NotACompany);
    let address =
        PostalAddress::new(&["Str. X 1"], "Cluj-Napoca", None, Some("RO-CJ"), CountryCode::ROMANIA).unwrap();
    let no_vat = Party::company("Fără TVA SRL", address, None, None, None).unwrap();
    TestFramework::<Seller>::with(())
        .given_no_previous_events()
        .when(set(no_vat))
        .then_expect_error(SellerError::VatIdRequired);
    let german = crate::billing::tests::foreign_company("DE", Some("DE123456789"));
    TestFramework::<Seller>::with(())
        .given_no_previous_events()
        .when(set(german))
        .then_expect_error(SellerError::NotInRomania("DE".into()));
}

#[test]
fn each_kind_of_document_has_its_series() {
    let chosen =
        |kind, prefix: &str| SellerEvent::SeriesChosen { kind, prefix: SeriesPrefix::parse(prefix).unwrap() };
    TestFramework::<Seller>::with(())
        .given(vec![changed()])
        .when(SellerCommand::ChooseSeries {
            kind: DocumentKind::CreditNote,
            prefix: SeriesPrefix::parse("BRTCN").unwrap(),
        })
        .then_expect_events(vec![chosen(DocumentKind::CreditNote, "BRTCN")]);
    let mut state = Seller::default();
    assert_eq!(state.details().unwrap_err(), SellerError::NotConfigured);
    for event in [changed(), chosen(DocumentKind::Invoice, "BRT"), chosen(DocumentKind::Proforma, "PRO")] {
        cqrs_es::Aggregate::apply(&mut state, event);
    }
    assert_eq!(state.series_for(DocumentKind::Invoice).unwrap().as_str(), "BRT");
    assert_eq!(state.series_for(DocumentKind::Proforma).unwrap().as_str(), "PRO");
    assert_eq!(
        state.series_for(DocumentKind::CreditNote),
        Err(SellerError::NoSeries(DocumentKind::CreditNote))
    );
    assert_eq!(state.details().unwrap().0, &seller());
}

#[test]
fn a_bank_name_is_printable_text() {
    TestFramework::<Seller>::with(())
        .given_no_previous_events()
        .when(SellerCommand::SetDetails {
            party: Box::new(seller()),
            iban: iban(),
            bank_name: Some("  ".into()),
        })
        .then_expect_error(SellerError::BankName("the bank name is empty".into()));
}
