//! The provider-free Terraform JSON core.
//!
//! A [`Document`] holds a root module's blocks in sorted maps and renders byte-stable
//! `*.tf.json` files. Values are [`Tf`]: literal strings are escaped at serialization (`${` ->
//! `$${`, `%{` -> `%%{`) so they can never become expressions, and expressions ([`Expr`]) come
//! only from typed handles ([`Resource::attr`]), variables and function calls. They are values,
//! not text, so the document knows its reference graph ([`Document::references`]) and refuses
//! to render a dangling reference. This crate knows Terraform, not AWS: the attributes of each
//! provider type come from the caller ([`Document::check_attributes`]).

mod document;
mod expr;
mod value;

pub use document::{
    Attributes, Check, Document, Edge, Referrer, RenderError, Resource, Validation, Variable,
};
pub use expr::{Address, Expr, Reference};
pub use value::{escape_template, Block, Lifecycle, Tf};
