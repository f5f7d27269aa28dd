//! Slow clients over raw TCP sockets: headers trickled byte by byte (slowloris) and idle
//! keep-alive connections are cut after the header timeout, while a normal client is
//! served meanwhile.
#![cfg(feature = "server")]

mod server_common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use server_common::*;

const TIMEOUT: Duration = Duration::from_millis(600);

/// Read until EOF or reset; `None` if the socket stays open past `limit`.
fn wait_closed(sock: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    sock.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None
            }
            Err(_) => return Some(got),
        }
    }
}

/// Trickle `head` one byte every 50 ms until the server closes the socket; returns how
/// long the server took to close it and how many bytes were sent.
fn trickle(addr: SocketAddr, head: &[u8]) -> (Duration, usize) {
    let mut sock = TcpStream::connect(addr).unwrap();
    let start = Instant::now();
    for (i, b) in head.iter().enumerate() {
        if sock.write_all(&[*b]).is_err() {
            return (start.elapsed(), i);
        }
        std::thread::sleep(Duration::from_millis(50));
        // Closed by the server?
        sock.set_nonblocking(true).unwrap();
        let mut one = [0u8; 1];
        let closed = matches!(sock.read(&mut one), Ok(0))
            || matches!(sock.read(&mut one), Err(e) if e.kind() != ErrorKind::WouldBlock);
        sock.set_nonblocking(false).unwrap();
        if closed {
            return (start.elapsed(), i + 1);
        }
    }
    (start.elapsed(), head.len())
}

#[test]
fn slowloris_and_idle_connections_are_cut_others_served() {
    let s = start(config().header_timeout(TIMEOUT));
    let addr = s.server.as_ref().unwrap().addr();
    let health = s.url("/health");

    // 20 slowloris clients trickling headers that would take 10 s to complete.
    let head = format!(
        "POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Pad: {}\r\n",
        "a".repeat(200)
    );
    assert!(head.len() * 50 > 10_000);
    let slow: Vec<_> = (0..20)
        .map(|_| {
            let h = head.clone().into_bytes();
            std::thread::spawn(move || trickle(addr, &h))
        })
        .collect();

    // An idle keep-alive connection after one served request.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4096];
    let n = idle.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let idle_start = Instant::now();

    // A connection that never sends a byte.
    let mut silent = TcpStream::connect(addr).unwrap();
    let silent_start = Instant::now();

    // Meanwhile normal clients are served, quickly.
    for _ in 0..10 {
        let t = Instant::now();
        let (st, h, _) = get(&health, &[]);
        assert_eq!((st, h["status"].as_str()), (200, Some("ok")));
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }

    // The idle and the silent connections are closed after about the timeout.
    assert!(wait_closed(&mut idle, Duration::from_secs(5)).is_some());
    let idle_for = idle_start.elapsed();
    assert!(idle_for >= TIMEOUT.mul_f32(0.8), "{idle_for:?}");
    assert!(wait_closed(&mut silent, Duration::from_secs(5)).is_some());
    assert!(silent_start.elapsed() >= TIMEOUT.mul_f32(0.8));

    // Every slowloris client was cut well before finishing its headers.
    for t in slow {
        let (took, sent) = t.join().unwrap();
        assert!(sent < head.len(), "sent the whole head ({sent} bytes)");
        assert!(
            took >= TIMEOUT.mul_f32(0.8) && took < Duration::from_secs(5),
            "{took:?}"
        );
    }
    let (st, _, _) = get(&health, &[]);
    assert_eq!(st, 200);
}

#[test]
fn connection_cap_queues_extra_clients_without_failing_them() {
    // Two slots: two silent sockets hold them, a third client waits until the header
    // timeout frees one, then is served.
    let s = start(config().header_timeout(TIMEOUT).max_connections(2));
    let addr = s.server.as_ref().unwrap().addr();
    let _a = TcpStream::connect(addr).unwrap();
    let _b = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    let (st, _, _) = get(&s.url("/health"), &[]);
    assert_eq!(st, 200);
    assert!(t.elapsed() >= TIMEOUT.mul_f32(0.5), "{:?}", t.elapsed());
}
