//! The provider-free Terraform JSON core.
//!
//! A [`Document`] holds a root module's blocks in sorted maps and renders byte-stable
//! `*.tf.json` files. Values are [`Tf`]: literal strings are escaped at serialization (`${` ->
//! `$${`, `%{` -> `%%{`) so they can never become expressions, and expressions ([`Expr`]) come
//! only from typed handles ([`Resource::attr`]), variables and function calls. This crate knows
//! Terraform, not AWS.

mod document;
mod expr;
mod value;

pub use document::{Document, RenderError, Resource, Validation, Variable};
pub use expr::Expr;
pub use value::{escape_template, Block, Lifecycle, Tf};
