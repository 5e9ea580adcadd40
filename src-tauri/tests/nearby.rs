//! Nearby devices in the real app, on a local network with no signaling server anywhere:
//! three network namespaces made by the test (link-local addresses that never leave them),
//! `a` and `b` on a bridge in `c`. The app runs in `a` (its own Xvfb, tauri-driver and
//! WebKitWebDriver inside the namespace, driven over `a`'s loopback); `toss` in `b` plays
//! the other computers. With nothing configured, the app shows a code (hosted on the LAN)
//! and the devices beside it; a click sends to one; Home lists who is left, live; a file
//! dragged onto a device's button goes to it; a nearby computer's request shows the offer
//! and the same words as the sender; and once this network is marked public the app is
//! gone from the others' view.
//!
//! The outer test builds the network and runs the inner one inside `a` (this same test
//! binary, the ignored `inner_*` test, told where it is by environment variables).
//!
//! Namespaces need root (CI runs as root); without it the test says it is skipped.

mod desktop;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use desktop::{Desktop, TestResult};
use serde_json::{json, Value};

/// Longest wait for anything the UI should show.
const UI: Duration = Duration::from_secs(60);

fn sh(script: &str) -> Result<(), String> {
    let out = Command::new("sh")
        .args(["-ec", script])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_app_lists_nearby_devices_sends_to_one_and_accepts_from_one() -> TestResult {
    let root = Command::new("id").arg("-u").output()?.stdout.trim_ascii() == b"0";
    if !root {
        eprintln!("SKIPPED: creating network namespaces needs root");
        return Ok(());
    }
    let id = std::process::id() % 100_000;
    let (a, b, c) = (
        format!("appn-a-{id}"),
        format!("appn-b-{id}"),
        format!("appn-c-{id}"),
    );
    let setup = format!(
        "ip netns add {a}; ip netns add {b}; ip netns add {c}
         ip -n {c} link add br0 type bridge; ip -n {c} link set br0 up multicast on
         ip link add xa{id} type veth peer name ya{id}; ip link add xb{id} type veth peer name yb{id}
         ip link set ya{id} netns {c}; ip link set yb{id} netns {c}
         ip -n {c} link set ya{id} master br0 up; ip -n {c} link set yb{id} master br0 up
         ip link set xa{id} netns {a}; ip link set xb{id} netns {b}
         ip -n {a} addr add 169.254.80.1/24 dev xa{id}; ip -n {b} addr add 169.254.80.2/24 dev xb{id}
         ip -n {a} link set lo up; ip -n {b} link set lo up
         ip -n {a} link set xa{id} up multicast on; ip -n {b} link set xb{id} up multicast on
         ip -n {a} route add 224.0.0.0/4 dev xa{id}; ip -n {b} route add 224.0.0.0/4 dev xb{id}"
    );
    let built = sh(&setup);
    let cleanup = format!("ip netns del {a}; ip netns del {b}; ip netns del {c}");
    if let Err(e) = built {
        let _ = sh(&cleanup);
        return Err(format!("could not build the test network as root: {e}").into());
    }
    let inner = Command::new("ip")
        .args(["netns", "exec", &a])
        .arg(std::env::current_exe()?)
        .args([
            "--exact",
            "inner_nearby_devices_in_the_app",
            "--ignored",
            "--nocapture",
        ])
        .env("TOSS_TEST_PEER_NS", &b)
        .output();
    let _ = sh(&cleanup);
    let inner = inner?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&inner.stdout),
        String::from_utf8_lossy(&inner.stderr)
    );
    eprintln!("{log}");
    assert!(inner.status.success(), "the app test failed");
    assert!(log.contains("1 passed"), "the app test did not run:\n{log}");
    Ok(())
}

/// `toss ARGS` on the other computer (namespace `ns`), with no STUN server.
fn toss_in(ns: &str, sub: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(desktop::bin("toss"))
        .arg(sub)
        .args((sub != "devices").then_some("--no-ice-servers"))
        .arg("--json")
        .args(args)
        .env_remove("TOSS_SIGNAL")
        .env_remove("TOSS_LOOPBACK")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn event<'a>(events: &'a [Value], name: &str) -> Option<&'a Value> {
    events.iter().find(|e| e["event"] == name)
}

