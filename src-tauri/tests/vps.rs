//! The app in one home, a friend's `toss` in another, and a Toss server on a VPS between
//! them (toss_testkit::vps: two masquerading NATs, Caddy, toss-signal and coturn from the
//! repo's deploy files). The app is given nothing but the server's address in its settings
//! (and the VPS's CA in the computer's certificate bundle, as a private CA would be); the
//! friend nothing but `toss config server wss://vps.toss.test`. Each router lets UDP reach
//! only the VPS, so the file must go through the server's TURN relay, with credentials the
//! app fetched on its own, and arrive byte-identical. And a relay credential past its time,
//! typed into the app's settings with relay-only on, is refused by coturn, which the app's
//! error screen names ("The relay server refused"); nothing arrives.
//!
//! The app runs under WebDriver on a thread inside home a's namespace, started through
//! `ip netns exec` so that it resolves the VPS's name by that home's hosts file.
//!
//! Needs root, coturn's `turnserver` and `caddy` (scripts/setup.sh installs both).

#![cfg(target_os = "linux")]

mod desktop;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use desktop::{Around, Desktop, TestResult};
use serde_json::{json, Value};
use toss_testkit::data::{random_file, same_bytes};
use toss_testkit::netns;
use toss_testkit::process::{assert_root, drain, wait, Killed};
use toss_testkit::vps::{self, TwoHomes, DOMAIN, SECRET};
use toss_testkit::{json as events, AnyResult};

/// The file the app sends.
const SIZE: usize = 48 << 20;
/// Longest wait for a screen of the app.
const UI: Duration = Duration::from_secs(20);
/// Longest the whole transfer may take, from the code on.
const TRANSFER: Duration = Duration::from_secs(120);

/// `toss ARGS` in the friend's home b, with `home` as its HOME and the VPS's CA in its
/// certificate bundle.
fn friend(vps: &TwoHomes, home: &Path, args: &[&str]) -> Command {
    let mut c = vps.net.cmd("b", desktop::bin("toss"));
    c.args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("SSL_CERT_FILE", &vps.ca)
        .env_remove("TOSS_SIGNAL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// The app in home a's namespace `ns`, sending `file`: settings with its name, a download
/// folder and the server's address, and the fields of `more`; the VPS's CA `ca` in its
/// certificate bundle.
async fn app_in_home_a(
    ns: String,
    ca: std::path::PathBuf,
    file: &Path,
    more: Value,
) -> AnyResult<Desktop> {
    let guard = tempfile::tempdir()?;
    let downloads = guard.path().join("downloads");
    std::fs::create_dir_all(&downloads)?;
    let mut settings = json!({
        "device_name": "Home A",
        "download_dir": downloads,
        "signal_url": format!("wss://{DOMAIN}"),
    });
    if let (Some(all), Some(more)) = (settings.as_object_mut(), more.as_object()) {
        all.extend(more.clone());
    }
    let around = Around {
        netns: Some(ns),
        env: vec![("SSL_CERT_FILE".into(), ca)],
    };
    Desktop::launch_in(
        &[file.to_string_lossy().as_ref()],
        &settings.to_string(),
        guard,
        &around,
    )
    .await
}

/// The friend's `toss receive --yes` into `out`, with the code the app shows (from `code`).
fn friend_receives(
    vps: &TwoHomes,
    home: &Path,
    out: &Path,
    code: &mpsc::Receiver<String>,
) -> AnyResult<Killed> {
    let code = code
        .recv_timeout(UI * 3)
        .map_err(|_| "the app showed no code")?;
    let out = out.to_string_lossy();
    Ok(Killed(
        friend(
            vps,
            home,
            &["receive", "--yes", "--json", "--out", &out, &code],
        )
        .spawn()?,
    ))
}

/// The app's side, in home a: sends `file`, hands its code over `code`, and waits until it
/// says it sent it.
async fn app_sends(
    ns: String,
    ca: std::path::PathBuf,
    file: std::path::PathBuf,
    code: mpsc::Sender<String>,
) -> AnyResult<()> {
    // The server's address, and nothing about STUN or TURN: the app's defaults.
    let app = app_in_home_a(ns, ca, &file, json!({})).await?;
    let shown = app.text_when_present("#send-code", UI).await?;
    let link = app.text_when_present("#send-link", UI).await?;
    assert_eq!(
        link,
        format!("https://{DOMAIN}/#{shown}"),
        "the app's link to the web peer"
    );
    code.send(shown)?;
    let title = app.text_when_present("#done-title", TRANSFER).await?;
    assert!(title.starts_with("Sent"), "the app says {title:?}");
    app.close().await
}

#[test]
#[ignore = "needs root"]
fn the_app_given_only_the_servers_address_sends_through_its_relay_to_another_home() -> TestResult {
    assert_root("creating network namespaces");
    let Some(tools) = vps::tools() else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("holiday.mkv");
    random_file(&src, SIZE)?;
    // As root, a network that cannot be built is a failure, not a skip.
    let vps = TwoHomes::create(tmp.path(), true, &desktop::bin("toss-signal"), &tools)?;
    let home = tmp.path().join("friend");
    std::fs::create_dir(&home)?;
    let out = home.join("Downloads");
    std::fs::create_dir(&out)?;
    let set = friend(
        &vps,
        &home,
        &["config", "server", &format!("wss://{DOMAIN}")],
    )
    .output()?;
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );

    let (code_tx, code_rx) = mpsc::channel();
    let (ns, ca, file) = (vps.net.ns("a"), vps.ca.clone(), src.clone());
    let app = std::thread::spawn(move || -> Result<(), String> {
        let inside = ns.clone();
        netns::run_in(&inside, move || app_sends(ns, ca, file, code_tx)).map_err(|e| e.to_string())
    });
    let mut receiver = friend_receives(&vps, &home, &out, &code_rx)?;
    // Its progress is read as it comes, or a full pipe would stop it.
    let stderr = drain(receiver.0.stderr.take().ok_or("stderr")?);
    let stdout = drain(receiver.0.stdout.take().ok_or("stdout")?);
    let waited = wait(&mut receiver.0, TRANSFER);
    let text = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    waited.map_err(|e| format!("toss receive: {e}; it said {text} {stderr}"))?;
    let received: Vec<Value> = events::lines(&text);
    app.join()
        .map_err(|_| "the app's thread panicked")?
        .map_err(|e| format!("the app: {e}"))?;
    assert!(
        received.iter().any(|e| e["event"] == "done"),
        "the friend's toss finished: {received:?}\n{stderr}"
    );
    let path = received
        .iter()
        .find(|e| e["event"] == "connected")
        .map(|e| e["path"].clone())
        .ok_or("the friend's toss never connected")?;
    assert_eq!(path["kind"], "relay", "the path: {path}");
    assert!(
        same_bytes(&src, &out.join("holiday.mkv"))?,
        "holiday.mkv arrived with other bytes than the app sent"
    );
    eprintln!("the app in home a to toss in home b: 48 MiB over {path}");
    Ok(())
}

/// The app's side when its relay credential has expired: relay-only, with the VPS's TURN
/// server and a credential whose time ran out typed into its settings (as one copied from
/// an old setup would be). It hands its code over `code`, and returns the error screen's
/// title and sentence.
async fn app_with_an_expired_credential(
    ns: String,
    ca: std::path::PathBuf,
    file: std::path::PathBuf,
    code: mpsc::Sender<String>,
) -> AnyResult<(String, String)> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let username = format!("{}:0123456789abcdef", now.as_secs() - 2);
    let secret = toss_signal::TurnSecret::new(SECRET).ok_or("a secret")?;
    let typed = json!({
        "ice_servers": [{
            "urls": [format!("turn:{DOMAIN}:3478?transport=udp")],
            "username": username,
            "credential": toss_signal::turn_credential(&secret, &username),
        }],
        "relay_only": true,
    });
    let app = app_in_home_a(ns, ca, &file, typed).await?;
    code.send(app.text_when_present("#send-code", UI).await?)?;
    let title = app.text_when_present("#error-title", TRANSFER).await?;
    let message = app.text_when_present("#error-message", UI).await?;
    app.close().await?;
    Ok((title, message))
}

