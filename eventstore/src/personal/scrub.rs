//! Erasure outside the log: destroying subject keys and scrubbing plaintext from the views.

use super::*;

/// Destroys the keys of `subjects` (and leaves tombstones for those never made), in `tx`,
/// notifying every process to drop its cached keys when `tx` commits.
pub async fn destroy(
    conn: &mut sqlx::PgConnection,
    subjects: &[String],
    reason: &str,
) -> Result<(), sqlx::Error> {
    if subjects.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO subject_keys (subject, nonce, sealed_key, destroyed_at, reason)
         SELECT s, NULL, NULL, now(), $2 FROM UNNEST($1::text[]) s
         ON CONFLICT (subject) DO UPDATE SET nonce = NULL, sealed_key = NULL,
             destroyed_at = COALESCE(subject_keys.destroyed_at, now()),
             reason = COALESCE(subject_keys.reason, EXCLUDED.reason)",
    )
    .bind(subjects)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    sqlx::query("SELECT pg_notify($1, '')").bind(CHANNEL).execute(&mut *conn).await?;
    Ok(())
}

/// What a scrub changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Scrubbed {
    /// Rows changed or removed, by table (`schema.table`).
    pub tables: Vec<(String, u64)>,
}

/// The rows a subject's data may be scrubbed from: every row for a person's address (it is
/// theirs wherever it is), only the rows that name the document or tenant for a retained
/// buyer or a billing profile (a city or a company name is not unique to them).
pub fn scrub_scope(subject: &str) -> Option<&str> {
    subject
        .strip_prefix("retention:invoice:")
        .or_else(|| subject.strip_prefix("party:"))
        .or_else(|| subject.strip_prefix("person:"))
}

/// Opens `text` if it is a sealed value as a view copied it in SQL (the envelope's JSON text).
pub async fn open_text(keys: &Keys, text: &mut Option<String>) -> Result<(), StoreError> {
    let Some(raw) = text.as_deref() else { return Ok(()) };
    if !raw.starts_with('{') || !raw.contains(ENVELOPE) {
        return Ok(());
    }
    let Ok(mut value) = serde_json::from_str::<Value>(raw) else { return Ok(()) };
    keys.open(&mut value).await?;
    *text = value.as_str().map(str::to_owned);
    Ok(())
}

/// Scrubs what `plaintexts` found, each value within its subject's [`scrub_scope`].
pub async fn scrub_all(pool: &PgPool, plaintexts: &[(String, String)]) -> Result<Scrubbed, sqlx::Error> {
    let mut scopes: HashMap<Option<&str>, Vec<String>> = HashMap::new();
    for (subject, value) in plaintexts {
        scopes.entry(scrub_scope(subject)).or_default().push(value.clone());
    }
    let mut report = Scrubbed::default();
    for (scope, values) in scopes {
        report.tables.extend(scrub(pool, &values, scope).await?.tables);
    }
    Ok(report)
}

