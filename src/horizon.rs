//! `berth_feed_horizon_age_seconds`: how long the oldest open transaction on the server has
//! been holding back every feed reader, and who it is.
//!
//! Rendered at scrape time straight into the exposition text rather than through the metrics
//! recorder: the holder changes from one scrape to the next, and a recorder keeps every label
//! set it has seen, so yesterday's holders would stay on `/metrics` with their last age.

use std::fmt::Write as _;

use berth_eventstore::lag::HorizonHolder;

/// The metric's exposition lines for `holder` (no transaction open: one series at 0).
pub fn render(holder: Option<&HorizonHolder>) -> String {
    let mut out = String::from(
        "# HELP berth_feed_horizon_age_seconds Seconds the oldest open transaction on the server has held back the feed's horizon, labelled with who holds it.\n\
         # TYPE berth_feed_horizon_age_seconds gauge\n",
    );
    match holder {
        Some(h) => {
            let pid = h.pid.map(|p| p.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                "berth_feed_horizon_age_seconds{{holder=\"{}\",pid=\"{}\",state=\"{}\",database=\"{}\"}} {}",
                escape(&h.holder),
                pid,
                escape(&h.state),
                escape(&h.database),
                h.age_seconds.max(0.0)
            );
        }
        None => out.push_str("berth_feed_horizon_age_seconds 0\n"),
    }
    out
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_named_and_its_labels_escaped() {
        let holder = HorizonHolder {
            pid: Some(42),
            holder: "psql \"ops\"".to_owned(),
            state: "idle in transaction".to_owned(),
            database: "berth".to_owned(),
            age_seconds: 12.5,
        };
        let text = render(Some(&holder));
        assert!(text.contains(
            "berth_feed_horizon_age_seconds{holder=\"psql \\\"ops\\\"\",pid=\"42\",state=\"idle in transaction\",database=\"berth\"} 12.5\n"
        ), "{text}");
        assert!(render(None).ends_with("berth_feed_horizon_age_seconds 0\n"));
    }
}
