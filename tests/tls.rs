//! TLS termination: certificate as one combined PEM or as separate files,
//! TLS 1.2 and 1.3, ALPN h2 and http/1.1.

mod support;

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use support::config::Tls;
use support::{lab_config, Lab, LAB};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Handshakes with the given versions and ALPN offer; returns what was
/// negotiated and the peer's certificate.
async fn handshake(
    lab: &Lab,
    listener: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> Result<(rustls::ProtocolVersion, Option<Vec<u8>>, CertificateDer<'static>), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(lab.certificate.cert_pem.as_bytes()).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(switchyard::tls::provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(lab.addr(listener))
        .await
        .map_err(|e| e.to_string())?;
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (_, session) = tls.get_ref();
    Ok((
        session.protocol_version().unwrap(),
        session.alpn_protocol().map(|p| p.to_vec()),
        session.peer_certificates().unwrap()[0].clone().into_owned(),
    ))
}

#[tokio::test]
async fn a_combined_pem_serves_tls_1_3_and_1_2() {
    let lab = Lab::start(LAB).await;
    let served = CertificateDer::from_pem_slice(lab.certificate.cert_pem.as_bytes()).unwrap();
    let (v13, _, cert) = handshake(&lab, "www-https", &[&rustls::version::TLS13], &[])
        .await
        .unwrap();
    assert_eq!(v13, rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(cert, served);
    let (v12, _, _) = handshake(&lab, "www-https", &[&rustls::version::TLS12], &[])
        .await
        .unwrap();
    assert_eq!(v12, rustls::ProtocolVersion::TLSv1_2);
}

#[tokio::test]
async fn separate_cert_and_key_files_work_and_min_version_is_enforced() {
    let lab = Lab::start_with(|parts| {
        let mut config = lab_config(parts);
        config.listener_mut("www-https").tls = Some(Tls {
            cert: Some(parts.cert.clone()),
            key: Some(parts.key.clone()),
            min_version: Some("1.3".into()),
            ..Tls::default()
        });
        config
    })
    .await;
    let (v, _, _) = handshake(&lab, "www-https", &[&rustls::version::TLS13], &[])
        .await
        .unwrap();
    assert_eq!(v, rustls::ProtocolVersion::TLSv1_3);
    let refused = handshake(&lab, "www-https", &[&rustls::version::TLS12], &[]).await;
    assert!(refused.is_err(), "TLS 1.2 must be refused with min_version 1.3");
    let reply = lab.client().get(&lab.url("www-https", "/")).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn alpn_negotiates_h2_and_requests_flow_over_http2() {
    let lab = Lab::start(LAB).await;
    let (_, alpn, _) = handshake(&lab, "www-https", &[&rustls::version::TLS13], &[b"h2", b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    let (_, alpn, _) = handshake(&lab, "www-https", &[&rustls::version::TLS13], &[b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));

    let client = lab.client();
    let mut names = Vec::new();
    for _ in 0..4 {
        let reply = client.get(&lab.url("www-https", "/h2?x=1")).await;
        assert_eq!(reply.version, http::Version::HTTP_2);
        assert_eq!(reply.status, 200);
        // The origin speaks HTTP/1.1 and got a Host made from :authority.
        assert!(reply.body.contains("GET /h2?x=1 HTTP/1.1"), "{}", reply.body);
        assert_eq!(reply.received("host").len(), 1, "{}", reply.body);
        assert_eq!(reply.received("x-forwarded-proto"), ["https"]);
        names.push(reply.served_by().to_string());
    }
    assert_ne!(names[0], names[1]);
}

/// h2 is told the client's stream takes no vectored writes, so it copies
/// payloads up to 1 KiB into its buffer and writes ready responses
/// together (listener/h2_writes.rs): responses of every size, from a few
/// bytes to several frames, requested all at once over HTTP/2, arrive
/// whole and each to its own stream.
#[tokio::test]
async fn http2_responses_of_every_size_arrive_whole_side_by_side() {
    let lab = Lab::start(LAB).await;
    let client = lab.client();
    // The origin echoes the request head, so a padding header sizes the
    // response: under 256 bytes of body, under 1 KiB, over it, over a
    // 16 KiB frame.
    let sizes = [0usize, 10, 200, 600, 900, 1_100, 3_000, 17_000, 40_000];
    let mut calls = Vec::new();
    for round in 0..3 {
        for (i, size) in sizes.iter().enumerate() {
            let pad: String = (0..*size)
                .map(|n| char::from(b'a' + ((n + i + round) % 26) as u8))
                .collect();
            let (client, url) = (client.clone(), lab.url("www-https", &format!("/size/{size}")));
            calls.push(tokio::spawn(async move {
                let reply = client.get_with(&url, &[("x-pad", &pad)]).await;
                (pad, reply)
            }));
        }
    }
    for call in calls {
        let (pad, reply) = call.await.unwrap();
        assert_eq!(reply.version, http::Version::HTTP_2);
        assert_eq!(reply.status, 200);
        assert!(
            reply.body.len() > pad.len(),
            "{} bytes for {} of padding",
            reply.body.len(),
            pad.len()
        );
        assert_eq!(reply.received("x-pad"), [pad], "a response mixed up or cut");
        if let Some(length) = reply.header("content-length") {
            assert_eq!(length.parse::<usize>().unwrap(), reply.body.len());
        }
    }
}

#[tokio::test]
async fn http2_can_be_turned_off() {
    let lab = Lab::start_with(|parts| {
        let mut config = lab_config(parts);
        if let Some(tls) = config.listener_mut("www-https").tls.as_mut() {
            tls.http2 = Some(false);
        }
        config
    })
    .await;
    let (_, alpn, _) = handshake(&lab, "www-https", &[&rustls::version::TLS13], &[b"h2", b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
}

#[tokio::test]
async fn a_plain_listener_also_speaks_http2_with_prior_knowledge() {
    let lab = Lab::start_with(|parts| {
        let mut config = lab_config(parts);
        let plain = config.listener_mut("www-http");
        plain.plugins = vec!["forwarded-proto".into(), "acme-challenge".into()];
        plain.default_backend = Some("www-backend".into());
        config
    })
    .await;
    let mut tcp = TcpStream::connect(lab.addr("www-http")).await.unwrap();
    // The HTTP/2 connection preface and an empty SETTINGS frame.
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut head = [0u8; 9];
    tcp.read_exact(&mut head).await.unwrap();
    assert_eq!(head[3], 0x4, "the server answers with a SETTINGS frame");
}
