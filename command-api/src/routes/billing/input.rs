//! What billing requests carry, parsed into the domain's values: dates, currencies, amounts,
//! addresses and parties, draft lines. Every refusal is a 400 naming the field; a field inside
//! a list is named with its position (`lines.1.unit_price.amount_minor`).

use berth_domain::billing::{
    CountryCode, Party, PartyError, PostalAddress, Quantity, RateCategory, ServicePeriod, TextError,
    UnitCode, VatId, MAX_AMOUNT_MINOR,
};
use berth_domain::email::Email;
use berth_domain::invoice::{DraftLine, InvoiceError};
use berth_domain::money::{Currency, Money};
use berth_domain::plan::{is_offered, OFFERED_CURRENCIES};
use berth_http::ApiError;
use serde::Deserialize;
use time::Date;

/// An amount of money.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyBody {
    /// Minor units (cents, bani), never negative.
    #[schema(minimum = 0, maximum = 10_000_000_000_000_i64)]
    pub amount_minor: i64,
    /// The currency.
    #[schema(value_type = berth_http::schema::CurrencyName)]
    pub currency: String,
}

/// A postal address, as documents print it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": ["Str. Memorandumului 28"], "city": "Cluj-Napoca", "postal_code": "400114", "subdivision": "RO-CJ", "country": "RO"}))]
pub struct AddressBody {
    /// One to three street lines.
    #[schema(min_items = 1, max_items = 3)]
    pub lines: Vec<String>,
    /// The city; in Bucharest, the sector (`SECTOR1` … `SECTOR6`).
    #[schema(min_length = 1, max_length = 50)]
    pub city: String,
    /// The postal code.
    #[schema(max_length = 20)]
    pub postal_code: Option<String>,
    /// The county as an ISO 3166-2 code (`RO-CJ`, `RO-B`): required in Romania.
    #[schema(max_length = 50)]
    pub subdivision: Option<String>,
    /// The country, ISO 3166-1 alpha-2.
    #[schema(pattern = "^[A-Z]{2}$", example = "RO")]
    pub country: String,
}

/// One line of a draft.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"description": "Găzduire web, septembrie", "quantity": "1", "unit": "month", "unit_price": {"amount_minor": 14500, "currency": "RON"}, "rate": "standard"}))]
pub struct LineBody {
    /// What is billed.
    #[schema(min_length = 1, max_length = 100)]
    pub description: String,
    /// How much, with at most three decimals.
    #[schema(pattern = "^[0-9]{1,10}(\\.[0-9]{1,3})?$", example = "1.5")]
    pub quantity: String,
    /// The unit the quantity counts.
    #[schema(value_type = berth_http::schema::UnitName)]
    pub unit: String,
    /// The price of one unit, before VAT, in the document's currency.
    pub unit_price: MoneyBody,
    /// The VAT rate category; the rate itself follows from the buyer and the date of supply.
    #[schema(value_type = berth_http::schema::RateCategoryName)]
    pub rate: String,
    /// The first day the line pays for.
    #[schema(format = Date)]
    pub period_start: Option<String>,
    /// The last day the line pays for.
    #[schema(format = Date)]
    pub period_end: Option<String>,
}

/// Reads a calendar date (`2025-09-01`).
pub fn date(field: &str, value: &str) -> Result<Date, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(value, &format).map_err(|_| ApiError::field(field, "must be a date such as 2025-09-01"))
}

/// Reads an optional calendar date.
pub fn optional_date(field: &str, value: Option<&str>) -> Result<Option<Date>, ApiError> {
    value.map(|v| date(field, v)).transpose()
}

/// Reads a currency Berth bills in.
pub fn currency(field: &str, value: &str) -> Result<Currency, ApiError> {
    let refused = || {
        ApiError::field(
            field,
            format!("`{value}` is not a currency Berth bills in; expected {}", OFFERED_CURRENCIES.join(", ")),
        )
    };
    let currency = Currency::parse(value).map_err(|_| refused())?;
    if !is_offered(currency) {
        return Err(refused());
    }
    Ok(currency)
}

/// Reads an amount: not negative, at most what Berth bills.
pub fn money(field: &str, body: &MoneyBody) -> Result<Money, ApiError> {
    let currency = currency(&format!("{field}.currency"), &body.currency)?;
    let amount_field = format!("{field}.amount_minor");
    if body.amount_minor > MAX_AMOUNT_MINOR {
        return Err(ApiError::field(&amount_field, format!("must be at most {MAX_AMOUNT_MINOR}")));
    }
    Money::new(body.amount_minor, currency).map_err(|e| ApiError::field(&amount_field, e))
}

