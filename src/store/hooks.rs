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
    /// The JSON body.
    pub payload: String,
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

const DELIVERY_COLUMNS: &str = "id, hook, event, payload, created, next_at, state, attempts";

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
        payload: text(column(3)?, "delivery payload")?,
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
            "SELECT id, url, secret, events, created FROM hooks ORDER BY created, id",
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
                })
            })
            .collect()
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
            self.exec("DELETE FROM deliveries WHERE hook = ?", vec![id.into()])?;
            let rows = self.exec(
                "DELETE FROM hooks WHERE id = ? RETURNING id",
                vec![id.into()],
            )?;
            Ok(!rows.is_empty())
        })
    }

    /// A number not given to a delivery of this repository before.
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

    /// Queues a delivery, due at once.
    pub fn add_delivery(
        &self,
        id: &str,
        hook: &str,
        event: &str,
        payload: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO deliveries (id, hook, event, payload, created, next_at, state) \
             VALUES (?, ?, ?, ?, ?, ?, 'pending')",
            vec![
                id.into(),
                hook.into(),
                event.into(),
                payload.into(),
                now.into(),
                now.into(),
            ],
        )?;
        Ok(())
    }

    /// Up to `limit` deliveries due at `now`, the longest waiting first.
    pub fn due_deliveries(&self, now: i64, limit: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        let query = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE next_at IS NOT NULL AND next_at <= ? \
             ORDER BY next_at, created LIMIT ?"
        );
        let rows = self.exec(&query, vec![now.into(), limit.into()])?;
        rows.iter().map(|row| delivery_row(row)).collect()
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
            self.exec(
                "DELETE FROM deliveries WHERE hook = ?1 AND next_at IS NULL AND id NOT IN \
                 (SELECT id FROM deliveries WHERE hook = ?1 AND next_at IS NULL \
                  ORDER BY created DESC, id DESC LIMIT ?2)",
                vec![hook.into(), KEPT.into()],
            )?;
        }
        Ok(())
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
