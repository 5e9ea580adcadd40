//! End-to-end tests of the real desktop app: the `toss-desktop` binary in a real WebKitGTK
//! webview under Xvfb, driven through WebDriver (tauri-driver + WebKitWebDriver), with the
//! `toss` CLI and a real `toss-signal` process as the other computer. Everything stays on
//! loopback (`TOSS_LOOPBACK`), and every wait is bounded.

#![cfg(target_os = "linux")]

mod desktop;

use std::path::Path;
use std::time::Duration;

use desktop::{Desktop, Other, Res, TestResult};
use toss_testkit::data::{names_in, random_bytes};
use toss_testkit::process::wait;

/// Longest wait for anything the UI should show.
const UI: Duration = Duration::from_secs(60);

#[tokio::test]
async fn app_started_with_files_sends_them_to_toss_receive() -> TestResult {
    let other = Other::start()?;
    let file = other.tmp.path().join("launch args.bin");
    let data = random_bytes(2 * 1024 * 1024 + 3);
    std::fs::write(&file, &data)?;
    let app = Desktop::launch(&other, &[file.to_string_lossy().as_ref()]).await?;
    let code = app.text_when_present("#send-code", UI).await?;
    assert!(
        code.parse::<toss_core::Code>().is_ok(),
        "a code is shown: {code:?}"
    );
    let out = other.tmp.path().join("received");
    let recv = other
        .toss(&[
            "receive",
            "--json",
            "--yes",
            "--out",
            &out.to_string_lossy(),
            &code,
        ])
        .output()?;
    assert!(
        recv.status.success(),
        "{}",
        String::from_utf8_lossy(&recv.stderr)
    );
    assert_eq!(std::fs::read(out.join("launch args.bin"))?, data);
    let title = app.text_when_present("#done-title", UI).await?;
    assert!(title.starts_with("Sent"), "{title}");
    app.close().await
}

#[tokio::test]
async fn toss_send_to_the_app_after_typing_the_code_and_accepting() -> TestResult {
    let other = Other::start()?;
    let file = other.tmp.path().join("holiday.jpg");
    let data = random_bytes(1024 * 1024);
    std::fs::write(&file, &data)?;
    let (mut sender, code) = other.send_json(&file)?;
    let app = Desktop::launch(&other, &[]).await?;
    app.type_into("#code-input", &code).await?;
    app.click_when_enabled("#receive-button", UI).await?;
    let device = app.text_when_present("#offer-device", UI).await?;
    assert!(device.contains("cli-sender"), "{device}");
    let summary = app.text_when_present("#offer-summary", UI).await?;
    assert!(summary.contains("1 file"), "{summary}");
    app.click_when_enabled("#accept-button", UI).await?;
    let title = app.text_when_present("#done-title", UI).await?;
    assert!(title.starts_with("Received"), "{title}");
    assert!(
        app.displayed("#show-in-folder").await?,
        "Show in folder is offered"
    );
    assert_eq!(std::fs::read(app.download_dir().join("holiday.jpg"))?, data);
    assert!(wait(&mut sender, UI)?.success());
    app.close().await
}

#[tokio::test]
async fn a_wrong_code_says_so() -> TestResult {
    let other = Other::start()?;
    let file = other.tmp.path().join("secret.txt");
    std::fs::write(&file, b"secret")?;
    let (mut sender, code) = other.send_json(&file)?;
    let nameplate = code.split('-').next().unwrap_or_default();
    let wrong = if code.ends_with("-acid-acid") {
        format!("{nameplate}-acorn-acorn")
    } else {
        format!("{nameplate}-acid-acid")
    };
    let app = Desktop::launch(&other, &[]).await?;
    app.type_into("#code-input", &wrong).await?;
    app.click_when_enabled("#receive-button", UI).await?;
    assert_eq!(
        app.text_when_present("#error-title", UI).await?,
        "Wrong code"
    );
    let message = app.text_when_present("#error-message", UI).await?;
    assert!(message.starts_with("The code was mistyped"), "{message}");
    assert!(!wait(&mut sender, UI)?.success());
    assert!(names_in(&app.download_dir())?.is_empty());
    app.close().await
}

#[tokio::test]
async fn declining_leaves_nothing_on_disk() -> TestResult {
    let other = Other::start()?;
    let file = other.tmp.path().join("unwanted.zip");
    std::fs::write(&file, b"zip")?;
    let (mut sender, code) = other.send_json(&file)?;
    let app = Desktop::launch(&other, &[]).await?;
    app.type_into("#code-input", &code).await?;
    app.click_when_enabled("#receive-button", UI).await?;
    app.click_when_enabled("#decline-button", UI).await?;
    let status = wait(&mut sender, UI)?;
    assert!(!status.success(), "the sender is told no");
    assert!(names_in(&app.download_dir())?.is_empty());
    app.close().await
}

