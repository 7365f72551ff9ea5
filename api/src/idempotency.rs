//! `Idempotency-Key` on creating `POST`s (CONTRACT.md): a client that lost the answer to
//! a create sends it again with the same key and gets the first answer, marked
//! `Idempotent-Replayed: true`, instead of a second resource; the same key with another
//! request is refused (422). The key is checked and the answer kept inside the creating
//! transaction, so a key is recorded exactly when its resource exists. An answer that
//! carries a secret shown once (a delegation's verification code) is kept encrypted.
//! A replay is an answer like any other: it is served only after the caller passes again
//! the check a fresh request would meet (a revoked delegation, a participant removed), so
//! an old key is no way around authorization.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use domain::ids::AccountId;
use domain::time::Instant;
use persistence::idempotency::{self as store, Recorded};
use persistence::DbConnection;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use crate::auth::{Actor, Caller};
use crate::concurrency::etag;
use crate::crypto::PiiCipher;
use crate::error::ApiError;
use crate::usecases::Outcome;

pub const HEADER: &str = "Idempotency-Key";
const REPLAYED: &str = "Idempotent-Replayed";
const MAX_LENGTH: usize = 128;

/// The header as an operation parameter, for the operations that honour it.
#[derive(IntoParams)]
#[into_params(names("Idempotency-Key"), parameter_in = Header)]
pub struct IdempotencyKey(
    /// 1 to 128 visible ASCII characters, unique per request you mean; a repeat with the same key and
    /// request gets the first answer (`Idempotent-Replayed: true`), with another request 422.
    /// A repeat is authorized again first: a caller no longer allowed (a revoked delegation)
    /// gets the refusal a fresh request would get.
    #[param(min_length = 1, max_length = 128, pattern = r"^[!-~]([\t -~]*[!-~])?$")]
    #[allow(dead_code)]
    Option<String>,
);

/// A creating request's key, whose it is, and the fingerprint of what it asks for.
#[derive(Clone)]
pub struct Idempotency {
    account: AccountId,
    key: String,
    fingerprint: String,
    /// Set when the answer holds a secret: it is stored encrypted with this.
    seal: Option<Arc<PiiCipher>>,
}

/// Whose key it is: the account that sent it and the principal it acts for.
pub struct KeyOwner {
    account: AccountId,
    principal: AccountId,
}

impl From<&Actor> for KeyOwner {
    fn from(actor: &Actor) -> KeyOwner {
        KeyOwner {
            account: actor.account,
            principal: actor.principal(),
        }
    }
}

impl From<&Caller> for KeyOwner {
    fn from(caller: &Caller) -> KeyOwner {
        KeyOwner {
            account: caller.account(),
            principal: caller.principal(),
        }
    }
}

impl Idempotency {
    /// The key `owner` sent with `req`, if any; keys are the caller's own. The fingerprint
    /// covers the method, path, query, principal and `body`: the same key reused on
    /// another resource, for another principal or with other content is another request.
    pub fn of(
        req: &HttpRequest,
        owner: impl Into<KeyOwner>,
        body: &impl Serialize,
    ) -> Result<Option<Self>, ApiError> {
        let owner = owner.into();
        let Some(value) = req.headers().get(HEADER) else {
            return Ok(None);
        };
        let key = value
            .to_str()
            .map_err(|_| ApiError::bad_request("bad_idempotency_key", "Idempotency-Key must be ASCII."))?;
        if key.is_empty() || key.len() > MAX_LENGTH {
            return Err(ApiError::bad_request(
                "bad_idempotency_key",
                "Idempotency-Key is 1 to 128 characters.",
            ));
        }
        let principal = owner.principal.to_string();
        let body = serde_json::to_vec(body).map_err(ApiError::internal)?;
        let mut hash = Sha256::new();
        for part in [
            req.method().as_str().as_bytes(),
            req.path().as_bytes(),
            req.query_string().as_bytes(),
            principal.as_bytes(),
            &body,
        ] {
            // Length-prefixed, so no two different requests run together into one input.
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        Ok(Some(Self {
            account: owner.account,
            key: key.to_string(),
            fingerprint: hex::encode(hash.finalize()),
            seal: None,
        }))
    }

    /// Keeps the answer encrypted: it holds a secret that must not rest in the clear.
    pub fn sealed(self, cipher: Arc<PiiCipher>) -> Self {
        Self {
            seal: Some(cipher),
            ..self
        }
    }

    /// Bound into the ciphertext, so a sealed answer moved to another key fails to open.
    fn field(&self) -> String {
        format!("idempotency:{}:{}", self.account, self.key)
    }

    fn seal(&self, body: &str) -> String {
        match &self.seal {
            Some(cipher) => cipher.encrypt(&self.field(), body),
            None => body.to_string(),
        }
    }

    fn open(&self, stored: String) -> Result<String, ApiError> {
        match &self.seal {
            Some(cipher) => cipher.decrypt(&self.field(), &stored).map_err(ApiError::internal),
            None => Ok(stored),
        }
    }
}

/// What a create answers: status, `ETag`, `Location` and body, kept whole for repeats.
#[derive(Debug)]
pub struct Answer {
    status: StatusCode,
    etag: Option<String>,
    location: Option<String>,
    body: String,
    replayed: bool,
}

impl Answer {
    pub fn created(body: &impl Serialize) -> Result<Self, ApiError> {
        Self::new(StatusCode::CREATED, body)
    }

