//! Not a test: takes a screenshot of each screen of the real app under Xvfb into
//! `docs/screenshots/`, for people to look at. Run with `make screenshots`.

#![cfg(target_os = "linux")]

mod desktop;

use std::time::Duration;

use desktop::{Desktop, Other, TestResult};
use toss_testkit::data::random_bytes;
use toss_testkit::process::wait;

const UI: Duration = Duration::from_secs(60);

#[tokio::test]
#[ignore = "writes docs/screenshots; run with make screenshots"]
async fn screenshots() -> TestResult {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&dir)?;
    let other = Other::start()?;

    // Home, then the sender's screen for a folder passed on the command line.
    let folder = other.tmp.path().join("Holiday photos");
    std::fs::create_dir_all(&folder)?;
    for (i, size) in [3_400_000usize, 2_100_000, 5_800_000].iter().enumerate() {
        std::fs::write(
            folder.join(format!("IMG_20{i:02}.jpg")),
            random_bytes(*size),
        )?;
    }
    let app = Desktop::launch(&other, &[]).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.screenshot(&dir.join("home.png"))?;
    app.close().await?;

    let app = Desktop::launch(&other, &[folder.to_string_lossy().as_ref()]).await?;
    app.text_when_present("#send-code", UI).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.screenshot(&dir.join("sending.png"))?;
    app.close().await?;

    // Receiving: the offer, progress mid-way, and done.
    let big = other.tmp.path().join("Film night.mkv");
    std::fs::write(&big, random_bytes(160 * 1024 * 1024))?;
    // Small packets: slow enough to be caught mid-way.
    let mut sender = other
        .toss(&["send", "--json", "--small-packets", &big.to_string_lossy()])
        .spawn()?;
    // Kept open until the sender ends: it writes its events there.
    let mut sender_out = std::io::BufReader::new(sender.stdout.take().ok_or("stdout")?);
    let code = {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut sender_out, &mut line)?;
        let event: serde_json::Value = serde_json::from_str(&line)?;
        event["code"].as_str().ok_or("no code event")?.to_owned()
    };
    let app = Desktop::launch(&other, &[]).await?;
    app.type_into("#code-input", &code).await?;
    app.click_when_enabled("#receive-button", UI).await?;
    app.text_when_present("#offer-device", UI).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.screenshot(&dir.join("offer.png"))?;
    app.click_when_enabled("#accept-button", UI).await?;
    app.text_when_present("#progress-text", UI).await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    app.screenshot(&dir.join("progress.png"))?;
    app.text_when_present("#done-title", Duration::from_secs(300))
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.screenshot(&dir.join("done.png"))?;
    std::io::copy(&mut sender_out, &mut std::io::sink())?;
    wait(&mut sender, UI)?;
    app.close().await?;

    // A wrong code.
    let small = other.tmp.path().join("notes.txt");
    std::fs::write(&small, b"notes")?;
    let (mut sender, code) = other.send_json(&small)?;
    let nameplate = code.split('-').next().unwrap_or_default();
    let app = Desktop::launch(&other, &[]).await?;
    app.type_into("#code-input", &format!("{nameplate}-acid-acid"))
        .await?;
    app.click_when_enabled("#receive-button", UI).await?;
    app.text_when_present("#error-title", UI).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.screenshot(&dir.join("error.png"))?;
    let _ = wait(&mut sender, UI);
    app.close().await?;

    // Settings.
    let app = Desktop::launch(&other, &[]).await?;
    app.click_when_enabled("#settings-button", UI).await?;
    app.wait_displayed("#settings-device-name", UI).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.screenshot(&dir.join("settings.png"))?;
    app.close().await?;

    // A server's invite, opened with the app: asked before anything changes.
    let invite = "toss://server?url=wss%3A%2F%2Ftoss.example.org";
    let app = Desktop::launch(&other, &[invite]).await?;
    app.wait_displayed("#invite-banner", UI).await?;
    // WebKit paints the banner a moment after it is in the page.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    app.screenshot(&dir.join("invite.png"))?;
    app.close().await?;

    // One code for three people: the first one asks to be let in, then all three receive.
    let trip = other.tmp.path().join("Trip");
    std::fs::create_dir_all(&trip)?;
    std::fs::write(trip.join("film.mov"), random_bytes(192 * 1024 * 1024))?;
    std::fs::write(trip.join("notes.txt"), b"ferry at nine")?;
    let app = Desktop::launch(&other, &[]).await?;
    app.click_when_enabled("#group-toggle", UI).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.screenshot(&dir.join("group-home.png"))?;
    app.drop_file_onto(&trip, (360, 225), "#send-code").await?;
    let code = app.text_when_present("#send-code", UI).await?;
    let receive = |name: &str| {
        let out = other.tmp.path().join(format!("group-{name}"));
        other
            .toss(&[
                "receive",
                "--yes",
                "--small-packets",
                "--out",
                &out.to_string_lossy(),
                &code,
            ])
            .env("TOSS_DEVICE_NAME", name)
            .spawn()
    };
    let mut receivers = vec![receive("Ana's laptop")?];
    app.wait_displayed("#let-in-1", UI).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.screenshot(&dir.join("group-asking.png"))?;
    receivers.push(receive("Ben's desktop")?);
    receivers.push(receive("Chloe")?);
    for n in 1..=3 {
        app.click_when_enabled(&format!("#let-in-{n}"), UI).await?;
    }
    app.wait_displayed(".receiver-progress", UI).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.screenshot(&dir.join("group-progress.png"))?;
    app.text_when_present("#done-title", Duration::from_secs(300))
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.screenshot(&dir.join("group-done.png"))?;
    for mut r in receivers {
        wait(&mut r, UI)?;
    }
    app.close().await
}
