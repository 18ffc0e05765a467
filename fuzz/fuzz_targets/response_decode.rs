//! Any bytes a server sends, cut into reads anywhere, give the client the
//! same response (status, headers, body, trailers, what is left over) or
//! the same kind of error as when they arrive in one read; never a panic.
//! The cut read uses the header names the first read left in the cache,
//! so a warm cache must answer as a cold one does.
//!
//! The first byte chooses HEAD or not and the sizes of the reads; the rest
//! is what the server sent (so the fuzzer mutates the response itself, and
//! `response_decode.dict` gives it HTTP's words):
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run response_decode -- -dict=response_decode.dict
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard::header_names::HeaderNames;
use switchyard::upstream::read_response;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, bytes)) = data.split_first() else {
        return;
    };
    let head_request = seed & 1 == 1;
    let mut names = HeaderNames::default();
    let whole = read_response([bytes], head_request, &mut names);
    let mut chunks = Vec::new();
    let (mut rest, mut state) = (bytes, u32::from(seed));
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let size = (state >> 16) as usize % 23 + 1;
        let (chunk, after) = rest.split_at(size.min(rest.len()));
        chunks.push(chunk);
        rest = after;
    }
    let cut = read_response(chunks.iter().copied(), head_request, &mut names);
    match (&whole, &cut) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.parts.status, b.parts.status);
            assert_eq!(a.parts.headers, b.parts.headers);
            assert_eq!(a.body, b.body);
            assert_eq!(a.trailers, b.trailers);
            assert_eq!((a.keep_alive, a.left_over), (b.keep_alive, b.left_over));
            assert!(a.body.len() <= bytes.len());
        }
        (Err(a), Err(b)) => assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b), "{a} / {b}"),
        _ => panic!("in one read: {whole:?}; cut: {cut:?}"),
    }
});
