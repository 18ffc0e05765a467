//! Any bytes a server sends, cut into reads anywhere, give the client the
//! same response (status, headers, body, trailers, what is left over) or
//! the same kind of error as when they arrive in one read; never a panic.
//! The fields as our HTTP/1.1 server would write them are the same too,
//! and read back as the fields the map holds.
//!
//! The first byte chooses HEAD or not and the sizes of the reads; the rest
//! is what the server sent (so the fuzzer mutates the response itself, and
//! `response_decode.dict` gives it HTTP's words):
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run response_decode -- -dict=response_decode.dict
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard::upstream::read_response;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, bytes)) = data.split_first() else {
        return;
    };
    let head_request = seed & 1 == 1;
    let whole = read_response([bytes], head_request);
    let mut chunks = Vec::new();
    let (mut rest, mut state) = (bytes, u32::from(seed));
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let size = (state >> 16) as usize % 23 + 1;
        let (chunk, after) = rest.split_at(size.min(rest.len()));
        chunks.push(chunk);
        rest = after;
    }
    let cut = read_response(chunks.iter().copied(), head_request);
    match (&whole, &cut) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.parts.status, b.parts.status);
            assert_eq!(a.parts.headers, b.parts.headers);
            assert_eq!(a.lines, b.lines);
            lines_read_back_as_the_map(&a.lines, &a.parts.headers);
            assert_eq!(a.body, b.body);
            assert_eq!(a.trailers, b.trailers);
            assert_eq!((a.keep_alive, a.left_over), (b.keep_alive, b.left_over));
            assert!(a.body.len() <= bytes.len());
        }
        (Err(a), Err(b)) => assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b), "{a} / {b}"),
        _ => panic!("in one read: {whole:?}; cut: {cut:?}"),
    }
});

/// The written lines, parsed again, give fields the map holds, each
/// value in its place among the name's values.
fn lines_read_back_as_the_map(lines: &[u8], map: &http::HeaderMap) {
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    head.extend_from_slice(lines);
    head.extend_from_slice(b"\r\n");
    let mut fields = vec![httparse::EMPTY_HEADER; 256];
    let mut response = httparse::Response::new(&mut fields);
    assert!(matches!(response.parse(&head), Ok(httparse::Status::Complete(_))), "{lines:?}");
    let mut taken: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for field in response.headers.iter() {
        let name = field.name.to_ascii_lowercase();
        let index = taken.entry(name.clone()).or_default();
        let value = map.get_all(name.as_str()).iter().nth(*index);
        assert_eq!(value.map(|v| v.as_bytes()), Some(field.value), "{name}");
        *index += 1;
    }
}
