//! The limits that bound what one request may ask of a repository, each set by a `[vars]`
//! entry of `wrangler.toml` and defaulting to what the platform or git makes sensible.

/// How far a request may go before it is refused, naming the limit it met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `MAX_PUSH_BYTES`: the largest receive-pack request body.
    pub push_bytes: u64,
    /// `MAX_OBJECT_BYTES`: the largest object a push may hold, whole or as a delta's result.
    pub object_bytes: u64,
    /// `MAX_PUSH_REFS`: ref updates in one push.
    pub push_refs: usize,
    /// `MAX_WANTS`: distinct `want` lines in one upload-pack request.
    pub wants: usize,
    /// `MAX_HAVES`: distinct `have` lines in one upload-pack request.
    pub haves: usize,
    /// `MAX_PUSH_LINKS`: the links (a tree's entries, a commit's tree and parents, a tag's
    /// target) a push may record for its connectivity check, 21 bytes each; a hostile pack
    /// of deltas that rebuild large trees would otherwise store them without end.
    pub push_links: u64,
    /// `PUSH_ENTRIES_IN_MEMORY`: the objects of a push whose entries indexing holds in
    /// memory (about 60 bytes each) instead of writing a row for each; a larger push
    /// writes them all to rows.
    pub held_entries: usize,
    /// `PRUNE_GRACE_SECONDS`: how long maintenance keeps an object no ref reaches before it
    /// drops it (0: at the next maintenance).
    pub prune_grace: u64,
    /// `MAINTENANCE_QUIET_SECONDS`: how long after the last push maintenance repacks what
    /// changed.
    pub maintenance_quiet: u64,
    /// `RETIRED_SWEEP_SECONDS`: how long what a repack replaced is still served to readers
    /// that listed it before maintenance deletes it.
    pub retired_sweep: u64,
    /// `MAX_LFS_OBJECT_BYTES`: the largest Git LFS object taken through the Worker (an
    /// upload is one request body, so the plan's body limit bounds it).
    pub lfs_object_bytes: u64,
    /// `LFS_GRANT_SECONDS`: how long the grants (and presigned URLs) of a Git LFS batch
    /// answer last (at most a week, as SigV4 allows).
    pub lfs_grant_seconds: u64,
    /// `MIRROR_MIN_INTERVAL_SECONDS`: the shortest interval a mirror may fetch again at
    /// (each fetch wakes the object and reads its refs).
    pub mirror_min_interval: u64,
    /// `WEBHOOK_RETRY_SECONDS`: how long after a failed delivery a webhook's event is sent
    /// again (doubling with each attempt, up to an hour, for a day).
    pub webhook_retry: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Cloudflare's request body limit on the Free and Pro plans.
            push_bytes: 100 << 20,
            // Objects stream in bounded memory whatever their size; this bounds the CPU
            // time of building one (hashing, and deflating it again for a fetch), well
            // within the 5 minutes a request may take.
            object_bytes: 256 << 20,
            push_refs: 10_000,
            wants: 100_000,
            haves: 100_000,
            // git/git's whole history records 1,184,246; this is 336 MiB of pages.
            push_links: 1 << 24,
            held_entries: crate::index_pack::HELD_ENTRIES,
            // git's `gc.pruneExpire`: two weeks.
            prune_grace: crate::maintenance::GRACE as u64,
            maintenance_quiet: crate::maintenance::QUIET as u64,
            retired_sweep: crate::maintenance::READER_GRACE as u64,
            lfs_object_bytes: crate::lfs::DEFAULT_MAX_OBJECT_BYTES,
            lfs_grant_seconds: crate::lfs::grant::LIFETIME as u64,
            mirror_min_interval: 60,
            webhook_retry: 10,
        }
    }
}

impl Limits {
    /// When maintenance's timed jobs come, as these variables set them.
    pub fn timing(&self) -> crate::maintenance::Timing {
        let seconds = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        crate::maintenance::Timing {
            quiet: seconds(self.maintenance_quiet),
            grace: seconds(self.prune_grace),
            sweep: seconds(self.retired_sweep),
        }
    }
}

/// A request that goes past one of the [`Limits`]: the message names the limit and the
/// variable that sets it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what}: over the limit of {limit} ({var})")]
pub struct OverLimit {
    /// What went over, e.g. "too many wants".
    pub what: String,
    /// The limit.
    pub limit: u64,
    /// The `[vars]` entry that sets it.
    pub var: &'static str,
}

/// A `[vars]` entry that is not a whole number.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{name} must be a whole number, not {value:?}")]
pub struct BadLimit {
    /// The variable.
    pub name: &'static str,
    /// What it was set to.
    pub value: String,
}