/// Reads one of a value list, naming what was expected.
pub fn one_of<T: Copy>(
    field: &str,
    value: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, ApiError> {
    all.iter().copied().find(|v| name(*v) == value).ok_or_else(|| {
        let expected: Vec<&str> = all.iter().map(|v| name(*v)).collect();
        ApiError::field(field, format!("unknown value `{value}`; expected one of {}", expected.join(", ")))
    })
}

/// Reads an optional VAT id (format, and the CUI check digit in Romania).
pub fn vat_id(value: Option<&str>) -> Result<Option<VatId>, ApiError> {
    value.map(|v| VatId::parse(v).map_err(|e| ApiError::field("vat_id", e))).transpose()
}

/// Which request field a piece of party or document text is.
fn text_field(error: &TextError) -> &'static str {
    let field = match error {
        TextError::Empty { field } | TextError::TooLong { field, .. } | TextError::Control { field } => {
            *field
        }
    };
    match field {
        "the legal name" | "the name" => "legal_name",
        "an address line" => "address.lines",
        "the city" => "address.city",
        "the postal code" => "address.postal_code",
        "the country subdivision" => "address.subdivision",
        "the registration number" | "the personal id" => "registration",
        "the line description" => "description",
        "the bank name" => "bank_name",
        "a note" => "notes",
        _ => "body",
    }
}

fn party_error(error: PartyError) -> ApiError {
    let field = match &error {
        PartyError::Text(text) => text_field(text),
        PartyError::AddressLines => "address.lines",
        PartyError::RomanianCounty => "address.subdivision",
        PartyError::BucharestSector => "address.city",
        PartyError::VatIdCountry { .. } => "vat_id",
    };
    ApiError::field(field, error)
}

impl AddressBody {
    /// The address.
    pub fn parse(&self) -> Result<PostalAddress, ApiError> {
        let country = CountryCode::parse(&self.country).map_err(|e| ApiError::field("address.country", e))?;
        let lines: Vec<&str> = self.lines.iter().map(String::as_str).collect();
        PostalAddress::new(
            &lines,
            &self.city,
            self.postal_code.as_deref(),
            self.subdivision.as_deref(),
            country,
        )
        .map_err(party_error)
    }
}

/// A party from its parts: a company (with its VAT id) or a person (without one).
pub fn party(
    company: bool,
    legal_name: &str,
    address: &AddressBody,
    vat_id: Option<&str>,
    registration: Option<&str>,
    email: Option<&str>,
) -> Result<Party, ApiError> {
    let address = address.parse()?;
    let vat_id = self::vat_id(vat_id)?;
    let email =
        email.map(|e| Email::parse(e).map_err(|error| ApiError::field("email", error))).transpose()?;
    if company {
        Party::company(legal_name, address, vat_id, registration, email).map_err(party_error)
    } else {
        if vat_id.is_some() {
            return Err(ApiError::field("vat_id", "a person has no VAT id; bill a company for one"));
        }
        Party::person(legal_name, address, registration, email).map_err(party_error)
    }
}

impl LineBody {
    /// The draft line; `field` names it in the request (`lines.0`).
    pub fn parse(&self, field: &str) -> Result<DraftLine, ApiError> {
        let at = |name: &str| format!("{field}.{name}");
        let quantity = Quantity::parse(&self.quantity).map_err(|e| ApiError::field(&at("quantity"), e))?;
        let unit = one_of(&at("unit"), &self.unit, &UnitCode::ALL, UnitCode::as_str)?;
        let rate = one_of(&at("rate"), &self.rate, &RateCategory::ALL, RateCategory::as_str)?;
        let unit_price = money(&at("unit_price"), &self.unit_price)?;
        let period = match (
            optional_date(&at("period_start"), self.period_start.as_deref())?,
            optional_date(&at("period_end"), self.period_end.as_deref())?,
        ) {
            (Some(start), Some(end)) => {
                Some(ServicePeriod::new(start, end).map_err(|e| ApiError::field(&at("period_end"), e))?)
            }
            (None, None) => None,
            _ => return Err(ApiError::field(&at("period_end"), "a period has both a start and an end")),
        };
        DraftLine::new(&self.description, quantity, unit, unit_price, rate, period).map_err(|e| match e {
            InvoiceError::Line(detail) => ApiError::field(&at("description"), detail),
            other => ApiError::refused(&other),
        })
    }
}

/// Parses every line of a request, naming each by its position.
pub fn lines(lines: &[LineBody]) -> Result<Vec<DraftLine>, ApiError> {
    lines.iter().enumerate().map(|(i, line)| line.parse(&format!("lines.{i}"))).collect()
}
