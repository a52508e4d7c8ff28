//! Calendar dates on the wire as `YYYY-MM-DD`, as the OpenAPI documents say (`format: date`):
//! `time`'s own serde form is a `[year, ordinal]` pair. Use as `#[serde(with = "berth_http::date")]`,
//! or `berth_http::date::option` for an `Option<Date>`.

use serde::{Deserializer, Serializer};
use time::Date;

mod iso {
    time::serde::format_description!(pub(super) year_month_day, Date, "[year]-[month]-[day]");
}

/// Writes `date` as `YYYY-MM-DD`.
pub fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
    iso::year_month_day::serialize(date, serializer)
}

/// Reads a `YYYY-MM-DD` date.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
    iso::year_month_day::deserialize(deserializer)
}

/// The same for an `Option<Date>` (`null` when absent).
pub mod option {
    use serde::{Deserializer, Serializer};
    use time::Date;

    /// Writes `date` as `YYYY-MM-DD`, or `null`.
    pub fn serialize<S: Serializer>(date: &Option<Date>, serializer: S) -> Result<S::Ok, S::Error> {
        super::iso::year_month_day::option::serialize(date, serializer)
    }

    /// Reads a `YYYY-MM-DD` date, or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Date>, D::Error> {
        super::iso::year_month_day::option::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;
    use time::Date;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Row {
        #[serde(with = "super")]
        day: Date,
        #[serde(with = "super::option")]
        paid_on: Option<Date>,
    }

    #[test]
    fn dates_are_written_and_read_as_year_month_day() {
        let row = Row { day: date!(2030 - 09 - 15), paid_on: None };
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json, serde_json::json!({"day": "2030-09-15", "paid_on": null}));
        assert_eq!(serde_json::from_value::<Row>(json).unwrap(), row);
    }
}
