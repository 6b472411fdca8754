//! pkt-line decoding: any bytes decode into packets or an error, and every packet's length
//! is what it occupies.
#![no_main]

use git_on_durable_objects::format::pktline::{self, Pkt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut pos = 0;
    while let Ok(Some((packet, len))) = pktline::decode(&data[pos..]) {
        assert!(len >= 4 && pos + len <= data.len());
        if let Pkt::Data(payload) = packet {
            assert_eq!(payload.len(), len - 4);
        }
        pos += len;
    }
});
