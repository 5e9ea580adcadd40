//! Nearby devices in the real app, on a local network with no signaling server anywhere:
//! three network namespaces made by the test (link-local addresses that never leave them),
//! `a` and `b` on a bridge in `c`. The app runs in `a` (its own Xvfb, tauri-driver and
//! WebKitWebDriver inside the namespace, driven over `a`'s loopback), and a second copy of
//! it beside it; `toss` in `b` plays the other computers. With nothing configured, the app
//! shows a code (hosted on the LAN) and the devices beside it; a click sends to one, once
//! the user says the device shows the same two words; Home lists who is left, live, and
//! marks two devices that use one name; a file dragged onto a device's button goes to it;
//! a nearby computer's request is a banner that leaves an unsaved settings edit alone, is
//! dropped by Ignore and opened by Show, which leads to the words and the offer; words
//! said to differ stop both apps with a sentence and nothing on disk; and once this network
//! is marked public the app is gone from the others' view.
//!
//! The outer test builds the network and runs the inner one inside `a` (this same test
//! binary, the ignored `inner_*` test, told where it is by environment variables).
//!
//! Namespaces need root: the test is ignored as "needs root", and `make test` runs it when
//! it runs as root (CI does).

#![cfg(target_os = "linux")]

mod desktop;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use desktop::{Desktop, TestResult};
use serde_json::json;
use toss_testkit::data::{names_in, random_bytes};
use toss_testkit::json::{events, find as event};
use toss_testkit::netns::{self, Lan};
use toss_testkit::process::{assert_root, finish};

/// Longest wait for anything the UI should show.
const UI: Duration = Duration::from_secs(60);

#[test]
#[ignore = "needs root"]
fn the_app_lists_nearby_devices_sends_to_one_and_accepts_from_one() -> TestResult {
    run_inside("app", 80, "inner_nearby_devices_in_the_app")
}

/// Two nearby devices picked together on Home (Ctrl-click) get the files dropped on one of
/// them: each its own request, words checked on its own row, and the file.
#[test]
#[ignore = "needs root"]
fn the_app_sends_to_two_picked_nearby_devices() -> TestResult {
    run_inside("picks", 83, "inner_two_picked_nearby_devices")
}

/// Builds a LAN of namespaces (`tag` and `subnet` as [`Lan::create`] takes them) and runs
/// the ignored test `inner` of this binary inside its `a`, told that `b` holds the peers.
fn run_inside(tag: &str, subnet: u8, inner: &str) -> TestResult {
    assert_root("creating network namespaces");
    // As root, a network that cannot be built is a failure, not a skip.
    let lan = Lan::create(tag, subnet)?;
    let ran = netns::exec(&lan.a, std::env::current_exe()?)
        .args(["--exact", inner, "--ignored", "--nocapture"])
        .env("TOSS_TEST_PEER_NS", &lan.b)
        .output();
    drop(lan);
    let ran = ran?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );
    eprintln!("{log}");
    assert!(ran.status.success(), "the app test failed");
    assert!(log.contains("1 passed"), "the app test did not run:\n{log}");
    Ok(())
}

