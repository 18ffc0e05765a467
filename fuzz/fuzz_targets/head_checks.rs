//! The checks run on every request head before any plugin: on arbitrary
//! targets and Host values, no panic, and an accepted head has at most one
//! Host that agrees with the target's authority.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use switchyard::proxy::check_head;

#[derive(Debug, Arbitrary)]
struct Input {
    method: String,
    target: String,
    hosts: Vec<Vec<u8>>,
    http10: bool,
}

fuzz_target!(|input: Input| {
    let mut request = http::Request::builder()
        .method(input.method.as_str())
        .uri(input.target.as_str())
        .version(if input.http10 { http::Version::HTTP_10 } else { http::Version::HTTP_11 });
    for host in &input.hosts {
        request = request.header(http::header::HOST, host.as_slice());
    }
    let Ok(request) = request.body(()) else { return };
    let (head, ()) = request.into_parts();
    if check_head(&head).is_ok() {
        let hosts: Vec<_> = head.headers.get_all(http::header::HOST).iter().collect();
        assert!(hosts.len() <= 1);
        if let (Some(host), Some(authority)) = (hosts.first(), head.uri.authority()) {
            assert!(authority.as_str().eq_ignore_ascii_case(host.to_str().unwrap_or("")));
        }
    }
});