    /// Accepted but held (for a confirmation, say): a repeat must not hold it twice.
    pub fn accepted(body: &impl Serialize) -> Result<Self, ApiError> {
        Self::new(StatusCode::ACCEPTED, body)
    }

    fn new(status: StatusCode, body: &impl Serialize) -> Result<Self, ApiError> {
        Ok(Self {
            status,
            etag: None,
            location: None,
            body: serde_json::to_string(body).map_err(ApiError::internal)?,
            replayed: false,
        })
    }

    pub fn version(mut self, version: i64) -> Self {
        self.etag = Some(etag(version));
        self
    }

    pub fn location(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }

    /// The body as first answered, for a replay's re-check to read what was created.
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn respond(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, "application/json"));
        if let Some(etag) = self.etag {
            response.insert_header((header::ETAG, etag));
        }
        if let Some(location) = self.location {
            response.insert_header((header::LOCATION, location));
        }
        if self.replayed {
            response.insert_header((REPLAYED, "true"));
        }
        response.body(self.body)
    }
}

/// The first answer to `key`, if it was seen before (422 when it came with another
/// request) and `recheck` still allows the caller it. A use case whose first step must
/// not run again on a replay (spending a one-time code) asks this before it.
pub fn replayed(
    conn: &mut DbConnection,
    key: Option<&Idempotency>,
    recheck: impl FnOnce(&mut DbConnection, &Answer) -> Result<(), ApiError>,
) -> Result<Option<Answer>, ApiError> {
    let Some(first) = first_answer(conn, key)? else {
        return Ok(None);
    };
    recheck(conn, &first)?;
    Ok(Some(first))
}

/// The first answer to `key`, if any, before any re-check.
fn first_answer(conn: &mut DbConnection, key: Option<&Idempotency>) -> Result<Option<Answer>, ApiError> {
    let Some(key) = key else {
        return Ok(None);
    };
    let Some(first) = store::find(conn, key.account, &key.key)? else {
        return Ok(None);
    };
    if first.request_hash != key.fingerprint {
        return Err(ApiError::field(
            HEADER,
            "idempotency_key_reused",
            "This key was used with another request; use a new key for a new request.",
        ));
    }
    Ok(Some(Answer {
        status: StatusCode::from_u16(first.status).unwrap_or(StatusCode::OK),
        etag: first.etag,
        location: first.location,
        body: key.open(first.body)?,
        replayed: true,
    }))
}

/// Creates once per key, inside the use case's transaction: without a key `create` simply
/// runs; with a key seen before, the first answer comes back with no effects (or 422 for
/// another request) once `recheck` allows the caller it still; with a new key, `create`
/// runs and its answer is kept. `recheck` asks the core what a fresh request would be
/// asked first (may this caller, now, act here and see what was created), so a replay after
/// a revocation gets the fresh request's refusal.
pub fn once(
    tx: &mut DbConnection,
    key: Option<&Idempotency>,
    now: Instant,
    recheck: impl FnOnce(&mut DbConnection, &Answer) -> Result<(), ApiError>,
    create: impl FnOnce(&mut DbConnection) -> Result<Outcome<Answer>, ApiError>,
) -> Result<Outcome<Answer>, ApiError> {
    let Some(key) = key else {
        return create(tx);
    };
    if let Some(first) = replayed(tx, Some(key), recheck)? {
        return Ok(Outcome::quiet(first));
    }
    let outcome = create(tx)?;
    let answer = &outcome.value;
    let recorded = Recorded {
        request_hash: key.fingerprint.clone(),
        status: answer.status.as_u16(),
        body: key.seal(&answer.body),
        etag: answer.etag.clone(),
        location: answer.location.clone(),
    };
    match store::record(tx, key.account, &key.key, &recorded, now) {
        Ok(()) => Ok(outcome),
        // The same key raced in from a second connection and committed first; this
        // transaction rolls back, and the client's next retry gets the first answer.
        Err(e) if e.is_unique_violation() => Err(ApiError::conflict(
            "idempotency_key_in_use",
            "A request with this Idempotency-Key was being handled at the same time; retry it.",
        )),
        Err(e) => Err(e.into()),
    }
}
