use std::path::PathBuf;

use serde_json::json;

use super::*;
use crate::mail::catalog::{CERTIFICATE_EXPIRING, INVOICE_ISSUED, PAYMENT_FAILED};

/// A fresh directory of the test's own, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(files: &[(&str, &str)]) -> Self {
        let path = std::env::temp_dir().join(format!("berth-mail-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&path).unwrap();
        for (name, content) in files {
            std::fs::write(path.join(name), content).unwrap();
        }
        Self(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn builtins() -> Templates {
    Templates::load(None, "Berth").unwrap()
}

#[test]
fn every_built_in_template_renders_its_sample_with_every_value_in_it() {
    let templates = builtins();
    for template in BUILTIN {
        let sample = (template.sample)();
        let rendered = templates.render(template.name, &sample).unwrap();
        assert!(!rendered.subject.is_empty() && !rendered.subject.contains('\n'), "{}", template.name);
        assert!(rendered.text.ends_with("Berth\n"), "{}: {}", template.name, rendered.text);
        assert_eq!(rendered.html, None);
        // Every value passed shows somewhere (a value a template ignores is a mistake in one
        // or the other), but for the optional ones, which decide a paragraph.
        for (key, value) in sample.as_object().unwrap() {
            let shown = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let whole = format!("{}\n{}", rendered.subject, rendered.text);
            assert!(whole.contains(&shown), "{}: `{key}` = {shown} not in\n{whole}", template.name);
        }
    }
}

#[test]
fn an_invoice_mail_reads_as_expected() {
    let rendered = builtins().render(INVOICE_ISSUED, &(builtin(INVOICE_ISSUED).unwrap().sample)()).unwrap();
    assert_eq!(rendered.subject, "Invoice BRT-000042 from Berth Hosting SRL");
    assert!(rendered.text.contains("Total: 119.00 EUR\nDue by: 2026-12-15\n"), "{}", rendered.text);
}

#[test]
fn a_payment_failure_names_the_next_attempt_only_when_there_is_one() {
    let templates = builtins();
    let mut context = (builtin(PAYMENT_FAILED).unwrap().sample)();
    let retried = templates.render(PAYMENT_FAILED, &context).unwrap();
    assert!(retried.text.contains("try again on 2026-12-06"), "{}", retried.text);
    context["next_retry"] = Value::Null;
    let last = templates.render(PAYMENT_FAILED, &context).unwrap();
    assert!(last.text.contains("We will not try again"), "{}", last.text);
}

#[test]
fn a_missing_variable_is_an_error_naming_the_template() {
    let context = json!({"domain": "a.example", "days_left": 7, "not_after": "2027-01-01"});
    match builtins().render(CERTIFICATE_EXPIRING, &context) {
        Err(MailError::Render { template, reason }) => {
            assert_eq!(template, "certificate_expiring.txt");
            assert!(reason.contains("undefined"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(builtins().render("no_such_mail", &json!({})), Err(MailError::UnknownTemplate(_))));
}

#[test]
fn a_template_in_the_directory_wins_over_the_built_in_one() {
    let dir = Dir::new(&[
        ("invoice_issued.subject", "Your {{ kind | lower }} {{ number }}"),
        ("invoice_issued.html", "<p>{{ buyer_name }} owes {{ total }}</p>"),
    ]);
    let templates = Templates::load(Some(&dir.0), "Berth").unwrap();
    let mut context = (builtin(INVOICE_ISSUED).unwrap().sample)();
    context["buyer_name"] = json!("Smith & <Sons>");
    let rendered = templates.render(INVOICE_ISSUED, &context).unwrap();
    assert_eq!(rendered.subject, "Your invoice BRT-000042");
    assert!(rendered.text.starts_with("Hello Smith & <Sons>,"), "the built-in text stays");
    assert_eq!(rendered.html.as_deref(), Some("<p>Smith &amp; &lt;Sons&gt; owes 119.00 EUR</p>"));
}

#[test]
fn a_broken_override_is_refused_naming_its_file() {
    let syntax = Dir::new(&[("payment_receipt.txt", "Paid {{ amount ")]);
    let error = Templates::load(Some(&syntax.0), "Berth").unwrap_err();
    assert!(error.file.ends_with("payment_receipt.txt"), "{error}");
    assert!(error.to_string().contains("syntax error"), "{error}");

    let unknown_variable = Dir::new(&[("payment_receipt.txt", "Paid {{ amount }} by {{ card_holder }}")]);
    let error = Templates::load(Some(&unknown_variable.0), "Berth").unwrap_err();
    assert!(error.file.ends_with("payment_receipt.txt"), "{error}");
    assert!(error.reason.contains("undefined"), "{error}");

    let misspelt = Dir::new(&[("payment_reciept.txt", "Paid")]);
    let error = Templates::load(Some(&misspelt.0), "Berth").unwrap_err();
    assert!(error.file.ends_with("payment_reciept.txt"), "{error}");
    assert!(error.reason.contains("not a mail template"), "{error}");

    let missing = Templates::load(Some(Path::new("/nonexistent/berth-mail-templates")), "Berth").unwrap_err();
    assert!(missing.reason.contains("cannot read the directory"), "{missing}");
}
