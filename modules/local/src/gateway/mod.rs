//! API Gateway's front doors, routed as deployed (see [`crate::deployed`]):
//!
//! - REST: `http://127.0.0.1:<rest port>/<stage><resource path>`; each method integrated
//!   with a function (`AWS_PROXY`) gets the REST proxy event (`ApiGatewayProxyRequest`); the
//!   method's request validator and `application/json` model are applied first (400
//!   `Invalid request body`, as API Gateway answers); a method with `AWS_IAM` authorization
//!   needs a SigV4 `Authorization` header (403 `Missing Authentication Token` otherwise).
//!   **The signature is not verified**: the emulator has no real credentials to check it
//!   against.
//! - WebSocket: `ws://127.0.0.1:<ws port>/<stage>`; `$connect` runs before the upgrade is
//!   accepted (a non-2xx answer refuses it), messages are routed by the API's route
//!   selection expression (`$request.body.action`) to their route or `$default`, and
//!   `$disconnect` runs when the socket closes. An integration's reply goes back to the
//!   client only when the route has a route response, as in API Gateway.
//! - The `@connections` management API on the WebSocket port
//!   (`http://127.0.0.1:<ws port>/<stage>/@connections/{id}`): `POST` sends to a live
//!   connection (200) or answers 410 `GoneException` for closed ones and ones marked stale
//!   with [`WsHub::mark_stale`]; every post is recorded for assertions.

mod http;
mod rest;
mod signing;
mod websocket;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::lambda::EmulatedFunction;

pub use rest::rest_app;
pub use websocket::{Post, WsHub};

/// Functions by deployed name.
pub type Functions = BTreeMap<String, Arc<EmulatedFunction>>;
