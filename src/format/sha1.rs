//! SHA-1 as git uses it to name objects and to seal packs and indexes: computed here (the
//! `sha1` crate), or for long inputs by an engine the host installs. Under workerd the
//! runtime's own digest runs about four times faster than the same code compiled to wasm
//! (1.5 GB/s against 0.33 measured), which matters because a push hashes every byte of every
//! object it carries (8 GB for git/git's history); but each call into the runtime costs a few
//! microseconds, so short inputs stay here.

use std::cell::Cell;
use std::sync::OnceLock;

use sha1::Digest;

/// Inputs of at least this many bytes go to the installed engine: below it, the calls into
/// the runtime (about 5 µs an input, measured under workerd) cost more than hashing here.
pub const ENGINE_FROM: u64 = 4096;

/// Bytes gathered before they are handed to the engine in one call: a delta's result comes
/// in pieces as small as a copy instruction.
const BATCH: usize = 64 * 1024;

/// A SHA-1 computed outside this crate, fed in batches.
pub trait Engine {
    /// Hashes `bytes` after what came before.
    fn update(&mut self, bytes: &[u8]);
    /// The digest of everything hashed.
    fn finish(self: Box<Self>) -> [u8; 20];
}

/// Makes a fresh [`Engine`].
pub type MakeEngine = fn() -> Box<dyn Engine>;

static ENGINE: OnceLock<MakeEngine> = OnceLock::new();

thread_local! {
    /// A batch buffer given back by a finished SHA-1, for the next to take: a push hashes
    /// hundreds of thousands of long objects, and a buffer made and freed for each, between
    /// the objects kept as delta bases, would leave holes in wasm memory, which never
    /// shrinks.
    static SPARE: Cell<Option<Vec<u8>>> = const { Cell::new(None) };
}

/// An empty batch buffer: the spare one, or a new one.
fn take_batch() -> Vec<u8> {
    SPARE.take().unwrap_or_else(|| Vec::with_capacity(BATCH))
}

/// Gives `batch` back for the next SHA-1 to take.
fn give_back(mut batch: Vec<u8>) {
    batch.clear();
    SPARE.set(Some(batch));
}

/// Installs the engine that long inputs are hashed with, for the rest of the process (the
/// host does as it starts; a second call changes nothing).
pub fn install(make: MakeEngine) {
    let _ = ENGINE.set(make);
}

/// A SHA-1 in progress.
pub struct Sha1(Inner);

/// An empty SHA-1 computed here: what `std::mem::take` leaves behind a finished one.
impl Default for Sha1 {
    fn default() -> Sha1 {
        Sha1::choosing(0, None)
    }
}

enum Inner {
    Here(sha1::Sha1),
    Engine {
        engine: Box<dyn Engine>,
        batch: Vec<u8>,
    },
}

impl Sha1 {
    /// A SHA-1 of an input of `len` bytes: the engine's, when one is installed and the
    /// input is long.
    pub fn for_len(len: u64) -> Sha1 {
        Sha1::choosing(len, ENGINE.get().copied())
    }

    /// A SHA-1 of a long input whose length is not known yet: a pack, an index.
    pub fn long() -> Sha1 {
        Sha1::for_len(u64::MAX)
    }

    fn choosing(len: u64, make: Option<MakeEngine>) -> Sha1 {
        match make {
            Some(make) if len >= ENGINE_FROM => Sha1(Inner::Engine {
                engine: make(),
                batch: take_batch(),
            }),
            _ => Sha1(Inner::Here(sha1::Sha1::new())),
        }
    }

    /// Hashes `bytes` after what came before.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.0 {
            Inner::Here(sha) => sha.update(bytes),
            Inner::Engine { engine, batch } => {
                if batch.len() + bytes.len() > BATCH && !batch.is_empty() {
                    engine.update(batch);
                    batch.clear();
                }
                if bytes.len() >= BATCH {
                    engine.update(bytes);
                } else {
                    batch.extend_from_slice(bytes);
                }
            }
        }
    }

    /// The digest of everything hashed.
    pub fn finish(self) -> [u8; 20] {
        match self.0 {
            Inner::Here(sha) => sha.finalize().into(),
            Inner::Engine { mut engine, batch } => {
                if !batch.is_empty() {
                    engine.update(&batch);
                }
                give_back(batch);
                engine.finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    thread_local! {
        /// The length of each call the test engine took, in order.
        static CALLS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    }

    /// The crate's SHA-1 behind the engine's interface, noting each call.
    struct Recording(sha1::Sha1);

    impl Engine for Recording {
        fn update(&mut self, bytes: &[u8]) {
            CALLS.with(|c| c.borrow_mut().push(bytes.len()));
            self.0.update(bytes);
        }
        fn finish(self: Box<Self>) -> [u8; 20] {
            self.0.finalize().into()
        }
    }

    fn recording() -> Box<dyn Engine> {
        Box::new(Recording(sha1::Sha1::new()))
    }

    /// Hashes `pieces` through a hasher chosen for their length, returning the digest and
    /// the engine's calls.
    fn hash(pieces: &[&[u8]]) -> ([u8; 20], Vec<usize>) {
        CALLS.with(|c| c.borrow_mut().clear());
        let len = pieces.iter().map(|p| p.len() as u64).sum();
        let mut sha = Sha1::choosing(len, Some(recording));
        for piece in pieces {
            sha.update(piece);
        }
        (sha.finish(), CALLS.with(|c| c.borrow().clone()))
    }

    #[test]
    fn short_inputs_stay_here_and_long_ones_go_to_the_engine_in_batches() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let want = |bytes: &[u8]| -> [u8; 20] { sha1::Sha1::digest(bytes).into() };
        let short = &data[..ENGINE_FROM as usize - 1];
        assert_eq!(hash(&[short]), (want(short), vec![]));
        // Small pieces gather into batches of at most BATCH bytes; a piece of BATCH bytes
        // or more goes alone, after what was gathered.
        let pieces: Vec<&[u8]> = std::iter::once(&data[..10])
            .chain(data[10..100_010].chunks(7))
            .chain([&data[100_010..200_000], &data[200_000..]])
            .collect();
        let (digest, calls) = hash(&pieces);
        assert_eq!(digest, want(&data));
        assert_eq!(calls.iter().sum::<usize>(), data.len());
        assert!(calls.iter().all(|&c| c > 0));
        assert_eq!(calls[0], 65_530, "{calls:?}");
        assert!(calls[..calls.len() - 1]
            .iter()
            .all(|&c| c <= BATCH || c == 99_990));
        let long = &data[..ENGINE_FROM as usize];
        assert_eq!(hash(&[long]), (want(long), vec![long.len()]));
        // A batch filled exactly goes when the next byte comes; each hasher takes the spare
        // buffer the last gave back, empty.
        for _ in 0..2 {
            let (whole, one) = (&data[..BATCH], &data[BATCH..=BATCH]);
            assert_eq!(
                hash(&[&whole[..10], &whole[10..], one]),
                (want(&data[..=BATCH]), vec![BATCH, 1])
            );
        }
    }

    #[test]
    fn without_an_engine_every_input_is_hashed_here() {
        let data = vec![7u8; 100_000];
        let mut sha = Sha1::choosing(data.len() as u64, None);
        sha.update(&data);
        assert_eq!(sha.finish(), <[u8; 20]>::from(sha1::Sha1::digest(&data)));
    }
}
