//! Picking the port a server binds when `Spawner.port` is 0.

use std::net::{Ipv4Addr, TcpListener};

/// A port that was free a moment ago: bind 127.0.0.1:0, read the port the
/// kernel chose, close. Racy by nature (as upstream's `random_port`), but the
/// kernel does not hand the same ephemeral port out again at once.
pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_can_be_bound_again() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }
}
