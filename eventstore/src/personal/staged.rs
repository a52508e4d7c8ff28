//! Personal data in what a command is about to append: its fields sealed, a retention timer for
//! each issued document, and the subjects whose keys the command destroys.

use serde_json::Value;
use time::OffsetDateTime;

use crate::append::Staged;
use crate::error::StoreError;
use crate::timers::StagedTimer;

/// `staged` with personal data sealed, and a retention timer for each issued document.
pub(crate) async fn seal_staged(
    keys: &crate::personal::Keys,
    staged: &[Staged],
    recorded_at: OffsetDateTime,
) -> Result<Vec<Staged>, StoreError> {
    let mut staged = staged.to_vec();
    {
        let mut items = Vec::new();
        for one in staged.iter_mut() {
            let (kind, id) = (one.aggregate_type, one.aggregate_id.as_str());
            for (event_type, _, payload) in one.events.iter_mut() {
                items.push((kind, id, event_type.as_str(), payload));
            }
        }
        keys.seal(&mut items).await?;
    }
    for one in staged.iter_mut() {
        let Some((_, _, issued)) = one.events.iter().find(|(t, _, _)| t == "InvoiceIssued") else { continue };
        if one.aggregate_type != "invoice" {
            continue;
        }
        // The period runs from the document's issue date (when it has one), at midnight UTC.
        let issued_on = issued
            .pointer("/Issued/document/issue_date")
            .and_then(Value::as_str)
            .and_then(|d| time::Date::parse(d, &time::format_description::well_known::Iso8601::DATE).ok())
            .map_or(recorded_at, |d| d.midnight().assume_utc());
        let subject = crate::personal::retention_subject(&one.aggregate_id);
        let years = keys.retention_years();
        let due_at = issued_on
            .replace_year(issued_on.year() + years)
            .unwrap_or(issued_on + time::Duration::days(366 * i64::from(years)));
        let key = berth_domain::timer::TimerKey::parse(&format!("retention:invoice:{}", one.aggregate_id))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        one.timers.push(StagedTimer::Schedule {
            key,
            due_at,
            aggregate_type: <berth_domain::privacy::DataSubject as cqrs_es::Aggregate>::TYPE,
            aggregate_id: subject,
            command: serde_json::to_value(berth_domain::privacy::SubjectCommand::EndRetention)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        });
    }
    Ok(staged)
}

/// The subjects whose keys the staged events destroy, and why.
pub(crate) fn shredded_subjects(staged: &[Staged]) -> (Vec<String>, String) {
    let mut subjects = Vec::new();
    let mut reason = String::new();
    for one in staged.iter().filter(|s| s.aggregate_type == "data_subject") {
        for (event_type, _, payload) in &one.events {
            match event_type.as_str() {
                "DataSubjectErased" => {
                    reason = payload
                        .pointer("/Erased/reason")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    subjects.push(one.aggregate_id.clone());
                    if let Some(listed) = payload.pointer("/Erased/subjects").and_then(Value::as_array) {
                        subjects.extend(listed.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                }
                "RetentionEnded" => {
                    reason = "retention period ended".to_owned();
                    subjects.push(one.aggregate_id.clone());
                }
                _ => {}
            }
        }
    }
    subjects.sort();
    subjects.dedup();
    (subjects, reason)
}
