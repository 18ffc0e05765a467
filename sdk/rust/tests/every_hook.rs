//! The `plugin!` macro (every hook) expands, and the SDK's declarations
//! reach the generated types as written: what the host asks once per
//! version (interest, body interest, response interest). Runs on the host
//! target: these exports call no import.

use switchyard_plugin::{
    Backend, Balancer, BodyHook, BodyInterest, Candidate, Choice, Decision, Interest, Memo, MemoKey, OverLimit, Part,
    Plugin, Reply, ReplyHook, Request, RequestHook, ResponseDecision, ResponseHead, ResponseHook, ResponseInterest,
    Rotation, Scheme,
};

struct Everything;

impl Plugin for Everything {}

impl RequestHook for Everything {
    fn interest() -> Interest {
        Interest::paths(["/api/", "/hooks/"]).scheme(Scheme::Https)
    }

    fn on_request(_req: &Request) -> Decision {
        Decision::next()
    }
}

impl Memo for Everything {
    fn memo() -> Option<MemoKey> {
        Some(
            MemoKey::of([Part::Scheme, Part::Path])
                .header("x-tenant")
                .max_entries(64),
        )
    }
}

impl ReplyHook for Everything {
    fn on_reply(_req: &Request, _context: String, _reply: Result<Reply, switchyard_plugin::AskFailure>) -> Decision {
        Decision::next()
    }
}

impl BodyHook for Everything {
    fn body_interest() -> BodyInterest {
        BodyInterest::up_to(4096, OverLimit::Truncate)
    }
}

impl ResponseHook for Everything {
    fn response_interest() -> ResponseInterest {
        ResponseInterest::statuses([500..=599, 404..=404]).from_server(false)
    }

    fn on_response(_req: &Request, _resp: &ResponseHead) -> ResponseDecision {
        ResponseDecision::keep()
    }
}

impl Balancer for Everything {
    fn pick(_req: &Request, _backend: &Backend, _seq: u64, _attempt: u32, candidates: &[Candidate]) -> Option<Choice> {
        candidates.iter().position(|c| c.healthy).map(Choice::server)
    }
}

impl Rotation for Everything {}

switchyard_plugin::plugin!(Everything);

use __switchyard_plugin_exports::exports::switchyard::plugin as generated;

#[test]
fn declarations_reach_the_generated_types() {
    let interest = <Everything as generated::request_hook::Guest>::declare_interest();
    assert_eq!(interest.path_prefixes, ["/api/", "/hooks/"]);
    assert!(matches!(interest.schemes.as_slice(), [Scheme::Https]));

    let body = <Everything as generated::body_hook::Guest>::declare_body_interest();
    assert_eq!(body.max_bytes, 4096);
    assert!(matches!(body.over_limit, generated::body_hook::OverLimit::Truncate));

    let response = <Everything as generated::response_hook::Guest>::declare_response_interest();
    let ranges: Vec<(u16, u16)> = response.statuses.iter().map(|r| (r.first, r.last)).collect();
    assert_eq!(ranges, [(500, 599), (404, 404)]);
    assert!(!response.from_server && response.from_proxy);

    let memo = <Everything as generated::memo::Guest>::declare_memo().expect("declared");
    use generated::memo::RequestParts;
    assert_eq!(memo.parts, RequestParts::SCHEME | RequestParts::PATH);
    assert_eq!(memo.headers, ["x-tenant"]);
    assert_eq!(memo.max_entries, 64);

    assert_eq!(<Everything as generated::lifecycle::Guest>::init(), Ok(()));
}

#[test]
fn decisions_and_edits_build_as_the_contract_says() {
    let decision = Decision::route("api")
        .set_request_header("x-tenant", "a")
        .remove_request_header("cookie")
        .append_response_header("set-cookie", b"k=v".as_slice());
    assert!(matches!(decision.action, switchyard_plugin::Action::Route(ref b) if b == "api"));
    assert_eq!(decision.request_headers.len(), 2);
    match &decision.response_headers[..] {
        [switchyard_plugin::HeaderOp::Append(h)] => {
            assert_eq!((h.name.as_str(), h.value.as_slice()), ("set-cookie", &b"k=v"[..]))
        }
        other => panic!("{other:?}"),
    }
    let page = switchyard_plugin::Response::text(503, "down\n").header("retry-after", "5");
    assert_eq!(page.status, 503);
    assert_eq!(page.headers[0].value, b"text/plain; charset=utf-8");
    assert_eq!(page.headers[1].name, "retry-after");
    assert_eq!(page.body, b"down\n");
}