/// Runs inside namespace `a` only, started by `the_app_sends_to_two_picked_nearby_devices`.
#[tokio::test]
#[ignore = "runs inside a network namespace, started by the_app_sends_to_two_picked_..."]
async fn inner_two_picked_nearby_devices() -> TestResult {
    let peer_ns = std::env::var("TOSS_TEST_PEER_NS")?;
    let tmp = tempfile::tempdir()?;
    let (bea_out, cy_out) = (tmp.path().join("bea"), tmp.path().join("cy"));
    std::fs::create_dir_all(&bea_out)?;
    std::fs::create_dir_all(&cy_out)?;
    let bea = receiver(&peer_ns, "Bea's desk", &bea_out)?;
    let cy = receiver(&peer_ns, "Cy's tablet", &cy_out)?;
    let file = tmp.path().join("minutes.pdf");
    std::fs::write(&file, random_bytes(900_001))?;
    let guard = tempfile::tempdir()?;
    let downloads = guard.path().join("downloads");
    std::fs::create_dir_all(&downloads)?;
    let settings = json!({
        "device_name": "Test desktop",
        "download_dir": downloads,
        "ice_servers": [],
    });
    let app = Desktop::launch_on_lan(&[], &settings.to_string(), guard).await?;
    app.wait_for("both devices were never listed", UI, || async {
        let names = app.device_names("#nearby-list").await?;
        let both =
            names.iter().any(|n| n == "Bea's desk") && names.iter().any(|n| n == "Cy's tablet");
        Ok(both.then_some(()))
    })
    .await?;
    // Ctrl-click picks each: the click as the page gets it from a held Ctrl key.
    for name in ["Bea's desk", "Cy's tablet"] {
        app.client
            .execute(
                "const b = [...document.querySelectorAll('#nearby-list [data-device-id]')]
                   .find((e) => e.querySelector('.device-name').textContent === arguments[0]);
                 b.dispatchEvent(new MouseEvent('click', { bubbles: true, ctrlKey: true }));",
                vec![json!(name)],
            )
            .await?;
    }
    let picked = app.text_when_present("#nearby-selection-text", UI).await?;
    assert!(picked.starts_with("2 devices picked"), "{picked}");
    shot(&app, "nearby-picked.png").await?;
    let bea_button = app.device_center("#nearby-list", "Bea's desk").await?;
    app.drop_file_onto(&file, bea_button, "#sending-heading")
        .await?;
    assert_eq!(
        app.text_when_present("#sending-heading", UI).await?,
        "Send to 2 devices"
    );
    // Each device's row asks about its own words; nothing goes before the answer.
    let mut words = Vec::new();
    for n in 1..=2 {
        app.wait_displayed(&format!("#let-in-{n}"), UI).await?;
        let read = app
            .client
            .execute(
                "return [document.getElementById('receiver-name-' + arguments[0]).textContent,
                         document.getElementById('receiver-words-' + arguments[0]).textContent];",
                vec![json!(n)],
            )
            .await?;
        let (name, said): (String, String) = serde_json::from_value(read)?;
        words.push((name, said));
    }
    let rows: Vec<&str> = words.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        rows,
        ["Bea's desk", "Cy's tablet"],
        "a row per device, in the order picked"
    );
    assert!(names_in(&bea_out)?.is_empty() && names_in(&cy_out)?.is_empty());
    shot(&app, "nearby-two-check.png").await?;
    for n in 1..=2 {
        app.click_when_enabled(&format!("#let-in-{n}"), UI).await?;
        // The row took the answer: its question is gone.
        app.wait_hidden(&format!("#let-in-{n}"), UI).await?;
    }
    let title = match app.text_when_present("#done-title", UI).await {
        Ok(title) => title,
        Err(e) => {
            shot(&app, "nearby-two-stuck.png").await?;
            let rows = app
                .client
                .execute(
                    "return [...document.querySelectorAll('.receiver-row')].map((e) => e.textContent);",
                    vec![],
                )
                .await?;
            return Err(format!("{e}; rows: {rows}").into());
        }
    };
    assert_eq!(title, "Sent 1 file to 2 people");
    for ((name, said), (child, out)) in words.iter().zip([(bea, &bea_out), (cy, &cy_out)]) {
        let done = finish(child, UI)?;
        let got = events(&done);
        assert_eq!(
            event(&got, "peer_connected").map(|p| p["verification"].clone()),
            Some(json!(said)),
            "{name}'s row shows the words {name} was shown"
        );
        assert!(
            same_file(&file, &out.join("minutes.pdf")),
            "{name}: byte-identical"
        );
    }
    app.close().await
}

/// `toss ARGS` on the other computer (namespace `ns`), with no STUN server.
fn toss_in(ns: &str, sub: &str, args: &[&str]) -> Command {
    let mut cmd = netns::exec(ns, desktop::bin("toss"));
    cmd.arg(sub)
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

/// `toss receive` on the other computer, visible as `name` and waiting for a nearby sender;
/// it accepts when asked (without a code the CLI always asks: there is no --yes).
fn receiver(ns: &str, name: &str, out: &Path) -> std::io::Result<Child> {
    let mut child = toss_in(ns, "receive", &["--device-name", name, "--out"])
        .arg(out)
        .stdin(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(b"y\n")?;
    }
    Ok(child)
}

/// Stops `child` as Ctrl-C would (a nearby device then says goodbye) and returns what it
/// printed.
fn interrupt(child: Child) -> toss_testkit::AnyResult<Output> {
    toss_testkit::process::interrupt(&child)?;
    Ok(finish(child, Duration::from_secs(10))?)
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y)
}

