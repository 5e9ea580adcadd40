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
