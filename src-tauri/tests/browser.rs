//! The desktop app and a browser tab together: the real app (WebKitGTK under Xvfb, driven
//! through tauri-driver, as in e2e.rs) sends a folder to the web peer in Chromium, opened
//! from the app's link, and Chromium sends a folder back; both arrive byte-identical (in
//! Chromium as one streamed zip of the folder, in the app as the folder itself), and each
//! time both screens show the same two words.
//!
//! A home network of two computers made by the test (`Lan::home`: private addresses, a
//! default route, multicast, nothing routed anywhere): the app in namespace a (its Xvfb,
//! tauri-driver, WebKitWebDriver and the app itself started from a thread inside a), and in
//! b a real `toss-signal` on 0.0.0.0 and Chromium (headless, WebRTC at its defaults), which
//! opens the page at `http://127.0.0.1:PORT/`, a secure context. The app's settings point it
//! at `ws://192.168.82.2:PORT`. Chromium hides its host address behind a random `.local`
//! name, which the app's core must resolve over mDNS: no STUN or TURN server exists here.
//!
//! Two threads, one per namespace ([`netns::run_in`]), tell each other the code and the
//! words over channels, and each waits for the other only where a person would: the
//! receiver accepts once the words are compared.
//!
//! Namespaces need root: the test is ignored as "needs root", and `make test` runs it when
//! it runs as root.

#![cfg(target_os = "linux")]

mod desktop;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use desktop::{Desktop, TestResult};
use serde_json::json;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use toss_testkit::browser::{list, Browser, Options};
use toss_testkit::browser_extra::{
    catch_console, chromium_downloads, shown, stream_saver_state, wait_state,
};
use toss_testkit::data::{names_in, random_file, same_bytes};
use toss_testkit::netns::{self, Lan};
use toss_testkit::process::assert_root;
use toss_testkit::signal::SignalProcess;
use toss_testkit::AnyResult;

/// The home network's /24: a (the app) is 192.168.82.1, b (Chromium, `toss-signal`)
/// 192.168.82.2.
const SUBNET: u8 = 82;
/// Where the app reaches the signaling server in b.
const B_ADDR: &str = "192.168.82.2";

/// The folder the app sends to Chromium: three files, one in a subfolder.
const TO_CHROMIUM: (&str, [(&str, usize); 3]) = (
    "holiday from the app",
    [
        ("beach.mov", 20 << 20),
        ("notes.txt", 1_234),
        ("day 2/hill.png", 3 << 20),
    ],
);
/// The folder Chromium sends to the app.
const TO_APP: (&str, [(&str, usize); 3]) = (
    "photos from chromium",
    [("a.jpg", 12 << 20), ("b.txt", 777), ("more/c.png", 2 << 20)],
);

/// Longest anything the app's screen should show may take to appear.
const UI: Duration = Duration::from_secs(60);
/// Longest the page may take to load and show its home screen.
const LOAD: Duration = Duration::from_secs(30);
/// Longest one step on the page may take to appear.
const STEP: Duration = Duration::from_secs(15);
/// Longest from a code typed to the two sides paired and connected (PAKE, then ICE through
/// Chromium's mDNS host name).
const SETUP: Duration = Duration::from_secs(60);
/// Longest one of the transfers may take, saving included.
const TRANSFER: Duration = Duration::from_secs(120);
/// Longest one side waits for the other to say something (the other side's own waits
/// are shorter, so it fails first and says why).
const OTHER_SIDE: Duration = Duration::from_secs(240);

