//! Deltas: the first two bytes give the base's length, the rest is base then delta. A delta
//! applies to exactly its declared result size, or is refused; fed in pieces (of a size the
//! input picks) it applies, or is refused, exactly as it does whole. Read as a target
//! instead, the same bytes get a delta from the base (diff_delta) that rebuilds them.
#![no_main]

use git_on_durable_objects::format::{delta, diff_delta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let split = (u16::from_le_bytes(*len) as usize).min(rest.len());
    let (base, delta) = rest.split_at(split);
    if let Ok((_, result_size)) = delta::sizes(delta) {
        // What the server would refuse before applying (MAX_OBJECT_BYTES).
        if result_size > 1 << 24 {
            return;
        }
    }
    let whole = delta::apply(base, delta);
    if let Ok(result) = &whole {
        let (base_size, result_size) = delta::sizes(delta).unwrap();
        assert_eq!(
            (base_size, result_size),
            (base.len() as u64, result.len() as u64)
        );
    }
    assert_eq!(
        delta::apply_in_pieces(base, delta, 1 + data.len() % 13),
        whole
    );
    let target = delta;
    let made = diff_delta::encode(base, target, usize::MAX).expect("no limit to pass");
    assert_eq!(delta::apply(base, &made).as_deref(), Ok(target));
});
