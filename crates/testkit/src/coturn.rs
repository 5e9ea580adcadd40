//! coturn's `turnserver`, the real TURN server the relay tests start (scripts/setup.sh
//! installs it).

/// The user the tests give coturn, and its password.
pub const USER: &str = "toss";
/// The password of [`USER`].
pub const PASSWORD: &str = "test-secret";

/// `turnserver` arguments: STUN and TURN on `ip:port`, relaying from `ip` on ports
/// `min..=max`, one test user ([`USER`] / [`PASSWORD`]), nothing else (no TLS, no CLI).
pub fn args(ip: &str, port: u16, min: u16, max: u16) -> Vec<String> {
    vec![
        "-n".to_owned(),
        format!("--listening-ip={ip}"),
        format!("--relay-ip={ip}"),
        format!("--listening-port={port}"),
        format!("--min-port={min}"),
        format!("--max-port={max}"),
        format!("--user={USER}:{PASSWORD}"),
        "--realm=toss.test".to_owned(),
        "--lt-cred-mech".to_owned(),
        "--no-cli".to_owned(),
        "--no-tls".to_owned(),
        "--no-dtls".to_owned(),
        "--log-file=stdout".to_owned(),
    ]
}

/// `turnserver` arguments as [`args`], but with TURN REST credentials instead of a test
/// user: the configuration file `conf` (from [`write_secret_conf`]) says `use-auth-secret`
/// and holds the `static-auth-secret`, as deploy/turnserver.conf does, so the secret is on
/// no command line.
pub fn args_with_secret(
    ip: &str,
    port: u16,
    min: u16,
    max: u16,
    conf: &std::path::Path,
) -> Vec<String> {
    let mut args: Vec<String> = args(ip, port, min, max)
        .into_iter()
        // `-n` is "no configuration file".
        .filter(|a| !a.starts_with("--user=") && a != "--lt-cred-mech" && a != "-n")
        .collect();
    args.splice(0..0, ["-c".to_owned(), conf.display().to_string()]);
    args
}

/// Writes a coturn configuration file in `dir` that turns on TURN REST credentials with
/// `secret`, readable by its owner only; returns its path.
///
/// # Errors
///
/// When the file cannot be written.
#[cfg(unix)]
pub fn write_secret_conf(
    dir: &std::path::Path,
    secret: &str,
) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("turnserver.conf");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    writeln!(file, "use-auth-secret\nstatic-auth-secret={secret}")?;
    Ok(path)
}