/// What one side tells the other: what it is (for messages) and the text.
type Said = (&'static str, String);

/// Waits, at most [`OTHER_SIDE`], for the other side to say `what`.
async fn hear(from: &mut UnboundedReceiver<Said>, what: &str) -> AnyResult<String> {
    match tokio::time::timeout(OTHER_SIDE, from.recv()).await {
        Ok(Some((said, text))) if said == what => Ok(text),
        Ok(Some((said, text))) => {
            Err(format!("waiting for {what}, the other side said {said} {text:?}").into())
        }
        Ok(None) => Err(format!("the other side stopped before saying {what}").into()),
        Err(_) => Err(format!("the other side did not say {what} within {OTHER_SIDE:?}").into()),
    }
}

/// Tells the other side `what`.
fn say(to: &UnboundedSender<Said>, what: &'static str, text: &str) -> AnyResult<()> {
    to.send((what, text.to_owned()))
        .map_err(|_| format!("the other side stopped before it was told {what}").into())
}

/// What a thread that ended in a panic said.
fn panic_text(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Makes the folder `spec` in `root`, of random files; returns its path.
fn make_folder(root: &Path, spec: &(&str, [(&str, usize); 3])) -> std::io::Result<PathBuf> {
    let dir = root.join(spec.0);
    for (name, size) in spec.1 {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap_or(&dir))?;
        random_file(&path, size)?;
    }
    Ok(dir)
}

/// Which files of folder `spec` (sent from `sent`) are missing from `got` or differ there,
/// and which files `got` holds beyond them.
fn folder_differences(sent: &Path, got: &Path, spec: &(&str, [(&str, usize); 3])) -> Vec<String> {
    let mut wrong: Vec<String> = spec
        .1
        .iter()
        .filter(|(name, _)| !same_bytes(&sent.join(name), &got.join(name)).unwrap_or(false))
        .map(|(name, _)| format!("{name} missing or different"))
        .collect();
    let mut held = Vec::new();
    let mut dirs = vec![got.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(rel) = path.strip_prefix(got) {
                held.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    held.retain(|h| !spec.1.iter().any(|(name, _)| h == name));
    wrong.extend(held.into_iter().map(|h| format!("{h} not sent")));
    wrong
}

/// Waits, at most `limit`, until `dir` holds `name` and no download is under way.
async fn wait_for_saved(dir: &Path, name: &str, limit: Duration) -> AnyResult<PathBuf> {
    let started = Instant::now();
    while started.elapsed() < limit {
        let listing = list(dir);
        let busy = listing.iter().any(|(n, _)| n.ends_with(".crdownload"));
        if !busy && listing.iter().any(|(n, _)| n == name) {
            return Ok(dir.join(name));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "{name} was not saved within {limit:?}: the folder holds {:?}",
        list(dir)
    )
    .into())
}

/// Unpacks the zip at `zip` into `into`, with Python's zipfile (python3 is on every machine
/// the tests run on: scripts/setup.sh installs python3-gi).
fn unzip(zip: &Path, into: &Path) -> AnyResult<()> {
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
        ])
        .arg(zip)
        .arg(into)
        .status()?;
    if !status.success() {
        return Err(format!("{} is not a zip that unpacks ({status})", zip.display()).into());
    }
    Ok(())
}

#[test]
#[ignore = "needs root"]
fn the_app_and_chromium_send_to_each_other_on_a_home_network() -> TestResult {
    assert_root("creating network namespaces");
    let signal_bin = desktop::bin("toss-signal");
    assert!(
        signal_bin.is_file(),
        "{} is missing: build the workspace's binaries (cargo build --workspace --bins)",
        signal_bin.display()
    );
    // As root, a network that cannot be built is a failure, not a skip.
    let lan = Lan::home("wb", SUBNET)?;
    let server = SignalProcess::start_with(netns::exec(&lan.b, &signal_bin), "0.0.0.0:0")?;
    let port: u16 = server
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("no port in {}", server.url))?;
    let tmp = tempfile::tempdir()?;
    let to_chromium = make_folder(tmp.path(), &TO_CHROMIUM)?;
    let to_app = make_folder(tmp.path(), &TO_APP)?;

    let (app_says, browser_hears) = unbounded_channel();
    let (browser_says, app_hears) = unbounded_channel();
    let (a, b) = (lan.a.clone(), lan.b.clone());
    let app = {
        let file = to_chromium.clone();
        let sent_back = to_app.clone();
        std::thread::spawn(move || {
            netns::run_in(&a, move || {
                app_side(port, file, sent_back, app_says, app_hears)
            })
            .map_err(|e| e.to_string())
        })
    };
    let browser = std::thread::spawn(move || {
        netns::run_in(&b, move || {
            browser_side(port, to_chromium, to_app, browser_says, browser_hears)
        })
        .map_err(|e| e.to_string())
    });
    let app = app
        .join()
        .map_err(panic_text)
        .and_then(|r| r.map_err(|e| e.to_string()));
    let browser = browser
        .join()
        .map_err(panic_text)
        .and_then(|r| r.map_err(|e| e.to_string()));
    drop(server);
    drop(lan);
    match (app, browser) {
        (Ok(()), Ok(())) => Ok(()),
        (app, browser) => Err(format!(
            "the app's side: {}\n\nChromium's side: {}",
            app.err().unwrap_or_else(|| "ok".into()),
            browser.err().unwrap_or_else(|| "ok".into())
        )
        .into()),
    }
}

