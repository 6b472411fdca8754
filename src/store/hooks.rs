//! Webhooks' rows: the hooks, and their deliveries waiting or done.

use super::{row_int, Store, StoreError};
use crate::hooks::Hook;
use crate::store::sql::{Sql, Value};

/// A delivery as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRow {
    /// Its id (`X-GitHub-Delivery`).
    pub id: String,
    /// The hook's id.
    pub hook: String,
    /// The event's name.
    pub event: String,
    /// Its body's row in `hook_events`.
    pub body: i64,
    /// When it was queued (seconds since the epoch).
    pub created: i64,
    /// When it is due, if it still is.
    pub next_at: Option<i64>,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// The attempts so far, as a JSON array.
    pub attempts: String,
}

/// Ended deliveries kept per hook.
const KEPT: i64 = 100;

const DELIVERY_COLUMNS: &str = "id, hook, event, body, created, next_at, state, attempts";

fn text(value: &Value, what: &'static str) -> Result<String, StoreError> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or(StoreError::BadColumn(what))
}

fn delivery_row(row: &[Value]) -> Result<DeliveryRow, StoreError> {
    let column = |i: usize| row.get(i).ok_or(StoreError::BadColumn("delivery"));
    Ok(DeliveryRow {
        id: text(column(0)?, "delivery id")?,
        hook: text(column(1)?, "delivery hook")?,
        event: text(column(2)?, "delivery event")?,
        body: row_int(column(3)?)?,
        created: row_int(column(4)?)?,
        next_at: column(5)?.as_i64(),
        state: text(column(6)?, "delivery state")?,
        attempts: text(column(7)?, "delivery attempts")?,
    })
}

impl<S: Sql> Store<S> {
    /// Every hook, oldest first.
    pub fn hooks(&self) -> Result<Vec<Hook>, StoreError> {
        let rows = self.exec(
            "SELECT id, url, secret, events, created, dropped FROM hooks ORDER BY created, id",
            vec![],
        )?;
        rows.iter()
            .map(|row| {
                let column = |i: usize| row.get(i).ok_or(StoreError::BadColumn("hook"));
                Ok(Hook {
                    id: text(column(0)?, "hook id")?,
                    url: text(column(1)?, "hook url")?,
                    secret: column(2)?.as_str().map(str::to_string),
                    events: serde_json::from_str(&text(column(3)?, "hook events")?)
                        .map_err(|_| StoreError::BadColumn("hook events"))?,
                    created: row_int(column(4)?)?,
                    dropped: column(5)?.as_i64().unwrap_or(0),
                })
            })
            .collect()
    }

    /// Counts `events` not queued for `hook`, which had no room for them.
    pub fn count_dropped(&self, hook: &str, events: usize) -> Result<(), StoreError> {
        self.exec(
            "UPDATE hooks SET dropped = COALESCE(dropped, 0) + ? WHERE id = ?",
            vec![(events as i64).into(), hook.into()],
        )?;
        Ok(())
    }

    /// Stores a new hook.
    pub fn add_hook(&self, hook: &Hook) -> Result<(), StoreError> {
        let events = serde_json::to_string(&hook.events).unwrap_or_default();
        self.exec(
            "INSERT INTO hooks (id, url, secret, events, created) VALUES (?, ?, ?, ?, ?)",
            vec![
                hook.id.as_str().into(),
                hook.url.as_str().into(),
                hook.secret.clone().map_or(Value::Null, Value::Text),
                events.into(),
                hook.created.into(),
            ],
        )?;
        Ok(())
    }

    /// Deletes a hook and its deliveries; false if there was none with this id.
    pub fn delete_hook(&self, id: &str) -> Result<bool, StoreError> {
        self.transaction(|| {
            let gone = self.exec(
                "DELETE FROM deliveries WHERE hook = ? RETURNING body",
                vec![id.into()],
            )?;
            self.forget_bodies(&gone)?;
            let rows = self.exec(
                "DELETE FROM hooks WHERE id = ? RETURNING id",
                vec![id.into()],
            )?;
            Ok(!rows.is_empty())
        })
    }

    /// Deletes the event bodies among `gone` (rows of one `body` column) that no delivery
    /// still needs.
    fn forget_bodies(&self, gone: &[Vec<Value>]) -> Result<(), StoreError> {
        let mut bodies: Vec<i64> = gone.iter().filter_map(|r| r.first()?.as_i64()).collect();
        bodies.sort_unstable();
        bodies.dedup();
        for body in bodies {
            self.exec(
                "DELETE FROM hook_events WHERE id = ?1 \
                 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE body = ?1)",
                vec![body.into()],
            )?;
        }
        Ok(())
    }

