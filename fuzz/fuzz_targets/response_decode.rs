//! Any bytes a server sends, cut into reads anywhere, give the client the
//! same response (status, headers, body, trailers, what is left over) or
//! the same kind of error as when they arrive in one read; never a panic.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use switchyard::upstream::read_response;

#[derive(Debug, Arbitrary)]
struct Input {
    bytes: Vec<u8>,
    /// Sizes of the reads (each 1 to 64 bytes), the rest in one.
    cuts: Vec<u8>,
    head_request: bool,
}

fuzz_target!(|input: Input| {
    let whole = read_response([input.bytes.as_slice()], input.head_request);
    let mut chunks = Vec::new();
    let mut rest = input.bytes.as_slice();
    for &cut in &input.cuts {
        if rest.is_empty() {
            break;
        }
        let (chunk, after) = rest.split_at((usize::from(cut) % 64 + 1).min(rest.len()));
        chunks.push(chunk);
        rest = after;
    }
    if !rest.is_empty() {
        chunks.push(rest);
    }
    let cut = read_response(chunks.iter().copied(), input.head_request);
    match (&whole, &cut) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.parts.status, b.parts.status);
            assert_eq!(a.parts.headers, b.parts.headers);
            assert_eq!(a.body, b.body);
            assert_eq!(a.trailers, b.trailers);
            assert_eq!((a.keep_alive, a.left_over), (b.keep_alive, b.left_over));
            assert!(a.body.len() <= input.bytes.len());
        }
        (Err(a), Err(b)) => assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b), "{a} / {b}"),
        _ => panic!("in one read: {whole:?}; cut: {cut:?}"),
    }
});