/// Inside a: the app sends the folder `file` to whoever uses its code, then receives the
/// folder Chromium sends with the code it is told (`sent_back`, for comparing).
async fn app_side(
    port: u16,
    file: PathBuf,
    sent_back: PathBuf,
    says: UnboundedSender<Said>,
    mut hears: UnboundedReceiver<Said>,
) -> TestResult {
    let guard = tempfile::tempdir()?;
    let downloads = guard.path().join("downloads");
    std::fs::create_dir_all(&downloads)?;
    let signal = format!("ws://{B_ADDR}:{port}");
    let settings = json!({
        "device_name": "Test desktop",
        "download_dir": downloads,
        "signal_url": signal,
        "ice_servers": [],
    });
    let app = Desktop::launch_on_lan(
        &[file.to_string_lossy().as_ref()],
        &settings.to_string(),
        guard,
    )
    .await?;

    // The app sends: its link to the page on its server (with the code) to Chromium.
    let code = app.text_when_present("#send-code", UI).await?;
    let link = app.text_when_present("#send-link", UI).await?;
    assert_eq!(
        link,
        format!("http://{B_ADDR}:{port}/#{code}"),
        "the app's link to the web peer"
    );
    say(&says, "the app's link", &link)?;
    let words = app.text_when_present("#verification", SETUP).await?;
    say(&says, "the app's words", &words)?;
    let title = app.text_when_present("#done-title", TRANSFER).await?;
    assert!(title.starts_with("Sent"), "the app says {title:?}");
    app.click_when_enabled("#home-button", UI).await?;

    // Chromium sends: the app types its code, the words are compared, the app accepts.
    let code = hear(&mut hears, "Chromium's code").await?;
    app.type_into("#code-input", &code).await?;
    app.click_when_enabled("#receive-button", UI).await?;
    let words = app.text_when_present("#verification", SETUP).await?;
    say(&says, "the app's words", &words)?;
    let device = app.text_when_present("#offer-device", UI).await?;
    assert!(
        device.contains("Chromium"),
        "the app says the offer is from {device:?}"
    );
    let summary = app.text_when_present("#offer-summary", UI).await?;
    assert!(
        summary.contains("3 files"),
        "the app's offer says {summary:?}"
    );
    hear(&mut hears, "the words compared").await?;
    app.click_when_enabled("#accept-button", UI).await?;
    let title = app.text_when_present("#done-title", TRANSFER).await?;
    assert!(title.starts_with("Received"), "the app says {title:?}");
    let got = downloads.join(TO_APP.0);
    let wrong = folder_differences(&sent_back, &got, &TO_APP);
    assert!(
        wrong.is_empty(),
        "the folder {} did not arrive byte-identical in the app's downloads, which hold {:?}: \
         {wrong:?}",
        TO_APP.0,
        names_in(&downloads)
    );
    app.close().await
}