#[tokio::test]
async fn settings_survive_a_restart() -> TestResult {
    let other = Other::start()?;
    let app = Desktop::launch(&other, &[]).await?;
    app.click_when_enabled("#settings-button", UI).await?;
    app.replace_text("#settings-device-name", "Kitchen laptop")
        .await?;
    app.click_when_enabled("#settings-relay-only", UI).await?;
    // A TURN server without its user name and password is refused, and nothing is saved.
    app.replace_text("#settings-ice-servers", "turn:127.0.0.1:3478")
        .await?;
    app.click_when_enabled("#settings-save", UI).await?;
    let error = app.text_when_present("#settings-error", UI).await?;
    assert!(
        error.contains("needs a user name and a password"),
        "{error}"
    );
    app.replace_text("#settings-ice-servers", "turn:127.0.0.1:3478")
        .await?;
    app.replace_text("#settings-turn-username", "toss").await?;
    app.replace_text("#settings-turn-credential", "secret")
        .await?;
    app.click_when_enabled("#settings-save", UI).await?;
    app.wait_hidden("#screen-settings", UI).await?;
    let home = app.close_keeping_home().await?.ok_or("home folder")?;
    let saved = std::fs::read_to_string(home.path().join("config/toss/settings.json"))?;
    assert!(saved.contains("Kitchen laptop"), "{saved}");
    assert!(saved.contains("\"relay_only\": true"), "{saved}");
    let app = Desktop::relaunch(home).await?;
    app.click_when_enabled("#settings-button", UI).await?;
    assert_eq!(
        app.value_of("#settings-device-name").await?,
        "Kitchen laptop"
    );
    assert!(app.is_checked("#settings-relay-only").await?);
    app.close().await
}

#[tokio::test]
async fn a_first_start_with_no_server_says_once_that_codes_stay_on_this_network() -> TestResult {
    if toss_core::defaults::BAKED_SIGNAL_URL.is_some() {
        return Ok(());
    }
    let home = tempfile::tempdir()?;
    let settings = serde_json::json!({ "device_name": "Test desktop", "ice_servers": [] });
    let app = Desktop::launch_with_settings(&[], &settings.to_string(), home).await?;
    let notice = app.text_when_present("#notice-text", UI).await?;
    assert!(
        notice.contains("codes work on this network only") && notice.contains("Settings"),
        "{notice}"
    );
    app.click_when_enabled("#notice-dismiss", UI).await?;
    app.wait_hidden("#notice", UI).await?;
    let home = app.close_keeping_home().await?.ok_or("home folder")?;
    assert!(home
        .path()
        .join("data/toss/no-server-notice-shown")
        .exists());
    let app = Desktop::relaunch(home).await?;
    app.wait_displayed("#screen-home", UI).await?;
    // The notice would come from a call the page makes as it starts: give it time to.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!app.displayed("#notice").await?, "said again");
    app.close().await
}

/// What a server's page links to with "Use this server in Toss" (web/src/signal.js).
const INVITE: &str = "toss://server?url=wss%3A%2F%2Fvps.toss.test%2F";

