//! Rendering mail: the built-in templates, replaced file by file by the operator's
//! (`mail.templates_dir`), rendered with a JSON context by minijinja. A variable the context
//! lacks is an error, never an empty gap in a customer's mail.
//!
//! Each template is up to three files: `<name>.subject` (one line), `<name>.txt` (the plain
//! text body) and, only from the operator, `<name>.html` (an HTML alternative, auto-escaped).
//! Every file in the directory is checked when the templates are loaded: an unknown name, a
//! syntax error, or a variable the sender does not pass refuses the start, naming the file.

use std::collections::BTreeSet;
use std::path::Path;

use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

use crate::mail::catalog::{builtin, BUILTIN};
use crate::mail::MailError;

/// A template directory that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct TemplateError {
    /// The file at fault (or the directory).
    pub file: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A mail as rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject, on one line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML alternative, if the template has one.
    pub html: Option<String>,
}

/// The templates in use.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    html: BTreeSet<String>,
}

const KINDS: [&str; 3] = ["subject", "txt", "html"];

impl Templates {
    /// The built-in templates, with the files of `dir` in their place where it has them;
    /// `sender_name` is `sender_name` in every template.
    pub fn load(dir: Option<&Path>, sender_name: &str) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = minijinja::syntax::SyntaxConfig::builder().keep_trailing_newline(true).build();
        env.set_syntax(
            syntax.map_err(|e| TemplateError { file: "built-in syntax".into(), reason: e.to_string() })?,
        );
        env.add_global("sender_name", sender_name.to_owned());
        for template in BUILTIN {
            let subject = format!("{}.subject", template.name);
            env.add_template_owned(subject.clone(), template.subject)
                .map_err(|e| TemplateError { file: format!("built-in {subject}"), reason: e.to_string() })?;
            let text = format!("{}.txt", template.name);
            env.add_template_owned(text.clone(), template.text)
                .map_err(|e| TemplateError { file: format!("built-in {text}"), reason: e.to_string() })?;
        }
        let mut templates = Self { env, html: BTreeSet::new() };
        if let Some(dir) = dir {
            templates.override_from(dir)?;
        }
        Ok(templates)
    }

    /// Puts every file of `dir` in place of the built-in one and checks it.
    fn override_from(&mut self, dir: &Path) -> Result<(), TemplateError> {
        let at = |path: &Path, reason: String| TemplateError { file: path.display().to_string(), reason };
        let entries =
            std::fs::read_dir(dir).map_err(|e| at(dir, format!("cannot read the directory: {e}")))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| at(dir, format!("cannot read the directory: {e}")))?.path();
            let Some(file) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
            if file.starts_with('.') || path.is_dir() {
                continue;
            }
            files.push((path, file));
        }
        files.sort();
        for (path, file) in files {
            let (name, kind) = file.rsplit_once('.').unwrap_or((file.as_str(), ""));
            let Some(template) = builtin(name).filter(|_| KINDS.contains(&kind)) else {
                let known: Vec<&str> = BUILTIN.iter().map(|b| b.name).collect();
                return Err(at(
                    &path,
                    format!(
                        "not a mail template: a template file is <name>.subject, <name>.txt or <name>.html, \
                         with a name out of {}",
                        known.join(", ")
                    ),
                ));
            };
            let source =
                std::fs::read_to_string(&path).map_err(|e| at(&path, format!("cannot read it: {e}")))?;
            self.env.add_template_owned(file.clone(), source).map_err(|e| at(&path, describe(&e)))?;
            if kind == "html" {
                self.html.insert(name.to_owned());
            }
            let check = self.env.get_template(&file).and_then(|t| t.render(Serde((template.sample)())));
            check.map_err(|e| at(&path, describe(&e)))?;
        }
        Ok(())
    }

    /// Renders template `name` with `context`.
    pub fn render(&self, name: &str, context: &Value) -> Result<Rendered, MailError> {
        if builtin(name).is_none() {
            return Err(MailError::UnknownTemplate(name.to_owned()));
        }
        let render = |file: String| {
            self.env
                .get_template(&file)
                .and_then(|t| t.render(Serde(context)))
                .map_err(|e| MailError::Render { template: file, reason: describe(&e) })
        };
        let subject = render(format!("{name}.subject"))?;
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = render(format!("{name}.txt"))?;
        let html = match self.html.contains(name) {
            true => Some(render(format!("{name}.html"))?),
            false => None,
        };
        Ok(Rendered { subject, text, html })
    }
}

/// A minijinja error with where it happened and what caused it.
fn describe(error: &minijinja::Error) -> String {
    // Its display names the template and line already.
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
#[path = "templates_tests.rs"]
mod tests;
