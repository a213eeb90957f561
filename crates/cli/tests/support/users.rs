//! Real local accounts for PAM and setuid tests, removed on drop.

use std::process::Command;

/// A local user with a password; deleted (with its home) when dropped.
pub struct LocalUser {
    pub name: String,
    pub password: String,
}

impl LocalUser {
    /// Creates `fh<tag><pid>` with a home directory and a password. Needs root.
    pub fn create(tag: &str) -> Self {
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "this test creates local users and must run as root (CI does)"
        );
        let name = format!("fh{tag}{}", std::process::id());
        let password = format!("Pw-{}-secret", std::process::id());
        super::run_cleanup(Command::new("userdel").args(["-r", &name]));
        let made = Command::new("useradd")
            .args(["-m", "-s", "/bin/bash", &name])
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "useradd: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let mut chpasswd = Command::new("chpasswd")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        writeln!(chpasswd.stdin.take().unwrap(), "{name}:{password}").unwrap();
        assert!(chpasswd.wait().unwrap().success());
        Self { name, password }
    }

    /// The user's uid.
    pub fn uid(&self) -> u32 {
        nix::unistd::User::from_name(&self.name)
            .unwrap()
            .unwrap()
            .uid
            .as_raw()
    }
}

impl Drop for LocalUser {
    fn drop(&mut self) {
        super::run_cleanup(Command::new("pkill").args(["-KILL", "-u", &self.name]));
        std::thread::sleep(std::time::Duration::from_millis(200));
        super::run_cleanup(Command::new("userdel").args(["-r", &self.name]));
    }
}
