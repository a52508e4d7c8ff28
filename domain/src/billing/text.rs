//! Checked free text on documents: names, address lines, descriptions, notes.
//!
//! Everything printed on an issued document is trimmed, non-empty, free of control characters
//! (which XML 1.0 cannot carry and a PDF would not show) and within the length e-Factura
//! allows for that field (CIUS-RO sets limits from 20 to 300 characters).

/// Why a piece of text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty after trimming.
    #[error("{field} is empty")]
    Empty {
        /// Which field.
        field: &'static str,
    },
    /// Longer than the field allows.
    #[error("{field} must be at most {max} characters")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// The limit.
        max: usize,
    },
    /// Holds control characters.
    #[error("{field} holds control characters")]
    Control {
        /// Which field.
        field: &'static str,
    },
}

/// Trims `input` and checks it for `field`, at most `max` characters.
pub(crate) fn checked(field: &'static str, input: &str, max: usize) -> Result<String, TextError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(TextError::Empty { field });
    }
    if text.chars().count() > max {
        return Err(TextError::TooLong { field, max });
    }
    if text.chars().any(char::is_control) {
        return Err(TextError::Control { field });
    }
    Ok(text.to_owned())
}