/// Inside b: Chromium opens the app's link and receives its folder, then sends the folder
/// `to_app` and tells the app its code.
async fn browser_side(
    port: u16,
    from_app: PathBuf,
    to_app: PathBuf,
    says: UnboundedSender<Said>,
    mut hears: UnboundedReceiver<Said>,
) -> TestResult {
    let browser = Browser::chromium(Options::default()).await?;
    let page = format!("http://127.0.0.1:{port}/");
    browser.goto(&page).await?;
    catch_console(&browser).await?;
    wait_state(&browser, "home", LOAD).await?;

    // Chromium receives: the app's link opened, the words compared, the offer accepted. The
    // link names the server by the address the app reaches it at, which is this computer's
    // own: Chromium opens the same page and code by loopback, which the browser counts as a
    // secure origin, as it does the https address of a real server.
    let link = hear(&mut hears, "the app's link").await?;
    let code = link
        .split_once('#')
        .map(|(_, code)| code.to_owned())
        .ok_or_else(|| format!("the app's link {link} has no code"))?;
    browser.goto(&format!("{page}#{code}")).await?;
    catch_console(&browser).await?;
    wait_state(&browser, "offer", SETUP).await?;
    let words = browser.text_of("#words", STEP).await?;
    let theirs = hear(&mut hears, "the app's words").await?;
    assert_eq!(
        words.trim(),
        theirs,
        "Chromium shows other verification words than the app"
    );
    let offered = browser.text_of("#offer-list", STEP).await?;
    for (name, _) in TO_CHROMIUM.1 {
        let path = format!("{}/{name}", TO_CHROMIUM.0);
        assert!(
            offered.contains(&path),
            "Chromium's offer {offered:?} does not list {path}"
        );
    }
    let started = Instant::now();
    browser.click("#accept", STEP).await?;
    if let Err(e) = wait_state(&browser, "done", TRANSFER).await {
        let save = browser.save_path().await.unwrap_or_default();
        let saver = stream_saver_state(&browser).await;
        return Err(format!(
            "receiving from the app: {e}\nthe page saves by way of {save:?}; {saver}\nthe \
             download folder holds {:?}; chrome://downloads says: {}",
            list(browser.downloads()),
            chromium_downloads(&browser).await
        )
        .into());
    }
    let save = browser.save_path().await?;
    let zip_name = format!("{}.zip", TO_CHROMIUM.0);
    let saved = wait_for_saved(browser.downloads(), &zip_name, STEP).await?;
    let seconds = started.elapsed().as_secs_f64();
    let unpacked = tempfile::tempdir()?;
    unzip(&saved, unpacked.path())?;
    let wrong = folder_differences(
        &from_app,
        &unpacked.path().join(TO_CHROMIUM.0),
        &TO_CHROMIUM,
    );
    assert!(
        wrong.is_empty() && names_in(unpacked.path())? == [TO_CHROMIUM.0],
        "Chromium's {zip_name} does not hold the folder the app sent: {wrong:?}, at its top \
         {:?}",
        names_in(unpacked.path())
    );
    let mib: usize = TO_CHROMIUM.1.iter().map(|(_, size)| size).sum::<usize>() >> 20;
    eprintln!(
        "the app -> Chromium: a folder of {mib} MiB in {seconds:.1} s, saved by way of \
         {save:?} as {zip_name}"
    );

    // Chromium sends: a fresh page, the file chosen, the code to the app.
    browser.goto(&page).await?;
    catch_console(&browser).await?;
    wait_state(&browser, "home", LOAD).await?;
    browser.choose_files("#folder", &[&to_app]).await?;
    wait_state(&browser, "waiting", STEP).await?;
    let code = browser.text_of("#send-code", STEP).await?;
    let started = Instant::now();
    say(&says, "Chromium's code", code.trim())?;
    let theirs = hear(&mut hears, "the app's words").await?;
    let words = match browser.text_of("#words", SETUP).await {
        Ok(words) => words,
        Err(e) => return Err(format!("{e}: {}", shown(&browser).await).into()),
    };
    assert_eq!(
        words.trim(),
        theirs,
        "Chromium shows other verification words than the app"
    );
    say(&says, "the words compared", "")?;
    wait_state(&browser, "done", TRANSFER).await?;
    let mib: usize = TO_APP.1.iter().map(|(_, size)| size).sum::<usize>() >> 20;
    eprintln!(
        "Chromium -> the app: a folder of {mib} MiB in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    browser.quit().await
}