/// The saved settings' signaling server in the home folder `home`.
fn saved_server(home: &Path) -> Res<String> {
    let text = std::fs::read_to_string(home.join("config/toss/settings.json"))?;
    let saved: serde_json::Value = serde_json::from_str(&text)?;
    Ok(saved["signal_url"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_servers_invite_asks_first_then_sets_the_server_for_good() -> TestResult {
    let other = Other::start()?;
    // The link comes as an argument, as the desktop file's %U passes it.
    let app = Desktop::launch(&other, &[INVITE]).await?;
    let asked = app.text_when_present("#invite-text", UI).await?;
    assert_eq!(asked, "Use the signaling server wss://vps.toss.test?");
    assert_eq!(
        saved_server(app.home_dir())?,
        other.url,
        "taken before the person said yes"
    );
    app.click_when_enabled("#invite-accept", UI).await?;
    app.wait_hidden("#invite-banner", UI).await?;
    let notice = app.text_when_present("#notice-text", UI).await?;
    assert_eq!(notice, "Toss now uses wss://vps.toss.test for its codes.");
    let home = app.close_keeping_home().await?.ok_or("home folder")?;
    assert_eq!(saved_server(home.path())?, "wss://vps.toss.test");
    // A plain start afterwards: the server stays, and nothing is asked.
    let app = Desktop::relaunch(home).await?;
    app.click_when_enabled("#settings-button", UI).await?;
    assert_eq!(
        app.value_of("#settings-signal-url").await?,
        "wss://vps.toss.test"
    );
    assert!(!app.displayed("#invite-banner").await?, "asked again");
    app.close().await
}

#[tokio::test]
async fn not_now_keeps_the_server_and_a_bad_invite_says_why() -> TestResult {
    let other = Other::start()?;
    let app = Desktop::launch(&other, &[INVITE]).await?;
    app.click_when_enabled("#invite-decline", UI).await?;
    app.wait_hidden("#invite-banner", UI).await?;
    let home = app.close_keeping_home().await?.ok_or("home folder")?;
    assert_eq!(saved_server(home.path())?, other.url);

    let app = Desktop::launch(&other, &["toss://server?url=http%3A%2F%2Fvps.toss.test"]).await?;
    let notice = app.text_when_present("#notice-text", UI).await?;
    assert_eq!(
        notice,
        "The invite's \"http://vps.toss.test\" is not a signaling server address: use ws:// or \
         wss:// followed by the server's name, like wss://toss.example.org."
    );
    assert!(!app.displayed("#invite-banner").await?);
    assert_eq!(saved_server(app.home_dir())?, other.url);
    app.close().await
}

#[tokio::test]
async fn damaged_settings_keep_the_defaults_and_say_so() -> TestResult {
    let home = tempfile::tempdir()?;
    let app = Desktop::launch_with_settings(&[], "{ this is not json", home).await?;
    let notice = app.text_when_present("#notice-text", UI).await?;
    assert!(
        notice.contains("damaged") && notice.contains("defaults"),
        "{notice}"
    );
    app.click_when_enabled("#settings-button", UI).await?;
    assert_eq!(
        app.value_of("#settings-signal-url").await?,
        toss_core::defaults::SIGNAL_URL
    );
    app.close().await
}

/// A real OS drag and drop: a GTK drag source window offers a file, xdotool drags it onto
/// the app's drop zone, and the app starts sending it.
#[tokio::test]
async fn dropping_a_file_on_the_window_sends_it() -> TestResult {
    let other = Other::start()?;
    let file = other.tmp.path().join("dropped file.txt");
    std::fs::write(&file, b"dropped on the window")?;
    let app = Desktop::launch(&other, &[]).await?;
    app.drop_file_onto(&file, (360, 225), "#send-code").await?;
    let code = app.text_when_present("#send-code", UI).await?;
    let listed = app.text_content("#file-list").await?;
    assert!(listed.contains("dropped file.txt"), "{listed}");
    let out = other.tmp.path().join("received");
    let recv = other
        .toss(&["receive", "--yes", "--out", &out.to_string_lossy(), &code])
        .output()?;
    assert!(
        recv.status.success(),
        "{}",
        String::from_utf8_lossy(&recv.stderr)
    );
    assert_eq!(
        std::fs::read(out.join("dropped file.txt"))?,
        b"dropped on the window"
    );
    app.close().await
}

/// The text of the element with id `id`, read by a script: WebKit's WebDriver calls the
/// spans of a receiver's row not displayed, though they are on the screen.
async fn text_of(app: &Desktop, id: &str) -> Res<String> {
    let read = app
        .client
        .execute(
            "const e = document.getElementById(arguments[0]); return e ? e.textContent : null;",
            vec![serde_json::json!(id)],
        )
        .await?;
    Ok(read.as_str().ok_or(format!("no #{id}"))?.to_owned())
}

/// "Let several people receive": a folder (with a 300 MiB file in it) dropped on the window
/// goes to three `toss receive` processes with one code. Each receiver shows up on its own row with its device
/// name and the words its own screen shows, is let in with its own button, and gets the
/// folder byte for byte; each row ends saying so.
#[tokio::test]
async fn the_app_sends_a_folder_to_three_receivers_with_one_code() -> TestResult {
    let other = Other::start()?;
    let folder = other.tmp.path().join("Trip");
    std::fs::create_dir_all(&folder)?;
    let big = random_bytes(300 * 1024 * 1024 + 5);
    let small = random_bytes(4321);
    std::fs::write(folder.join("film.mov"), &big)?;
    std::fs::write(folder.join("notes.txt"), &small)?;
    let app = Desktop::launch(&other, &[]).await?;
    app.click_when_enabled("#group-toggle", UI).await?;
    assert!(app.is_checked("#group-toggle").await?);
    assert_eq!(app.value_of("#group-count").await?, "3");
    app.drop_file_onto(&folder, (360, 225), "#send-code")
        .await?;
    let code = app.text_when_present("#send-code", UI).await?;
    let label = app.text_content("#code-label").await?;
    assert_eq!(label, "Tell up to 3 people this code");

    let mut receivers = Vec::new();
    for name in ["ana", "ben", "chloe"] {
        let out = other.tmp.path().join(format!("out-{name}"));
        let mut child = other
            .toss(&[
                "receive",
                "--json",
                "--yes",
                "--out",
                &out.to_string_lossy(),
                &code,
            ])
            .env("TOSS_DEVICE_NAME", name)
            .env("TOSS_LOG", "toss_core=debug")
            .stderr(std::fs::File::create(
                other.tmp.path().join(format!("{name}.log")),
            )?)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("stdout")?;
        receivers.push((name, out, child, std::io::BufReader::new(stdout)));
    }
    // Each receiver's words, from its own first events.
    let mut words = std::collections::HashMap::new();
    for (name, _, _, stdout) in &mut receivers {
        let mut line = String::new();
        loop {
            line.clear();
            if std::io::BufRead::read_line(stdout, &mut line)? == 0 {
                return Err(format!("{name} ended before its words").into());
            }
            let event: serde_json::Value = serde_json::from_str(&line)?;
            if event["event"] == "peer_connected" {
                words.insert(
                    name.to_string(),
                    event["verification"].as_str().unwrap_or("").to_owned(),
                );
                break;
            }
        }
    }
    for n in 1..=3 {
        app.wait_displayed(&format!("#let-in-{n}"), UI).await?;
        if let Some(dir) = std::env::var_os("TOSS_SCREENSHOTS") {
            app.screenshot(&std::path::Path::new(&dir).join(format!("group-ask-{n}.png")))?;
        }
        let name = text_of(&app, &format!("receiver-name-{n}")).await?;
        let shown = text_of(&app, &format!("receiver-words-{n}")).await?;
        assert_eq!(
            words.get(&name),
            Some(&shown),
            "row {n} shows {name} with the words {name}'s own screen shows"
        );
        app.click_when_enabled(&format!("#let-in-{n}"), UI).await?;
        // The row took the answer: its question is gone.
        app.wait_hidden(&format!("#let-in-{n}"), UI).await?;
    }
    // Each receiver's events are read to the end beside it: a pipe nobody reads would
    // stop it at its next progress line.
    let receivers: Vec<_> = receivers
        .into_iter()
        .map(|(name, out, child, mut stdout)| {
            let rest = std::thread::spawn(move || {
                std::io::copy(&mut stdout, &mut std::io::sink()).map(|_| ())
            });
            (name, out, child, rest)
        })
        .collect();
    // Three copies of 300 MiB on a busy machine: more than one UI wait.
    let transfer = Duration::from_secs(240);
    for (name, out, mut child, rest) in receivers {
        let ended = wait(&mut child, transfer);
        // A receiver that failed or hung says what it was doing last.
        if !matches!(ended, Ok(status) if status.success()) {
            let log = std::fs::read_to_string(other.tmp.path().join(format!("{name}.log")))?;
            panic!(
                "{name}: {ended:?}; the end of its log:\n{}",
                desktop::last_lines(&log, 60)
            );
        }
        rest.join()
            .map_err(|_| "the reader of a receiver's events")??;
        assert_eq!(std::fs::read(out.join("Trip/film.mov"))?, big, "{name}");
        assert_eq!(std::fs::read(out.join("Trip/notes.txt"))?, small, "{name}");
        assert_eq!(names_in(&out)?, ["Trip"]);
    }
    let title = app.text_when_present("#done-title", transfer).await?;
    assert_eq!(title, "Sent 2 files to 3 people");
    for n in 1..=3 {
        let state = text_of(&app, &format!("receiver-state-{n}")).await?;
        assert_eq!(state, "Got every file.", "receiver {n}");
    }
    let total = app.text_content("#group-total").await?;
    assert_eq!(total, "3 of 3 receivers have everything");
    if let Some(dir) = std::env::var_os("TOSS_SCREENSHOTS") {
        app.screenshot(&std::path::Path::new(&dir).join("group-done.png"))?;
    }
    app.close().await
}
