use proptest::prelude::*;

use super::*;

#[test]
fn romanian_cuis_pass_with_the_right_check_digit() {
    // 18547290: body 1854729 padded to 001854729; with the key 753217532 the products are
    // 0+0+3+16+5+28+35+6+18 = 111; 111*10 = 1110; 1110 mod 11 = 10, which counts as 0 = last digit.
    assert_eq!(VatId::parse("RO18547290").unwrap().number(), "18547290");
    // 4267117: body 426711 padded to 000426711: 0+0+0+8+2+42+35+3+2 = 92; 920 mod 11 = 7.
    assert_eq!(VatId::parse("ro 4267117").unwrap().as_str(), "RO4267117");
    // 14399840: 0+0+3+8+3+63+45+24+8 = 154; 1540 mod 11 = 0.
    assert!(VatId::parse("RO14399840").is_ok());
}

#[test]
fn romanian_cuis_with_a_wrong_check_digit_are_refused() {
    for bad in ["RO18547291", "RO4267118", "RO14399841", "RO1234567890"] {
        assert!(matches!(VatId::parse(bad), Err(VatIdError::CheckDigit(_))), "{bad}");
    }
    assert!(matches!(VatId::parse("RO0123"), Err(VatIdError::Format { .. })));
    assert!(matches!(VatId::parse("RO12345678901"), Err(VatIdError::Format { .. })));
}

#[test]
fn each_member_state_format_is_checked() {
    let good = [
        "ATU12345678",
        "BE0123456789",
        "BG123456789",
        "BG1234567890",
        "CY12345678X",
        "CZ12345678",
        "CZ1234567890",
        "DE123456789",
        "DK12345678",
        "EE123456789",
        "EL123456789",
        "ESA1234567B",
        "ESA12345678",
        "ES12345678Z",
        "FI12345678",
        "FRXX123456789",
        "FR12123456789",
        "HR12345678901",
        "HU12345678",
        "IE1234567T",
        "IE1234567WA",
        "IE1A23456B",
        "IT12345678901",
        "LT123456789",
        "LT123456789012",
        "LU12345678",
        "LV12345678901",
        "MT12345678",
        "NL123456789B01",
        "PL1234567890",
        "PT123456789",
        "SE123456789001",
        "SI12345678",
        "SK1234567890",
    ];
    for id in good {
        assert!(VatId::parse(id).is_ok(), "{id}: {:?}", VatId::parse(id));
    }
    let bad = [
        "AT12345678",
        "BE2123456789",
        "CY123456789",
        "DE12345678",
        "ES123456789",
        "FRIO123456789",
        "IE12345678",
        "NL123456789A01",
        "SE123456789012",
        "GR123456789",
        "GB123456789",
        "XX123",
        "",
        "R",
    ];
    for id in bad {
        assert!(VatId::parse(id).is_err(), "{id}");
    }
}

#[test]
fn greek_ids_belong_to_greece() {
    assert_eq!(VatId::parse("EL123456789").unwrap().country().as_str(), "GR");
}

#[test]
fn serde_round_trips_and_checks() {
    let id = VatId::parse("DE123456789").unwrap();
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(json, "\"DE123456789\"");
    assert_eq!(serde_json::from_str::<VatId>(&json).unwrap(), id);
    assert!(serde_json::from_str::<VatId>("\"RO18547291\"").is_err());
}

proptest! {
    #[test]
    fn parse_never_panics_and_output_reparses(input in "\\PC{0,20}") {
        if let Ok(id) = VatId::parse(&input) {
            prop_assert_eq!(VatId::parse(id.as_str()), Ok(id.clone()));
        }
    }

    #[test]
    fn exactly_one_check_digit_fits_each_cui_body(body in 1u32..999_999_999) {
        let valid = (0..10)
            .filter(|d| VatId::parse(&format!("RO{body}{d}")).is_ok())
            .count();
        prop_assert_eq!(valid, 1);
    }
}
