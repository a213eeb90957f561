//! Ports for servers the tests start, shared by the proxy's and the hub's
//! test kits (the hub's includes this file by path).

/// A port on 127.0.0.1 that nothing listens on right now.
///
/// Drawn at random below the kernel's ephemeral range (32768 and up), which
/// port 0 and every outgoing connection use: a port from there could be
/// taken by a parallel test before our server binds it, or answer where a
/// test expects a refused connection. Here a clash needs two tests to draw
/// the same one of 17,000 ports at the same moment.
#[must_use]
pub fn unused_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    const FIRST: u16 = 15_000;
    const COUNT: u16 = 17_000;
    loop {
        // A fresh RandomState is randomly keyed: a cheap random number.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        let offset = u16::try_from(hasher.finish() % u64::from(COUNT)).expect("below COUNT");
        let port = FIRST + offset;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
