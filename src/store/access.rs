//! Access control's rows: the repository's tokens (hashes only) and its settings.

use super::{row_int, Store, StoreError};
use crate::access::{Scope, Settings, TokenRecord, Visibility};
use crate::store::sql::{Sql, Value};

fn token_row(row: &[Value]) -> Result<TokenRecord, StoreError> {
    let text = |v: &Value| v.as_str().map(str::to_string);
    Ok(TokenRecord {
        id: text(&row[0]).ok_or(StoreError::BadColumn("token id"))?,
        hash: row[1]
            .as_bytes()
            .and_then(|b| b.try_into().ok())
            .ok_or(StoreError::BadColumn("token hash"))?,
        scope: row[2]
            .as_str()
            .and_then(Scope::parse)
            .ok_or(StoreError::BadColumn("token scope"))?,
        created: row_int(&row[3])?,
        expires: row[4].as_i64(),
    })
}

const TOKEN_COLUMNS: &str = "id, hash, scope, created, expires";

impl<S: Sql> Store<S> {
    /// The token with this id.
    pub fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let query = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?");
        let rows = self.exec(&query, vec![id.into()])?;
        rows.first().map(|row| token_row(row)).transpose()
    }

    /// Every token, oldest first.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let query = format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created, id");
        let rows = self.exec(&query, vec![])?;
        rows.iter().map(|row| token_row(row)).collect()
    }

    /// Stores a new token.
    pub fn add_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO tokens (id, hash, scope, created, expires) VALUES (?, ?, ?, ?, ?)",
            vec![
                token.id.as_str().into(),
                Value::Blob(token.hash.to_vec()),
                token.scope.as_str().into(),
                token.created.into(),
                token.expires.map_or(Value::Null, Value::Integer),
            ],
        )?;
        Ok(())
    }

    /// Revokes a token; false if there was none with this id.
    pub fn delete_token(&self, id: &str) -> Result<bool, StoreError> {
        let rows = self.exec(
            "DELETE FROM tokens WHERE id = ? RETURNING id",
            vec![id.into()],
        )?;
        Ok(!rows.is_empty())
    }

    /// Drops the tokens expired at `now`, so that they stop counting toward the limit.
    pub fn delete_expired_tokens(&self, now: i64) -> Result<(), StoreError> {
        self.exec("DELETE FROM tokens WHERE expires <= ?", vec![now.into()])?;
        Ok(())
    }

    /// The repository's settings (the defaults until they are changed).
    pub fn settings(&self) -> Result<Settings, StoreError> {
        let rows = self.exec(
            "SELECT key, value FROM meta WHERE key IN ('visibility', 'protect')",
            vec![],
        )?;
        let mut settings = Settings::default();
        for row in rows {
            let value = row[1].as_str().unwrap_or_default();
            match row[0].as_str() {
                Some("visibility") if value == "private" => {
                    settings.visibility = Visibility::Private
                }
                Some("protect") => {
                    settings.protect =
                        serde_json::from_str(value).map_err(|_| StoreError::BadColumn("protect"))?
                }
                _ => {}
            }
        }
        Ok(settings)
    }

    /// Replaces the repository's settings.
    pub fn set_settings(&self, settings: &Settings) -> Result<(), StoreError> {
        let visibility = match settings.visibility {
            Visibility::Public => "public",
            Visibility::Private => "private",
        };
        let protect = serde_json::to_string(&settings.protect)
            .map_err(|_| StoreError::BadColumn("protect"))?;
        for (key, value) in [("visibility", visibility.to_string()), ("protect", protect)] {
            self.exec(
                "INSERT INTO meta (key, value) VALUES (?, ?) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                vec![key.into(), value.into()],
            )?;
        }
        Ok(())
    }
}
