//! How the provider bills, for operators: the seller as documents name it and which series
//! numbers each kind of document; every series with how far it has counted; coupons with
//! their redemptions; exchange rates to lei by currency and day. A platform view, without a
//! `tenant_id` column (see `timers`); the query API serves it to operators alone.

use berth_domain::coupon::{CouponDiscount, CouponDuration, CouponEvent};
use berth_domain::event::Event;
use berth_domain::exchange_rate::ExchangeRatesEvent;
use berth_domain::seller::SellerEvent;
use berth_domain::series::SeriesEvent;
use berth_eventstore::recorded::Recorded;
use serde_json::{json, Value};
use sqlx::PgConnection;

use crate::projection::{ApplyFuture, Projection};

/// The billing setup view.
pub struct BillingSetupView;

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, sqlx::Error> {
    serde_json::to_value(value).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

impl Projection for BillingSetupView {
    fn name(&self) -> &'static str {
        "billing_setup"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["seller", "series", "coupon", "exchange_rate"])
    }

    fn schema_version(&self) -> i32 {
        1
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE seller (
                id      text   PRIMARY KEY,
                party   jsonb,
                payment jsonb,
                series  jsonb  NOT NULL DEFAULT '{}',
                version bigint NOT NULL,
                updated_at timestamptz NOT NULL
            )",
            "CREATE TABLE series (
                prefix         text    PRIMARY KEY,
                kind           text    NOT NULL,
                yearly_restart boolean NOT NULL,
                taken          bigint  NOT NULL DEFAULT 0,
                last_number    text,
                last_issue_date date,
                version        bigint  NOT NULL,
                updated_at     timestamptz NOT NULL
            )",
            "CREATE TABLE coupons (
                id              uuid    PRIMARY KEY,
                code            text    NOT NULL,
                discount        jsonb   NOT NULL,
                duration        text    NOT NULL,
                periods         integer,
                max_redemptions integer,
                expires_at      timestamptz,
                plans           jsonb   NOT NULL,
                redemptions     integer NOT NULL DEFAULT 0,
                withdrawn       boolean NOT NULL DEFAULT false,
                version         bigint  NOT NULL,
                created_at      timestamptz NOT NULL,
                updated_at      timestamptz NOT NULL
            )",
            "CREATE TABLE exchange_rates (
                currency text   NOT NULL,
                day      date   NOT NULL,
                rate     text   NOT NULL,
                PRIMARY KEY (currency, day)
            )",
            "CREATE TABLE currencies (currency text PRIMARY KEY, version bigint NOT NULL)",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let (id, sequence, at) = (&event.aggregate_id, event.sequence, event.recorded_at);
            match &event.event {
                Event::Seller(SellerEvent::DetailsChanged { party, payment }) => {
                    sqlx::query(
                        "INSERT INTO seller (id, party, payment, version, updated_at) VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (id) DO UPDATE SET party = EXCLUDED.party, payment = EXCLUDED.payment,
                             version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
                          WHERE seller.version < EXCLUDED.version",
                    )
                    .bind(id)
                    .bind(to_json(party)?)
                    .bind(to_json(payment)?)
                    .bind(sequence)
                    .bind(at)
                    .execute(conn)
                    .await?;
                }
                Event::Seller(SellerEvent::SeriesChosen { kind, prefix }) => {
                    let chosen = json!({ kind.as_str(): prefix.as_str() });
                    sqlx::query(
                        "INSERT INTO seller (id, series, version, updated_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (id) DO UPDATE SET series = seller.series || EXCLUDED.series,
                             version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
                          WHERE seller.version < EXCLUDED.version",
                    )
                    .bind(id)
                    .bind(chosen)
                    .bind(sequence)
                    .bind(at)
                    .execute(conn)
                    .await?;
                }
                Event::Series(SeriesEvent::Opened { prefix, kind, yearly_restart }) => {
                    sqlx::query(
                        "INSERT INTO series (prefix, kind, yearly_restart, version, updated_at) VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (prefix) DO NOTHING",
                    )
                    .bind(prefix.as_str())
                    .bind(kind.as_str())
                    .bind(*yearly_restart)
                    .bind(sequence)
                    .bind(at)
                    .execute(conn)
                    .await?;
                }
                Event::Series(SeriesEvent::NumberTaken { number, issue_date, .. }) => {
                    sqlx::query(
                        "UPDATE series SET taken = taken + 1, last_number = $3, last_issue_date = $4, version = $2,
                                updated_at = $5 WHERE prefix = $1 AND version < $2",
                    )
                    .bind(id)
                    .bind(sequence)
                    .bind(number.to_string())
                    .bind(*issue_date)
                    .bind(at)
                    .execute(conn)
                    .await?;
                }
                Event::Coupon(coupon) => apply_coupon(conn, event, coupon).await?,
                Event::ExchangeRate(ExchangeRatesEvent::Recorded { currency, rate }) => {
                    sqlx::query(
                        "INSERT INTO exchange_rates (currency, day, rate) VALUES ($1, $2, $3)
                         ON CONFLICT (currency, day) DO UPDATE SET rate = EXCLUDED.rate",
                    )
                    .bind(currency.as_str())
                    .bind(rate.date())
                    .bind(rate.to_string())
                    .execute(&mut *conn)
                    .await?;
                    sqlx::query(
                        "INSERT INTO currencies (currency, version) VALUES ($1, $2)
                         ON CONFLICT (currency) DO UPDATE SET version = GREATEST(currencies.version, EXCLUDED.version)",
                    )
                    .bind(currency.as_str())
                    .bind(sequence)
                    .execute(conn)
                    .await?;
                }
                _ => {}
            }
            Ok(())
        })
    }
}

async fn apply_coupon(
    conn: &mut PgConnection,
    event: &Recorded,
    coupon: &CouponEvent,
) -> Result<(), sqlx::Error> {
    let (id, sequence, at) = (event.aggregate_uuid(), event.sequence, event.recorded_at);
    match coupon {
        CouponEvent::Created { code, discount, duration, max_redemptions, expires_at, plans, .. } => {
            let discount = match discount {
                CouponDiscount::Percent(p) => json!({ "percent_off": p.to_string() }),
                CouponDiscount::Amounts(amounts) => json!({ "amounts_off": to_json(amounts)? }),
            };
            let (duration, periods) = match duration {
                CouponDuration::Once => ("once", None),
                CouponDuration::Periods(n) => ("periods", i32::try_from(*n).ok()),
                CouponDuration::Forever => ("forever", None),
            };
            sqlx::query(
                "INSERT INTO coupons (id, code, discount, duration, periods, max_redemptions, expires_at, plans, version,
                                      created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(code.as_str())
            .bind(discount)
            .bind(duration)
            .bind(periods)
            .bind(max_redemptions.and_then(|m| i32::try_from(m).ok()))
            .bind(*expires_at)
            .bind(to_json(plans)?)
            .bind(sequence)
            .bind(at)
            .execute(conn)
            .await?;
        }
        CouponEvent::Redeemed { redemptions, .. } => {
            sqlx::query(
                "UPDATE coupons SET redemptions = $3, version = $2, updated_at = $4 WHERE id = $1 AND version < $2",
            )
            .bind(id)
            .bind(sequence)
            .bind(i32::try_from(*redemptions).unwrap_or(i32::MAX))
            .bind(at)
            .execute(conn)
            .await?;
        }
        CouponEvent::Withdrawn => {
            sqlx::query("UPDATE coupons SET withdrawn = true, version = $2, updated_at = $3 WHERE id = $1 AND version < $2")
                .bind(id)
                .bind(sequence)
                .bind(at)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}