/// Replaces every occurrence of `values` (case-insensitively) with [`ERASED`] in every table
/// outside the log (with `scope`, only in rows whose text names it) — the views (so they equal what a replay now gives), the mail outbox (a
/// mail to an erased person keeps no address, body or attachment; one not sent yet is not
/// sent), idempotent answers, timers — drops snapshots that hold them (a cache: the next load
/// replays) and unique claims on them (the address can be registered again).
pub async fn scrub(pool: &PgPool, values: &[String], scope: Option<&str>) -> Result<Scrubbed, sqlx::Error> {
    let mut report = Scrubbed::default();
    let values: Vec<&String> =
        values.iter().filter(|v| v.chars().count() >= 3 && v.as_str() != ERASED).collect();
    if values.is_empty() {
        return Ok(report);
    }
    let pattern = values.iter().map(|v| regex_escape(v)).collect::<Vec<_>>().join("|");
    // `$2`: the scope, when there is one: only rows that mention it.
    // `$2`: the scope, when there is one: only rows that are about it — an id column equal to it,
    // or a key naming it (a mail's idempotency key) — not rows that merely refer to it (a credit
    // note naming the invoice it corrects keeps its own buyer, under its own key).
    let within = |row: &str| {
        format!(
            "($2::text IS NULL OR EXISTS (SELECT 1 FROM jsonb_each_text(to_jsonb({row})) kv
              WHERE (kv.key IN ('id', 'invoice_id', 'document_id', 'tenant_id', 'user_id', 'aggregate_id') AND kv.value = $2)
                 OR (kv.key = 'key' AND strpos(kv.value, $2) > 0)))"
        )
    };
    let mut note = |table: &str, rows: u64| {
        if rows > 0 {
            report.tables.push((table.to_owned(), rows));
        }
    };
    let deleted = sqlx::query(&format!(
        "DELETE FROM aggregate_snapshots t WHERE state::text ~* $1 AND {}",
        within("t")
    ))
    .bind(&pattern)
    .bind(scope)
    .execute(pool)
    .await?;
    note("public.aggregate_snapshots", deleted.rows_affected());
    if scope.is_none() {
        let deleted =
            sqlx::query("DELETE FROM unique_claims WHERE value ~* $1").bind(&pattern).execute(pool).await?;
        note("public.unique_claims", deleted.rows_affected());
    }
    let mail = sqlx::query(&format!(
        "UPDATE mail_outbox t SET attachment_names = '{{}}', attachment_types = '{{}}', attachment_contents = '{{}}',
                last_error = CASE WHEN status = 'pending' THEN 'the recipient was erased' ELSE last_error END,
                status = CASE WHEN status = 'pending' THEN 'failed' ELSE status END
          WHERE (array_to_string(recipients, ' ') ~* $1 OR subject ~* $1 OR body_text ~* $1 OR body_html ~* $1)
            AND {}",
        within("t")
    ))
    .bind(&pattern)
    .bind(scope)
    .execute(pool)
    .await?;
    note("public.mail_outbox", mail.rows_affected());
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.table_schema::text, c.table_name::text, c.column_name::text, c.udt_name::text
           FROM information_schema.columns c
           JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE t.table_type = 'BASE TABLE'
            AND c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg\\_%'
            AND c.udt_name IN ('text', 'varchar', 'jsonb', 'json', '_text', '_varchar')
            AND c.is_generated = 'NEVER'
            AND NOT (c.table_schema = 'public' AND c.table_name IN
                     ('events', 'subject_keys', 'resealed_events', '_sqlx_migrations', 'aggregate_snapshots', 'unique_claims'))
          ORDER BY 1, 2, 3",
    )
    .fetch_all(pool)
    .await?;
    for (schema, table, column, kind) in columns {
        let target = format!("\"{schema}\".\"{table}\"");
        let c = format!("\"{column}\"");
        let scoped = within("t");
        let statement = match kind.as_str() {
            "text" | "varchar" => format!(
                "UPDATE {target} t SET {c} = regexp_replace({c}, $1, '{ERASED}', 'gi') WHERE {c} ~* $1 AND {scoped}"
            ),
            "jsonb" | "json" => format!(
                "UPDATE {target} t SET {c} = regexp_replace({c}::text, $1, '{ERASED}', 'gi')::{kind}
                  WHERE {c}::text ~* $1 AND {scoped}"
            ),
            _ => format!(
                "UPDATE {target} t SET {c} = ARRAY(SELECT regexp_replace(x, $1, '{ERASED}', 'gi')
                                                   FROM unnest({c}) WITH ORDINALITY AS u(x, n) ORDER BY n)
                  WHERE array_to_string({c}, ' ') ~* $1 AND {scoped}"
            ),
        };
        match sqlx::query(&statement).bind(&pattern).bind(scope).execute(pool).await {
            Ok(done) => note(&format!("{schema}.{table}"), done.rows_affected()),
            Err(error) => {
                tracing::error!(%error, table = %target, column, "cannot scrub a column");
                return Err(error);
            }
        }
    }
    Ok(report)
}

/// `text` as a PostgreSQL regular expression matching it literally.
pub(crate) fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if "\\^$.|?*+()[]{}-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