/// Waits for `child` (killed after `limit`) and returns what it printed.
fn finish(mut child: Child, limit: Duration) -> std::io::Result<Output> {
    let started = Instant::now();
    while child.try_wait()?.is_none() && started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait_with_output()
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y)
}

/// With `TOSS_SCREENSHOTS` set (`make screenshots`), saves the screen there as `name`
/// (after a moment for the webview to paint).
async fn shot(app: &Desktop, name: &str) -> TestResult {
    match std::env::var_os("TOSS_SCREENSHOTS") {
        Some(dir) => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            app.screenshot(&Path::new(&dir).join(name))
        }
        None => Ok(()),
    }
}

/// Runs inside namespace `a` only, started by the test above.
#[tokio::test]
#[ignore = "runs inside a network namespace, started by the_app_lists_nearby_devices_..."]
async fn inner_nearby_devices_in_the_app() -> TestResult {
    let peer_ns = std::env::var("TOSS_TEST_PEER_NS")?;
    let started = Instant::now();
    let tmp = tempfile::tempdir()?;
    let (bea_out, cy_out) = (tmp.path().join("bea"), tmp.path().join("cy"));
    std::fs::create_dir_all(&bea_out)?;
    std::fs::create_dir_all(&cy_out)?;
    // Two computers wait, visible, and accept whatever comes.
    let bea = toss_in(
        &peer_ns,
        "receive",
        &["--yes", "--device-name", "Bea's desk", "--out"],
    )
    .arg(&bea_out)
    .spawn()?;
    let cy = toss_in(
        &peer_ns,
        "receive",
        &["--yes", "--device-name", "Cy's tablet", "--out"],
    )
    .arg(&cy_out)
    .spawn()?;

    let file = tmp.path().join("plans.pdf");
    std::fs::write(&file, desktop::random_bytes(700_000))?;
    let guard = tempfile::tempdir()?;
    let downloads = guard.path().join("downloads");
    std::fs::create_dir_all(&downloads)?;
    // Nothing configured but the folders: the default signaling server is nowhere.
    let settings = json!({
        "device_name": "Test desktop",
        "download_dir": downloads,
        "ice_servers": [],
    });
    let app = Desktop::launch_on_lan(
        &[file.to_string_lossy().as_ref()],
        &settings.to_string(),
        guard,
    )
    .await?;

    // A code is shown all the same (hosted on this network), and the devices beside it.
    let code = app.text_when_present("#send-code", UI).await?;
    assert!(code.parse::<toss_core::Code>().is_ok(), "{code}");
    let notice = app.text_when_present("#code-notice", UI).await?;
    assert!(
        notice.contains("this code works on this local network only"),
        "{notice}"
    );
    eprintln!(
        "{:>6.1} s: before waiting: listed beside the code",
        started.elapsed().as_secs_f64()
    );
    let listed = app
        .wait_for(
            "Bea's desk was never listed beside the code",
            UI,
            || async {
                let names = app.device_names("#send-nearby-list").await?;
                Ok(names.iter().any(|n| n == "Bea's desk").then_some(()))
            },
        )
        .await;
    if let Err(e) = listed {
        let names = app.device_names("#send-nearby-list").await?;
        let bea = finish(bea, Duration::ZERO)?;
        return Err(format!(
            "{e}; listed: {names:?}; Bea's desk said: {}{}",
            String::from_utf8_lossy(&bea.stdout),
            String::from_utf8_lossy(&bea.stderr)
        )
        .into());
    }
    shot(&app, "nearby-sending.png").await?;
    app.click_device("#send-nearby-list", "Bea's desk", UI)
        .await?;
    let heading = app.text_when_present("#sending-heading", UI).await?;
    assert_eq!(heading, "Send to Bea's desk");
    let title = app.text_when_present("#done-title", UI).await?;
    assert!(title.starts_with("Sent"), "{title}");
    let bea = finish(bea, UI)?;
    let bea_events = events(&bea);
    assert!(
        event(&bea_events, "done").is_some(),
        "{}",
        String::from_utf8_lossy(&bea.stderr)
    );
    assert_eq!(
        event(&bea_events, "offer").map(|o| o["device"].clone()),
        Some(json!("Test desktop"))
    );
    assert!(
        same_file(&file, &bea_out.join("plans.pdf")),
        "byte-identical"
    );

    // Home lists who is still there, live: Bea left when done, Cy is waiting.
    app.click_when_enabled("#home-button", UI).await?;
    eprintln!(
        "{:>6.1} s: before waiting: home list settled",
        started.elapsed().as_secs_f64()
    );
    let settled = app
        .wait_for("the home list never settled on Cy alone", UI, || async {
            let names = app.device_names("#nearby-list").await?;
            Ok((names == ["Cy's tablet"]).then_some(()))
        })
        .await;
    if let Err(e) = settled {
        let names = app.device_names("#nearby-list").await?;
        return Err(format!("{e}; listed: {names:?}").into());
    }
    shot(&app, "nearby-home.png").await?;

    // A file dragged from another window and dropped on Cy's button goes to Cy.
    let dropped = tmp.path().join("dropped notes.txt");
    std::fs::write(&dropped, b"dropped on a nearby device")?;
    let cy_button = app.device_center("#nearby-list", "Cy's tablet").await?;
    app.drop_file_onto(&dropped, cy_button, "#sending-heading")
        .await?;
    eprintln!(
        "{:>6.1} s: before waiting: dropped on Cy",
        started.elapsed().as_secs_f64()
    );
    let heading = app.text_when_present("#sending-heading", UI).await?;
    assert_eq!(heading, "Send to Cy's tablet");
    let title = app.text_when_present("#done-title", UI).await?;
    assert!(title.starts_with("Sent"), "{title}");
    let cy = finish(cy, UI)?;
    assert!(
        event(&events(&cy), "done").is_some(),
        "{}",
        String::from_utf8_lossy(&cy.stderr)
    );
    assert!(same_file(&dropped, &cy_out.join("dropped notes.txt")));
    app.click_when_enabled("#home-button", UI).await?;

    // And the other way: a nearby computer sends to the app, which asks first.
    let photo = tmp.path().join("photo.jpg");
    std::fs::write(&photo, desktop::random_bytes(300_000))?;
    let sender = toss_in(
        &peer_ns,
        "send",
        &["--device-name", "Dee's phone", "--to", "Test desktop"],
    )
    .arg(&photo)
    .spawn()?;
    eprintln!(
        "{:>6.1} s: before waiting: offer from Dee shown",
        started.elapsed().as_secs_f64()
    );
    let device = app.text_when_present("#offer-device", UI).await?;
    assert!(device.contains("Dee's phone"), "{device}");
    let words = app.text_when_present("#verification", UI).await?;
    shot(&app, "nearby-offer.png").await?;
    app.click_when_enabled("#accept-button", UI).await?;
    let title = app.text_when_present("#done-title", UI).await?;
    assert!(title.starts_with("Received"), "{title}");
    let sent = finish(sender, UI)?;
    let sent_events = events(&sent);
    assert!(
        event(&sent_events, "done").is_some(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert_eq!(
        event(&sent_events, "peer_connected").map(|p| p["verification"].clone()),
        Some(json!(words)),
        "both sides showed the same words"
    );
    assert!(same_file(&photo, &downloads.join("photo.jpg")));

    // Marked public, this network no longer sees the app, and the app says why.
    app.click_when_enabled("#home-button", UI).await?;
    app.click_when_enabled("#settings-button", UI).await?;
    app.click_when_enabled("#settings-public-network", UI)
        .await?;
    app.click_when_enabled("#settings-save", UI).await?;
    eprintln!(
        "{:>6.1} s: before waiting: hidden",
        started.elapsed().as_secs_f64()
    );
    let hint = app.text_when_present("#nearby-hint", UI).await?;
    assert_eq!(hint, "Hidden on this network: you marked it as public.");
    let seen = toss_in(&peer_ns, "devices", &["--wait", "3"]).output()?;
    let seen = String::from_utf8_lossy(&seen.stdout).into_owned();
    assert!(!seen.contains("Test desktop"), "still visible: {seen}");
    let saved = std::fs::read_to_string(app.home_dir().join("config/toss/settings.json"))?;
    assert!(saved.contains("169.254.80.0/24"), "{saved}");
    app.close().await
}