/// A relay credential past its time is refused by coturn, and the app says so in its own
/// words (not "could not connect"); nothing arrives.
#[test]
#[ignore = "needs root"]
fn an_expired_relay_credential_is_refused_by_coturn_and_the_app_says_so() -> TestResult {
    assert_root("creating network namespaces");
    let Some(tools) = vps::tools() else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("notes.txt");
    random_file(&src, 64 << 10)?;
    let vps = TwoHomes::create(tmp.path(), true, &desktop::bin("toss-signal"), &tools)?;
    let home = tmp.path().join("friend");
    let out = home.join("Downloads");
    std::fs::create_dir_all(&out)?;
    let set = friend(
        &vps,
        &home,
        &["config", "server", &format!("wss://{DOMAIN}")],
    )
    .output()?;
    assert!(set.status.success());

    let (code_tx, code_rx) = mpsc::channel();
    let (ns, ca, file) = (vps.net.ns("a"), vps.ca.clone(), src.clone());
    let app = std::thread::spawn(move || -> Result<(String, String), String> {
        let inside = ns.clone();
        netns::run_in(&inside, move || {
            app_with_an_expired_credential(ns, ca, file, code_tx)
        })
        .map_err(|e| e.to_string())
    });
    let mut receiver = friend_receives(&vps, &home, &out, &code_rx)?;
    let _said = (
        drain(receiver.0.stdout.take().ok_or("stdout")?),
        drain(receiver.0.stderr.take().ok_or("stderr")?),
    );
    let (title, message) = app
        .join()
        .map_err(|_| "the app's thread panicked")?
        .map_err(|e| format!("the app: {e}"))?;
    assert_eq!(title, "The relay server refused", "{message}");
    assert!(
        message.starts_with("The TURN server refused the relay credentials (they expired"),
        "{message}"
    );
    let _ = wait(&mut receiver.0, TRANSFER);
    assert!(
        toss_testkit::data::names_in(&out)?.is_empty(),
        "something arrived"
    );
    Ok(())
}
