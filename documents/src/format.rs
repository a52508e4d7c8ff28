//! How numbers and dates are written: the machine form for UBL and the Romanian form for
//! people.

use berth_domain::billing::Quantity;
use berth_domain::money::Money;
use time::Date;

/// `1234.50`: minor units as a decimal with two places, as UBL amounts are written.
pub(crate) fn decimal(money: Money) -> String {
    let minor = money.amount_minor();
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// `1.234,50`: the Romanian way, dots between thousands and a decimal comma.
pub(crate) fn amount_ro(money: Money) -> String {
    let minor = money.amount_minor();
    let whole = (minor / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    format!("{grouped},{:02}", minor % 100)
}

/// `1,5` or `3`: a quantity for people, without trailing zeros.
pub(crate) fn quantity_ro(quantity: Quantity) -> String {
    let t = quantity.thousandths();
    let fraction = format!("{:03}", t % 1000);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        (t / 1000).to_string()
    } else {
        format!("{},{fraction}", t / 1000)
    }
}

/// `01.09.2025`: a date the Romanian way.
pub(crate) fn date_ro(date: Date) -> String {
    format!("{:02}.{:02}.{}", date.day(), u8::from(date.month()), date.year())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_domain::money::Currency;
    use time::macros::date;

    fn ron(minor: i64) -> Money {
        Money::new(minor, Currency::parse("RON").unwrap()).unwrap()
    }

    #[test]
    fn amounts_are_spelled_for_machines_and_people() {
        assert_eq!(decimal(ron(123_456)), "1234.56");
        assert_eq!(decimal(ron(5)), "0.05");
        assert_eq!(amount_ro(ron(123_456_789)), "1.234.567,89");
        assert_eq!(amount_ro(ron(99)), "0,99");
        assert_eq!(quantity_ro(Quantity::from_thousandths(1500).unwrap()), "1,5");
        assert_eq!(quantity_ro(Quantity::units(3).unwrap()), "3");
        assert_eq!(date_ro(date!(2025 - 09 - 01)), "01.09.2025");
    }
}