/// With `TOSS_SCREENSHOTS` set (`make screenshots`), saves the screen there as `name`.
/// Under load the webview can still be unpainted (one colour) a while after the page is
/// ready: it is looked at again until it is drawn.
async fn shot(app: &Desktop, name: &str) -> TestResult {
    let Some(dir) = std::env::var_os("TOSS_SCREENSHOTS") else {
        return Ok(());
    };
    let path = Path::new(&dir).join(name);
    // The pointer out of the way, so no button looks hovered.
    let _ = Command::new("xdotool")
        .args(["mousemove", "1279", "799"])
        .env("DISPLAY", &app.display)
        .status();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        app.screenshot(&path)?;
        let colours = Command::new("/usr/bin/convert")
            .arg(&path)
            .args(["-format", "%k", "info:"])
            .output()?;
        let colours: u32 = String::from_utf8_lossy(&colours.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        if colours > 2 {
            return Ok(());
        }
    }
    Err(format!("{name}: the window was never drawn").into())
}

/// Runs inside namespace `a` only, started by `the_app_lists_nearby_devices_...`.
#[tokio::test]
#[ignore = "runs inside a network namespace, started by the_app_lists_nearby_devices_..."]
async fn inner_nearby_devices_in_the_app() -> TestResult {
    let peer_ns = std::env::var("TOSS_TEST_PEER_NS")?;
    let started = Instant::now();
    let step = |what: &str| eprintln!("{:>6.1} s: {what}", started.elapsed().as_secs_f64());
    let tmp = tempfile::tempdir()?;
    let (bea_out, cy_out) = (tmp.path().join("bea"), tmp.path().join("cy"));
    std::fs::create_dir_all(&bea_out)?;
    std::fs::create_dir_all(&cy_out)?;
    // Two computers wait, visible, and accept when asked.
    let bea = receiver(&peer_ns, "Bea's desk", &bea_out)?;
    let cy = receiver(&peer_ns, "Cy's tablet", &cy_out)?;

    // A second copy of the app on this computer: the other screen of a send between apps.
    let second_home = tempfile::tempdir()?;
    let second_downloads = second_home.path().join("downloads");
    std::fs::create_dir_all(&second_downloads)?;
    let second_settings = json!({
        "device_name": "Second desktop",
        "download_dir": second_downloads,
        "ice_servers": [],
    });
    let second = Desktop::launch_on_lan(&[], &second_settings.to_string(), second_home).await?;

    let file = tmp.path().join("plans.pdf");
    std::fs::write(&file, random_bytes(700_000))?;
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
    step("before waiting: listed beside the code");
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

    // No code, so the sender checks the words: nothing is offered before the answer.
    step("before waiting: the words to check with Bea");
    let words = app.text_when_present("#check-words", UI).await?;
    assert_eq!(
        app.text_when_present("#check-heading", UI).await?,
        "Check that Bea's desk shows the same two words"
    );
    let status = app.text_content("#status").await?;
    assert!(
        status.contains("Nothing is sent until you answer"),
        "{status}"
    );
    assert!(
        !app.displayed("#progress-overall").await?,
        "no progress yet"
    );
    assert!(
        names_in(&bea_out)?.is_empty(),
        "nothing reached Bea before the answer"
    );
    shot(&app, "nearby-check-words.png").await?;
    app.click_when_enabled("#words-match", UI).await?;
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
    assert_eq!(
        event(&bea_events, "peer_connected").map(|p| p["verification"].clone()),
        Some(json!(words)),
        "Bea was shown the words the app asked about"
    );
    assert!(
        same_file(&file, &bea_out.join("plans.pdf")),
        "byte-identical"
    );

    // Two more computers take one name: Home says so, and tells them apart by id.
    let twins = (tmp.path().join("twin 1"), tmp.path().join("twin 2"));
    let twin_one = toss_in(
        &peer_ns,
        "receive",
        &["--device-name", "Twin laptop", "--out"],
    )
    .arg(&twins.0)
    .spawn()?;
    let twin_two = toss_in(
        &peer_ns,
        "receive",
        &["--device-name", "Twin laptop", "--out"],
    )
    .arg(&twins.1)
    .spawn()?;

    // Home lists who is still there, live: Bea left when done; Cy, the second app and the
    // twins are waiting.
    app.click_when_enabled("#home-button", UI).await?;
    step("before waiting: home list settled");
    let expected = [
        "Cy's tablet",
        "Second desktop",
        "Twin laptop",
        "Twin laptop",
    ];
    let settled = app
        .wait_for("the home list never settled", UI, || async {
            let mut names = app.device_names("#nearby-list").await?;
            names.sort();
            Ok((names == expected).then_some(()))
        })
        .await;
    if let Err(e) = settled {
        let names = app.device_names("#nearby-list").await?;
        return Err(format!("{e}; listed: {names:?}").into());
    }
    let labels = app.device_labels("#nearby-list").await?;
    let twin_labels: Vec<_> = labels.iter().filter(|l| l.0 == "Twin laptop").collect();
    assert_eq!(twin_labels.len(), 2, "{labels:?}");
    for (_, id, note) in &twin_labels {
        assert_eq!(note, "2 devices use this name", "{labels:?}");
        assert!(id.starts_with("id ") && id.len() >= 7, "{labels:?}");
    }
    assert_ne!(twin_labels[0].1, twin_labels[1].1, "told apart: {labels:?}");
    for (name, id, note) in labels.iter().filter(|l| l.0 != "Twin laptop") {
        assert!(
            id.is_empty() && note.is_empty(),
            "{name} is alone: {labels:?}"
        );
    }
    let shared = app.text_when_present("#nearby-shared", UI).await?;
    assert!(shared.contains("same name"), "{shared}");
    let me = app.text_when_present("#nearby-self", UI).await?;
    assert!(me.contains("“Test desktop”, id "), "{me}");
    // The picture is of the Nearby card; the drop below aims in screen pixels from the top.
    app.client
        .execute(
            "document.querySelector('.nearby-card').scrollIntoView({block: 'center'});",
            vec![],
        )
        .await?;
    shot(&app, "nearby-home.png").await?;
    app.client.execute("window.scrollTo(0, 0);", vec![]).await?;
    interrupt(twin_one)?;
    interrupt(twin_two)?;

    // A file dragged from another window and dropped on Cy's button goes to Cy.
    let dropped = tmp.path().join("dropped notes.txt");
    std::fs::write(&dropped, b"dropped on a nearby device")?;
    let cy_button = app.device_center("#nearby-list", "Cy's tablet").await?;
    app.drop_file_onto(&dropped, cy_button, "#sending-heading")
        .await?;
    step("before waiting: dropped on Cy");
    let heading = app.text_when_present("#sending-heading", UI).await?;
    assert_eq!(heading, "Send to Cy's tablet");
    app.click_when_enabled("#words-match", UI).await?;
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

    // A nearby computer asks to send: a banner, not the screen taken over. Ignore drops it.
    let photo = tmp.path().join("photo.jpg");
    std::fs::write(&photo, random_bytes(300_000))?;
    let eve = toss_in(
        &peer_ns,
        "send",
        &["--device-name", "Eve's laptop", "--to", "Test desktop"],
    )
    .arg(&photo)
    .spawn()?;
    step("before waiting: Eve's request");
    let asked = app.text_when_present("#knock-text", UI).await?;
    assert_eq!(asked, "A nearby device wants to send you something.");
    assert!(app.displayed("#screen-home").await?, "Home stays");
    app.click_when_enabled("#knock-ignore", UI).await?;
    app.wait_hidden("#knock-banner", UI).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(app.displayed("#screen-home").await?, "ignored: Home stays");
    assert!(!app.displayed("#screen-receiving").await?, "ignored");
    let eve = interrupt(eve)?;
    assert!(
        event(&events(&eve), "peer_connected").is_none(),
        "an ignored request is never answered"
    );

    // Asked while a settings edit is unsaved: the edit stays, and Show leads to the words
    // and the offer.
    app.click_when_enabled("#settings-button", UI).await?;
    app.replace_text("#settings-device-name", "Renamed desktop")
        .await?;
    let mut sender = toss_in(
        &peer_ns,
        "send",
        &["--device-name", "Dee's phone", "--to", "Test desktop"],
    )
    .arg(&photo)
    .stdin(Stdio::piped())
    .spawn()?;
    step("before waiting: Dee's request over the settings");
    let asked = app.text_when_present("#knock-text", UI).await?;
    assert_eq!(asked, "A nearby device wants to send you something.");
    assert!(app.displayed("#screen-settings").await?, "Settings stay");
    assert_eq!(
        app.value_of("#settings-device-name").await?,
        "Renamed desktop",
        "the unsaved edit stays"
    );
    assert!(!app.displayed("#screen-receiving").await?);
    shot(&app, "nearby-knock.png").await?;
    app.click_when_enabled("#knock-show", UI).await?;
    let words = app.text_when_present("#verification", UI).await?;
    // Dee's user compares the words and answers yes.
    if let Some(mut stdin) = sender.stdin.take() {
        stdin.write_all(b"y\n")?;
    }
    step("before waiting: offer from Dee shown");
    let device = app.text_when_present("#offer-device", UI).await?;
    assert!(device.contains("Dee's phone"), "{device}");
    shot(&app, "nearby-offer.png").await?;
    app.click_when_enabled("#accept-button", UI).await?;
    let title = app.text_when_present("#done-title", UI).await?;
    assert!(title.starts_with("Received"), "{title}");
    step("before waiting: Dee's send to end");
    let sent = finish(sender, UI)?;
    let sent_events = events(&sent);
    assert!(
        event(&sent_events, "done").is_some(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert_eq!(
        event(&sent_events, "check_words").map(|p| p["verification"].clone()),
        Some(json!(words)),
        "Dee was asked about the words the app showed"
    );
    assert!(same_file(&photo, &downloads.join("photo.jpg")));

    // From app to app, the sender says the words differ: both screens say why, and nothing
    // reaches the second app's folder.
    app.click_when_enabled("#home-button", UI).await?;
    let secret = tmp.path().join("secret plans.txt");
    std::fs::write(&secret, b"for the second desktop only")?;
    step("before waiting: the second app listed on Home");
    let second_button = app.device_center("#nearby-list", "Second desktop").await?;
    app.drop_file_onto(&secret, second_button, "#sending-heading")
        .await?;
    let heading = app.text_when_present("#sending-heading", UI).await?;
    assert_eq!(heading, "Send to Second desktop");
    step("before waiting: the second app's request");
    let asked = second.text_when_present("#knock-text", UI).await?;
    assert_eq!(asked, "A nearby device wants to send you something.");
    second.click_when_enabled("#knock-show", UI).await?;
    let theirs = second.text_when_present("#verification", UI).await?;
    let mine = app.text_when_present("#check-words", UI).await?;
    assert_eq!(mine, theirs, "no one is in the middle here");
    app.click_when_enabled("#words-differ", UI).await?;
    step("before waiting: both apps stopped");
    assert_eq!(
        app.text_when_present("#error-title", UI).await?,
        "The words were different"
    );
    let message = app.text_when_present("#error-message", UI).await?;
    assert!(message.contains("nothing was sent"), "{message}");
    shot(&app, "nearby-words-differ.png").await?;
    assert_eq!(
        second.text_when_present("#error-title", UI).await?,
        "The other side stopped the transfer"
    );
    let message = second.text_when_present("#error-message", UI).await?;
    assert!(message.contains("other verification words"), "{message}");
    assert!(
        names_in(&second_downloads)?.is_empty(),
        "nothing on disk: {:?}",
        names_in(&second_downloads)?
    );
    second.close().await?;

    // Marked public, this network no longer sees the app, and the app says why.
    app.click_when_enabled("#back-home", UI).await?;
    app.click_when_enabled("#settings-button", UI).await?;
    app.click_when_enabled("#settings-public-network", UI)
        .await?;
    app.click_when_enabled("#settings-save", UI).await?;
    step("before waiting: hidden");
    let hint = app.text_when_present("#nearby-hint", UI).await?;
    assert_eq!(hint, "Hidden on this network: you marked it as public.");
    let seen = toss_in(&peer_ns, "devices", &["--wait", "3"]).output()?;
    let seen = String::from_utf8_lossy(&seen.stdout).into_owned();
    assert!(!seen.contains("Test desktop"), "still visible: {seen}");
    let saved = std::fs::read_to_string(app.home_dir().join("config/toss/settings.json"))?;
    assert!(saved.contains("169.254.80.0/24"), "{saved}");
    app.close().await
}
