//! Why an event was refused, field by field.

use std::fmt;

/// One problem with one field. `field` names the field as the producer sent it
/// (`shipment_id`, `detail.status`, `details.weight`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// An event that can never be stored: retrying it cannot help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The body is larger than the documented limit.
    TooLarge { size: usize, limit: usize },
    /// One or more fields are missing or malformed.
    Invalid(Vec<FieldError>),
}

impl Rejection {
    pub fn invalid(error: FieldError) -> Self {
        Rejection::Invalid(vec![error])
    }

    /// The field errors (a too-large body is reported as an error of `body`).
    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Rejection::TooLarge { size, limit } => vec![FieldError::new(
                "body",
                format!("is {size} bytes; the limit is {limit}"),
            )],
            Rejection::Invalid(errors) => errors.clone(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.field_errors().iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejection {}