    /// A number not given to an event of this repository before.
    pub fn next_delivery_number(&self) -> Result<i64, StoreError> {
        let rows = self.exec(
            "INSERT INTO meta (key, value) VALUES ('delivery_seq', '1') \
             ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 \
             RETURNING CAST(value AS INTEGER)",
            vec![],
        )?;
        rows.first()
            .and_then(|r| r.first())
            .and_then(Value::as_i64)
            .ok_or(StoreError::BadColumn("delivery_seq"))
    }

    /// Keeps an event's body for its deliveries; its row id.
    pub fn add_event_body(&self, payload: &str) -> Result<i64, StoreError> {
        let rows = self.exec(
            "INSERT INTO hook_events (payload) VALUES (?) RETURNING id",
            vec![payload.into()],
        )?;
        rows.first()
            .and_then(|r| r.first())
            .and_then(Value::as_i64)
            .ok_or(StoreError::BadColumn("hook_events id"))
    }

    /// Queues a delivery of the event kept as `body`, due at once.
    pub fn add_delivery(
        &self,
        id: &str,
        hook: &str,
        event: &str,
        body: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO deliveries (id, hook, event, body, created, next_at, state) \
             VALUES (?, ?, ?, ?, ?, ?, 'pending')",
            vec![
                id.into(),
                hook.into(),
                event.into(),
                body.into(),
                now.into(),
                now.into(),
            ],
        )?;
        Ok(())
    }

    /// How many of `hook`'s deliveries are waiting to be sent.
    pub fn waiting_deliveries(&self, hook: &str) -> Result<i64, StoreError> {
        let rows = self.exec(
            "SELECT COUNT(*) FROM deliveries WHERE hook = ? AND next_at IS NOT NULL",
            vec![hook.into()],
        )?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_i64)
            .unwrap_or(0))
    }

    /// Up to `limit` deliveries due at `now`, the longest waiting first, each with its
    /// body.
    pub fn due_deliveries(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(DeliveryRow, String)>, StoreError> {
        let query = format!(
            "SELECT {DELIVERY_COLUMNS}, (SELECT payload FROM hook_events WHERE id = body) \
             FROM deliveries WHERE next_at IS NOT NULL AND next_at <= ? \
             ORDER BY next_at, created LIMIT ?"
        );
        let rows = self.exec(&query, vec![now.into(), limit.into()])?;
        rows.iter()
            .map(|row| {
                let payload = row.get(8).and_then(Value::as_str).unwrap_or_default();
                Ok((delivery_row(row)?, payload.to_string()))
            })
            .collect()
    }

    /// When the next delivery is due, if one is.
    pub fn next_delivery_at(&self) -> Result<Option<i64>, StoreError> {
        let rows = self.exec(
            "SELECT MIN(next_at) FROM deliveries WHERE next_at IS NOT NULL",
            vec![],
        )?;
        Ok(rows.first().and_then(|r| r.first()).and_then(Value::as_i64))
    }

    /// Records an attempt's outcome: the delivery's attempts, state and next time (None
    /// once it has ended, when only the hook's last ended deliveries are kept).
    pub fn record_delivery(
        &self,
        id: &str,
        attempts: &str,
        state: &str,
        next_at: Option<i64>,
    ) -> Result<(), StoreError> {
        self.transaction(|| {
            let rows = self.exec(
                "UPDATE deliveries SET attempts = ?, state = ?, next_at = ? WHERE id = ? RETURNING hook",
                vec![
                    attempts.into(),
                    state.into(),
                    next_at.map_or(Value::Null, Value::Integer),
                    id.into(),
                ],
            )?;
            let hook = rows.first().and_then(|r| r.first()).and_then(Value::as_str);
            if let (Some(hook), None) = (hook, next_at) {
                let gone = self.exec(
                    "DELETE FROM deliveries WHERE hook = ?1 AND next_at IS NULL AND id NOT IN \
                     (SELECT id FROM deliveries WHERE hook = ?1 AND next_at IS NULL \
                      ORDER BY created DESC, id DESC LIMIT ?2) RETURNING body",
                    vec![hook.into(), KEPT.into()],
                )?;
                self.forget_bodies(&gone)?;
            }
            Ok(())
        })
    }

    /// A hook's deliveries, newest first, at most `limit`.
    pub fn deliveries(&self, hook: &str, limit: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        let query = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE hook = ? \
             ORDER BY created DESC, id DESC LIMIT ?"
        );
        let rows = self.exec(&query, vec![hook.into(), limit.into()])?;
        rows.iter().map(|row| delivery_row(row)).collect()
    }
}
