//! Cursor pagination: `{"items": [...], "next_cursor": "..."}`.

use serde::{Deserialize, Serialize};

use berth_http::ApiError;

/// A page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The `limit` and `cursor` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Items per page.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Where to continue: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    /// The checked page size.
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(50),
            Some(n @ 1..=200) => Ok(n),
            Some(_) => Err(ApiError::field("limit", "must be between 1 and 200")),
        }
    }

    /// The cursor read back as the list's key; one this list did not hand out is refused.
    pub fn after<T: std::str::FromStr>(&self) -> Result<Option<T>, ApiError> {
        self.cursor
            .as_deref()
            .map(|c| c.parse().map_err(|_| ApiError::field("cursor", "not a cursor from this list")))
            .transpose()
    }
}

/// Cuts a fetched `limit + 1` rows down to a page, with the cursor taken from the last item.
pub fn paginate<T>(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more { rows.last().map(cursor_of) } else { None };
    Page { items: rows, next_cursor }
}

/// Refuses a filter value that is not one of `allowed`, naming the parameter.
pub fn one_of(field: &str, value: Option<&str>, allowed: &[&str]) -> Result<(), ApiError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(ApiError::field(
            field,
            format!("unknown value `{v}`; expected one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// An optional RFC 3339 time parameter; a malformed one is a 400 naming `field`.
pub fn time_param(field: &str, value: Option<&str>) -> Result<Option<time::OffsetDateTime>, ApiError> {
    value
        .map(|v| {
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map_err(|_| ApiError::field(field, "must be an RFC 3339 time, such as 2026-01-31T00:00:00Z"))
        })
        .transpose()
}

/// The parameters of a detail read from a view as it is now.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionParams {
    /// Wait (up to 5 s) until the view reflects at least this version (read your own write).
    #[param(minimum = 0)]
    pub min_version: Option<i64>,
}
