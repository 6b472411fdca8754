//! Readers in flight: a response that streams stored bytes holds a lease from the moment it
//! chose what to read until its last byte, so that what a repack retires meanwhile is not
//! deleted under it. Leases live in memory, as the streams do: when the object restarts,
//! no stream survives and no lease is left.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::Store;
use crate::store::sql::Sql;

/// The start times (seconds) of the readers in flight, each with how many started then.
#[derive(Clone, Debug, Default)]
pub(super) struct Readers(Rc<RefCell<BTreeMap<i64, usize>>>);

/// A reader in flight; dropping it ends the lease.
#[derive(Debug)]
pub struct ReadLease {
    readers: Readers,
    since: i64,
}

impl Drop for ReadLease {
    fn drop(&mut self) {
        let mut started = self.readers.0.borrow_mut();
        if let Some(count) = started.get_mut(&self.since) {
            *count -= 1;
            if *count == 0 {
                started.remove(&self.since);
            }
        }
    }
}

impl<S: Sql> Store<S> {
    /// Starts a lease for a reader that begins at `now` (seconds since the epoch): nothing
    /// retired at or after `now` is deleted while it is held.
    pub fn begin_read(&self, now: i64) -> ReadLease {
        *self.readers.0.borrow_mut().entry(now).or_default() += 1;
        ReadLease {
            readers: self.readers.clone(),
            since: now,
        }
    }

    /// When the oldest reader in flight began, if any is.
    pub fn oldest_reader(&self) -> Option<i64> {
        self.readers.0.borrow().keys().next().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct NoSql;
    impl Sql for NoSql {
        fn exec(
            &self,
            _: &str,
            _: Vec<crate::store::sql::Value>,
        ) -> Result<Vec<Vec<crate::store::sql::Value>>, crate::store::sql::SqlError> {
            Ok(vec![])
        }
        fn transaction(
            &self,
            _: &mut dyn FnMut() -> bool,
        ) -> Result<(), crate::store::sql::SqlError> {
            Ok(())
        }
        fn rows(&self) -> crate::store::sql::Rows {
            crate::store::sql::Rows::default()
        }
        fn counting(&self) -> Self {
            NoSql
        }
    }

    #[test]
    fn the_oldest_lease_held_is_seen_by_every_clone_of_the_store() {
        let store = Store::new(NoSql);
        let other = store.clone();
        assert_eq!(store.oldest_reader(), None);
        let late = store.begin_read(20);
        let early = other.begin_read(10);
        let early_too = store.begin_read(10);
        assert_eq!(other.oldest_reader(), Some(10));
        drop(early);
        assert_eq!(store.oldest_reader(), Some(10));
        drop(early_too);
        assert_eq!(store.oldest_reader(), Some(20));
        drop(late);
        assert_eq!(other.oldest_reader(), None);
    }
}