impl Limits {
    /// Refuses `count` items of a kind limited to `limit` by `var`.
    pub fn check(
        count: usize,
        limit: usize,
        what: &str,
        var: &'static str,
    ) -> Result<(), OverLimit> {
        match count > limit {
            true => Err(OverLimit {
                what: what.to_string(),
                limit: limit as u64,
                var,
            }),
            false => Ok(()),
        }
    }

    /// The limits from the Worker's variables, as `var` reads them; unset ones keep their
    /// defaults.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Limits, BadLimit> {
        let mut limits = Limits::default();
        let read = |name: &'static str, into: &mut u64| -> Result<(), BadLimit> {
            if let Some(value) = var(name) {
                *into = value.trim().parse().map_err(|_| BadLimit { name, value })?;
            }
            Ok(())
        };
        read("MAX_PUSH_BYTES", &mut limits.push_bytes)?;
        read("MAX_OBJECT_BYTES", &mut limits.object_bytes)?;
        read("PRUNE_GRACE_SECONDS", &mut limits.prune_grace)?;
        read("MAINTENANCE_QUIET_SECONDS", &mut limits.maintenance_quiet)?;
        read("RETIRED_SWEEP_SECONDS", &mut limits.retired_sweep)?;
        read("MAX_PUSH_LINKS", &mut limits.push_links)?;
        read("MAX_LFS_OBJECT_BYTES", &mut limits.lfs_object_bytes)?;
        read("LFS_GRANT_SECONDS", &mut limits.lfs_grant_seconds)?;
        read(
            "MIRROR_MIN_INTERVAL_SECONDS",
            &mut limits.mirror_min_interval,
        )?;
        read("WEBHOOK_RETRY_SECONDS", &mut limits.webhook_retry)?;
        for (name, field) in [
            ("MAX_PUSH_REFS", &mut limits.push_refs),
            ("MAX_WANTS", &mut limits.wants),
            ("MAX_HAVES", &mut limits.haves),
            ("PUSH_ENTRIES_IN_MEMORY", &mut limits.held_entries),
        ] {
            let mut value = *field as u64;
            read(name, &mut value)?;
            *field = usize::try_from(value).unwrap_or(usize::MAX);
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_override_the_defaults_and_bad_ones_are_named() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Limits::from_vars(vars(&[])), Ok(Limits::default()));
        let set = Limits::from_vars(vars(&[
            ("MAX_PUSH_BYTES", "1000"),
            ("MAX_OBJECT_BYTES", " 2000 "),
            ("MAX_PUSH_REFS", "3"),
            ("PRUNE_GRACE_SECONDS", "0"),
            ("MAINTENANCE_QUIET_SECONDS", "6"),
            ("RETIRED_SWEEP_SECONDS", "7"),
            ("MAX_WANTS", "4"),
            ("MAX_HAVES", "5"),
            ("PUSH_ENTRIES_IN_MEMORY", "8"),
            ("MAX_PUSH_LINKS", "9"),
            ("MAX_LFS_OBJECT_BYTES", "10"),
            ("LFS_GRANT_SECONDS", "11"),
            ("MIRROR_MIN_INTERVAL_SECONDS", "12"),
            ("WEBHOOK_RETRY_SECONDS", "13"),
        ]));
        assert_eq!(
            set,
            Ok(Limits {
                push_bytes: 1000,
                object_bytes: 2000,
                push_refs: 3,
                prune_grace: 0,
                maintenance_quiet: 6,
                retired_sweep: 7,
                wants: 4,
                haves: 5,
                held_entries: 8,
                push_links: 9,
                lfs_object_bytes: 10,
                lfs_grant_seconds: 11,
                mirror_min_interval: 12,
                webhook_retry: 13,
            })
        );
        assert_eq!(
            Limits::from_vars(vars(&[("MAX_WANTS", "lots")]))
                .unwrap_err()
                .to_string(),
            "MAX_WANTS must be a whole number, not \"lots\""
        );
        assert_eq!(
            Limits::default(),
            Limits {
                push_bytes: 104_857_600,
                object_bytes: 268_435_456,
                push_refs: 10_000,
                wants: 100_000,
                haves: 100_000,
                held_entries: 524_288,
                push_links: 16_777_216,
                prune_grace: 1_209_600,
                maintenance_quiet: 600,
                retired_sweep: 3600,
                lfs_object_bytes: 104_857_600,
                mirror_min_interval: 60,
                webhook_retry: 10,
                lfs_grant_seconds: 3600,
            }
        );
    }
}
