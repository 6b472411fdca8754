//! Sending events: which are due, the headers and signature each is sent with (GitHub's
//! and Gitea's), and what an attempt's outcome makes of it: delivered on a 2xx, else tried
//! again after 10 s (`WEBHOOK_RETRY_SECONDS`), doubling up to an hour, for a day. The host
//! does the HTTP.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;

use super::Hook;
use crate::format::date::rfc3339_utc;
use crate::http::reply::Reply;
use crate::store::sql::Sql;
use crate::store::{DeliveryRow, Store, StoreError};
use crate::AGENT;

/// Deliveries one alarm sends at most; more are left for the next, set at once.
pub const PER_ALARM: i64 = 20;

/// How long a delivery is tried: a day.
const GIVE_UP: i64 = 86_400;

/// The longest wait between two attempts.
const MAX_WAIT: i64 = 3_600;

/// The bytes of a receiver's answer kept with an attempt.
const KEPT_ANSWER: usize = 1024;

/// Attempts kept per delivery (the first and the last ones).
const KEPT_ATTEMPTS: usize = 30;

/// The deliveries `GET api/hooks/<id>/deliveries` lists.
const LISTED: i64 = 100;

/// One attempt as kept and shown.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Attempt {
    /// When (RFC 3339).
    pub at: String,
    /// The receiver's HTTP status; None when it could not be reached.
    pub status: Option<u16>,
    /// The start of its answer, or why it could not be reached.
    pub answer: String,
}

/// A delivery to send now.
pub struct Sending {
    /// The stored row.
    pub row: DeliveryRow,
    /// The JSON body.
    pub payload: String,
    /// Where to.
    pub url: String,
    /// The headers to send with the payload.
    pub headers: Vec<(&'static str, String)>,
}

/// The deliveries due at `now`, with their hooks' URLs and headers.
pub fn due<S: Sql>(store: &Store<S>, now: i64) -> Result<Vec<Sending>, StoreError> {
    let rows = store.due_deliveries(now, PER_ALARM)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let hooks = store.hooks()?;
    Ok(rows
        .into_iter()
        .filter_map(|(row, payload)| {
            let hook = hooks.iter().find(|h| h.id == row.hook)?;
            Some(Sending {
                url: hook.url.clone(),
                headers: headers(hook, &row, &payload),
                row,
                payload,
            })
        })
        .collect())
}

/// HMAC-SHA256 of `body` under `secret`: `X-Hub-Signature-256` carries it in hex after
/// `sha256=`, `X-Gitea-Signature` in hex alone.
fn hmac(secret: &str, body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn headers(hook: &Hook, row: &DeliveryRow, payload: &str) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("Content-Type", "application/json".to_string()),
        ("User-Agent", format!("GitHub-Hookshot/{AGENT}")),
        ("X-GitHub-Event", row.event.clone()),
        ("X-GitHub-Delivery", row.id.clone()),
        ("X-GitHub-Hook-ID", hook.id.clone()),
        ("X-Gitea-Event", row.event.clone()),
        ("X-Gitea-Delivery", row.id.clone()),
    ];
    if let Some(secret) = &hook.secret {
        let mac = hex::encode(hmac(secret, payload.as_bytes()));
        headers.push(("X-Hub-Signature-256", format!("sha256={mac}")));
        headers.push(("X-Gitea-Signature", mac));
    }
    headers
}

/// Records what sending `row` at `now` came to: `status` (None: unreachable) and the
/// start of the answer. A 2xx delivers it; otherwise it is due again after `retry`
/// seconds doubled for each attempt before (an hour at most), until a day has passed.
pub fn attempted<S: Sql>(
    store: &Store<S>,
    row: &DeliveryRow,
    now: i64,
    status: Option<u16>,
    answer: &str,
    retry: i64,
) -> Result<(), StoreError> {
    let mut attempts: Vec<Attempt> = serde_json::from_str(&row.attempts).unwrap_or_default();
    let mut kept = answer.to_string();
    if kept.len() > KEPT_ANSWER {
        let mut end = KEPT_ANSWER;
        while !kept.is_char_boundary(end) {
            end -= 1;
        }
        kept.truncate(end);
    }
    attempts.push(Attempt {
        at: rfc3339_utc(now),
        status,
        answer: kept,
    });
    if attempts.len() > KEPT_ATTEMPTS {
        attempts.remove(1);
    }
    let delivered = status.is_some_and(|s| (200..300).contains(&s));
    let tries = u32::try_from(attempts.len()).unwrap_or(u32::MAX);
    let wait = retry
        .max(1)
        .saturating_mul(
            1i64.checked_shl(tries.saturating_sub(1).min(30))
                .unwrap_or(i64::MAX),
        )
        .min(MAX_WAIT);
    let (state, next_at) = match delivered {
        true => ("delivered", None),
        false if now + wait - row.created > GIVE_UP => ("failed", None),
        false => ("pending", Some(now + wait)),
    };
    let attempts = serde_json::to_string(&attempts).unwrap_or_default();
    store.record_delivery(&row.id, &attempts, state, next_at)
}

/// `GET api/hooks/<id>/deliveries`: the hook's last deliveries, newest first.
pub fn list<S: Sql>(store: &Store<S>, hook: &str) -> Result<Reply, StoreError> {
    if !store.hooks()?.iter().any(|h| h.id == hook) {
        return Ok(Reply::json_error(404, "no such hook"));
    }
    let rows = store.deliveries(hook, LISTED)?;
    let deliveries: Vec<_> = rows
        .iter()
        .map(|row| {
            let attempts: Vec<Attempt> = serde_json::from_str(&row.attempts).unwrap_or_default();
            json!({
                "id": row.id,
                "event": row.event,
                "created": rfc3339_utc(row.created),
                "state": row.state,
                "next_attempt": row.next_at.map(rfc3339_utc),
                "attempts": attempts,
            })
        })
        .collect();
    Ok(Reply::json(200, &json!({ "deliveries": deliveries })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_github_documents() {
        // The example of GitHub's "Validating webhook deliveries".
        assert_eq!(
            hex::encode(hmac("It's a Secret to Everybody", b"Hello, World!")),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }
}
