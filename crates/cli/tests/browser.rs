//! The web peer in real browsers: Chromium and Firefox ESR, headless under WebDriver with
//! their default settings (host addresses hidden behind mDNS names), opposite the real `toss`
//! CLI, through the real `toss-signal`, which serves the page at `/`.
//!
//! Each test builds a home network of two computers (`Lan::home`: private addresses, a
//! default route, multicast): namespace a holds `toss-signal` (on 0.0.0.0, so b reaches it
//! over the link) and the browser, which opens the page at `http://127.0.0.1:PORT/`, a
//! secure context; namespace b holds `toss`. The test's own WebDriver client runs on a
//! thread inside a (`netns::run_in`), where the driver listens on a's loopback. Nothing
//! reaches this machine's real network.
//!
//! The page's contract, which these tests hold it to: `body[data-state]` is one of loading,
//! home, connecting, waiting, offer, confirm, transferring, done, declined, cancelled,
//! failed; `body[data-save]` says how it saves (stream, folder, memory). Receiving: `#code`
//! and `#receive`; then `#words`, `#offer-list`, `#accept`, `#decline`; `#cancel` while
//! transferring; `#error` holds the sentence of a failure. Sending: `#files` and `#folder`
//! (file inputs); then `#send-code` and `#link`, and `#words` once the receiver has joined.
//!
//! What the drivers can do (probed on Debian 12, Chromium 156, Firefox ESR 153):
//! chromedriver chooses a folder in a `webkitdirectory` input; geckodriver refuses any path
//! that is not a file ("File not found"), so the Firefox folder test chooses the three
//! files in `#files` instead. Both save downloads into the test's folder without asking,
//! a service worker's streamed response to a hidden iframe's navigation included.
//!
//! Every test needs root (namespaces): ignored as "needs root", run by `make test` as root.
//! They run one at a time (.config/nextest.toml): each measures a browser on a small
//! machine.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use toss_testkit::browser::{list, wait_for_download, Browser, Kind, Options};
use toss_testkit::browser_extra::{catch_console, console};
use toss_testkit::data::{large_random_file, names_in, same_bytes};
use toss_testkit::netns::{self, Lan};
use toss_testkit::process::{assert_root, interrupt, which, Killed};
use toss_testkit::signal::SignalProcess;
use toss_testkit::{coturn, AnyResult, TestResult};

mod support;

use support::bin;

/// The home network's /24: a is 192.168.81.1, b 192.168.81.2.
const SUBNET: u8 = 81;
/// Where b reaches a's `toss-signal`.
const A_ADDR: &str = "192.168.81.1";

/// Longest the page may take to load and show its home screen.
const LOAD: Duration = Duration::from_secs(30);
/// Longest one step on screen may take to appear (a button, a code).
const STEP: Duration = Duration::from_secs(15);
/// Longest from a code typed to the offer on screen (PAKE, ICE through mDNS names).
const SETUP: Duration = Duration::from_secs(60);
/// Longest a transfer of up to 256 MiB may take.
const LIMIT: Duration = Duration::from_secs(180);
/// Longest a 1 GiB transfer may take: 7 minutes, 2.5 MiB/s (a first probe of plain
/// webrtc-rs to Chromium on this machine gave 8.5 to 10.7 MiB/s).
const LIMIT_1_GIB: Duration = Duration::from_secs(420);

/// How many of its last log lines a failure shows of `toss`.
const LOG_TAIL: usize = 60;
/// The file for the quick receive tests.
const SIZE_64_MIB: u64 = 64 << 20;
/// The file for the memory tests: far more than a page could hold without streaming.
const SIZE_1_GIB: u64 = 1 << 30;
/// Large enough to still be under way when cancelled.
const SIZE_CANCEL: u64 = 256 << 20;
/// Memory (summed PSS of all its processes) Chromium may add to its idle self to receive
/// 1 GiB: what the transfer costs. The idle headless browser, before the page does anything,
/// already takes about 400 MiB here (Firefox about 480 MiB), which no page can change, so
/// the budget is held against the growth over that, and both are printed.
const CHROMIUM_BUDGET: u64 = 300 << 20;
/// The same for Firefox.
const FIREFOX_BUDGET: u64 = 256 << 20;

/// What the page and the CLI must both say after a wrong code (crates/core/src/error.rs).
const WRONG_CODE: &str = "wrong code: the code was mistyped, or someone tried to guess it; \
                          ask the sender for a new code";

/// The home network with `toss-signal` listening in a; deleted when dropped.
struct Net {
    /// `toss-signal`, killed before the namespaces go.
    _server: SignalProcess,
    /// coturn in a, for the relayed network (killed before the namespaces go).
    _turn: Option<Killed>,
    lan: Lan,
    site: Site,
}

/// coturn's port in a, and the first and last of its relay ports (the namespace's own).
const TURN_PORT: u16 = 3478;
const TURN_RELAY_PORTS: (u16, u16) = (49_160, 49_260);
/// The secret coturn shares with `toss-signal` in the relayed network.
const TURN_SECRET: &str = "a-secret-shared-by-coturn-and-toss-signal";

/// What a test body needs to know of the network, on the thread inside a.
#[derive(Debug, Clone)]
struct Site {
    /// b's namespace, where `toss` runs.
    b: String,
    /// The page, as the browser in a opens it.
    page: String,
    /// The signaling server, as `toss` in b reaches it.
    signal: String,
    /// Whether both sides are told to use only relayed paths (the page's `?relay-only`,
    /// `toss --relay-only`).
    relay_only: bool,
}

impl Net {
    fn create(tag: &str) -> AnyResult<Net> {
        Net::make(tag, None)
    }

    /// The home network with coturn in a as well, sharing a secret with `toss-signal`, which
    /// hands out its credentials (docs/deploy.md), and both sides told to relay everything.
    fn relayed(tag: &str, dir: &Path) -> AnyResult<Net> {
        Net::make(tag, Some(dir))
    }

    /// `turn_dir`: where coturn's configuration is written, for a relayed network.
    fn make(tag: &str, turn_dir: Option<&Path>) -> AnyResult<Net> {
        assert_root("creating network namespaces");
        let lan = Lan::home(tag, SUBNET)?;
        let mut server_cmd = netns::exec(&lan.a, bin("toss-signal"));
        let turn = match turn_dir {
            None => None,
            Some(dir) => {
                let turnserver = which("turnserver")
                    .ok_or("coturn's turnserver is not installed (scripts/setup.sh installs it)")?;
                let conf = coturn::write_secret_conf(dir, TURN_SECRET)?;
                let (min, max) = TURN_RELAY_PORTS;
                let mut cmd = netns::exec(&lan.a, turnserver);
                cmd.args(coturn::args_with_secret(A_ADDR, TURN_PORT, min, max, &conf))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                let turn = Killed(cmd.spawn()?);
                wait_for_udp(&lan.a, TURN_PORT)?;
                let secret = dir.join("turn-secret");
                std::fs::write(&secret, format!("{TURN_SECRET}\n"))?;
                server_cmd
                    .args([
                        "--turn-url",
                        &format!("turn:{A_ADDR}:{TURN_PORT}?transport=udp"),
                    ])
                    .arg("--turn-secret-file")
                    .arg(&secret)
                    .env_remove("TOSS_TURN_SECRET");
                Some(turn)
            }
        };
        let server = SignalProcess::start_with(server_cmd, "0.0.0.0:0")?;
        let port: u16 = server
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("no port in {}", server.url))?;
        let relay_only = turn.is_some();
        let site = Site {
            b: lan.b.clone(),
            page: if relay_only {
                format!("http://127.0.0.1:{port}/?relay-only")
            } else {
                format!("http://127.0.0.1:{port}/")
            },
            signal: format!("ws://{A_ADDR}:{port}"),
            relay_only,
        };
        Ok(Net {
            _server: server,
            _turn: turn,
            lan,
            site,
        })
    }

    /// Runs `body` inside a (see `netns::run_in`), with the site.
    fn run<F, Fut>(&self, body: F) -> TestResult
    where
        F: FnOnce(Site) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = TestResult> + 'static,
    {
        let site = self.site.clone();
        netns::run_in(&self.lan.a, move || body(site))
    }
}

impl Site {
    /// `toss SUBCOMMAND --json ... ARGS` in b, through a's server only: no STUN, no
    /// falling back to the local network.
    fn toss(&self, subcommand: &str, args: &[&str]) -> Command {
        let mut cmd = netns::exec(&self.b, bin("toss"));
        cmd.arg(subcommand)
            .args([
                "--signal",
                &self.signal,
                "--no-ice-servers",
                "--no-discovery",
            ])
            .args(["--json", "--device-name", "test-cli"])
            .args(args);
        if self.relay_only {
            cmd.arg("--relay-only");
        }
        // The core's log, for a failure to show what the connection did.
        cmd.env(
            "TOSS_LOG",
            "toss_core=debug,webrtc_ice=info,dtls=error,warn",
        );
        for var in [
            "TOSS_SIGNAL",
            "TOSS_LAN",
            "TOSS_LOOPBACK",
            "TOSS_NO_DISCOVERY",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// A browser of `kind` on the page's home screen.
    async fn open(&self, kind: Kind) -> AnyResult<Browser> {
        let browser = Browser::start(kind, Options::default()).await?;
        browser.goto(&self.page).await?;
        browser.wait_for_state("home", LOAD).await;
        catch_console(&browser).await?;
        Ok(browser)
    }
}

/// A running `toss --json`: its events arrive on a channel, its stderr is kept.
struct Cli {
    /// "toss send" or "toss receive", for messages.
    name: String,
    child: Killed,
    events: Receiver<Value>,
    seen: Vec<Value>,
    /// Its stderr so far (the core's log at debug, for a failure to show).
    stderr: Arc<Mutex<String>>,
    stderr_reader: std::thread::JoinHandle<()>,
}

/// How a `toss` process ended.
struct Ended {
    ok: bool,
    events: Vec<Value>,
    stderr: String,
}

impl Ended {
    fn error_kind(&self) -> &str {
        self.events
            .iter()
            .find(|e| e["event"] == "error")
            .and_then(|e| e["kind"].as_str())
            .unwrap_or("")
    }
}

impl Cli {
    fn spawn(name: &str, mut cmd: Command) -> AnyResult<Cli> {
        let mut child = Killed(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?,
        );
        let stdout = child.0.stdout.take().ok_or("stdout")?;
        let stderr_pipe = child.0.stderr.take().ok_or("stderr")?;
        let (tx, events) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let kept = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                if let Ok(path) = std::env::var("TOSS_TEST_LOG_COPY") {
                    use std::io::Write;
                    if let Ok(mut f) = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                    {
                        let _ = writeln!(f, "{line}");
                    }
                }
                if let Ok(mut text) = kept.lock() {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        });
        Ok(Cli {
            name: name.to_owned(),
            child,
            events,
            seen: Vec::new(),
            stderr,
            stderr_reader,
        })
    }

    /// Waits, at most `limit`, for an event that `want` picks (`None` when the process
    /// ended or the time ran out first); every event read is kept.
    async fn until(&mut self, limit: Duration, want: impl Fn(&Value) -> bool) -> Option<Value> {
        let started = Instant::now();
        loop {
            match self.events.try_recv() {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if want(&v) {
                        return Some(v);
                    }
                    continue;
                }
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            if started.elapsed() > limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What it has said so far, in one line for a failure message: how it connected, how
    /// far the transfer got, its last events other than progress, whether it has ended.
    fn summary(&mut self) -> String {
        while let Ok(v) = self.events.try_recv() {
            self.seen.push(v);
        }
        let connected = self
            .seen
            .iter()
            .find(|e| e["event"] == "connected")
            .map_or("never".to_owned(), |e| e["path"].to_string());
        let bytes = self
            .seen
            .iter()
            .rev()
            .find(|e| e["event"] == "progress")
            .map_or(0, |e| e["bytes"].as_u64().unwrap_or(0));
        let mut last: Vec<String> = self
            .seen
            .iter()
            .rev()
            .filter(|e| e["event"] != "progress")
            .take(4)
            .map(Value::to_string)
            .collect();
        last.reverse();
        let status = match self.child.0.try_wait() {
            Ok(Some(status)) => format!("ended ({status})"),
            _ => "still running".to_owned(),
        };
        let log = self.stderr.lock().map(|t| t.clone()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n");
        format!(
            "{} {status}: connected {connected}, {bytes} bytes moved, last said {}\n\
             the end of its log:\n{tail}",
            self.name,
            last.join(" ")
        )
    }

    /// The code a `toss send` shows.
    async fn code(&mut self) -> AnyResult<String> {
        let event = self.until(STEP, |e| e["event"] == "code").await;
        match event.as_ref().and_then(|e| e["code"].as_str()) {
            Some(code) => Ok(code.to_owned()),
            None => Err(format!("toss send showed no code: {:?}", self.seen).into()),
        }
    }

    /// The verification words, once the other side has joined.
    async fn words(&mut self) -> AnyResult<String> {
        let event = self.until(SETUP, |e| e["event"] == "peer_connected").await;
        match event.as_ref().and_then(|e| e["verification"].as_str()) {
            Some(words) => Ok(words.to_owned()),
            None => Err(format!("toss never met the page: {:?}", self.seen).into()),
        }
    }

    /// Waits until the transfer has moved `bytes`.
    async fn progressed(&mut self, bytes: u64) -> AnyResult<()> {
        let moved = |e: &Value| e["event"] == "progress" && e["bytes"].as_u64() >= Some(bytes);
        match self.until(LIMIT, moved).await {
            Some(_) => Ok(()),
            None => Err(format!("the transfer never moved {bytes} bytes: {:?}", self.seen).into()),
        }
    }

    /// Waits, at most `limit`, for the process to end (killed after that), and returns how.
    ///
    /// # Panics
    ///
    /// When it has not ended by then, saying what it had said.
    async fn finish(mut self, limit: Duration) -> AnyResult<Ended> {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.0.try_wait()? {
                break Some(status);
            }
            if started.elapsed() > limit {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let Some(status) = status else {
            let summary = self.summary();
            drop(self.child);
            panic!(
                "{} did not end within {limit:?}, its user still waiting: {summary}",
                self.name
            );
        };
        // The rest of its events: the reader stops at the end of its output.
        self.until(STEP, |_| false).await;
        drop(self.child);
        let _ = self.stderr_reader.join();
        let stderr = self.stderr.lock().map(|t| t.clone()).unwrap_or_default();
        Ok(Ended {
            ok: status.success(),
            events: self.seen,
            stderr,
        })
    }
}

/// Waits, at most `limit`, for `browser` to reach `state`.
///
/// # Panics
///
/// When it does not, saying what the page showed, what `cli` said, and what the download
/// folder holds.
async fn reach(browser: &Browser, state: &str, limit: Duration, cli: &mut Cli) {
    if let Err(e) = browser.reach_state(state, limit).await {
        panic!(
            "{e}\n{}\n{}'s download folder holds {:?}; its console said:\n{}",
            cli.summary(),
            browser.name(),
            list(browser.downloads()),
            console(browser).await.join("\n")
        );
    }
}

/// Waits, at most 10 s, until something in namespace `ns` listens on UDP `port`.
fn wait_for_udp(ns: &str, port: u16) -> AnyResult<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "ss", "-Hlun"])
            .arg(format!("sport = :{port}"))
            .output()?;
        if !out.stdout.is_empty() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("nothing listened on UDP port {port} in {ns} within 10 s").into())
}

/// The folder of the folder tests: three random files, one in a subfolder.
const FOLDER: [(&str, usize); 3] = [
    ("beach.jpg", 300_000),
    ("notes.txt", 1_234),
    ("day 2/hill.png", 290_000),
];

fn make_folder(root: &Path) -> std::io::Result<PathBuf> {
    let dir = root.join("holiday");
    std::fs::create_dir_all(dir.join("day 2"))?;
    for (name, size) in FOLDER {
        large_random_file(&dir.join(name), size as u64)?;
    }
    Ok(dir)
}

/// `toss send FILE` in b to `kind`'s page in a: the code typed on the page, the words
/// compared, the offer accepted; the file must arrive byte-identical in the download
/// folder. Prints which way the page saved it and the browser's peak memory, and holds
/// that against `budget` when there is one.
fn cli_sends_to_browser(kind: Kind, tag: &str, size: u64, budget: Option<u64>) -> TestResult {
    cli_sends_to_browser_on(Net::create(tag)?, kind, size, budget)
}

/// [`cli_sends_to_browser`] on `net`; on a relayed network, `toss send` must also say that
/// its path went through the relay.
fn cli_sends_to_browser_on(net: Net, kind: Kind, size: u64, budget: Option<u64>) -> TestResult {
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("video.bin");
    large_random_file(&src, size)?;
    let limit = if size > SIZE_CANCEL {
        LIMIT_1_GIB
    } else {
        LIMIT
    };
    net.run(move |site| async move {
        let browser = site.open(kind).await?;
        let name = browser.name();
        let mut sender = Cli::spawn("toss send", site.toss("send", &[&src.to_string_lossy()]))?;
        let code = sender.code().await?;
        // From the idle home screen on.
        let memory = browser.sample_memory();
        browser.type_into("#code", &code, STEP).await?;
        browser.click("#receive", STEP).await?;
        reach(&browser, "offer", SETUP, &mut sender).await;
        let words = browser.text_of("#words", STEP).await?;
        let told = sender.words().await?;
        assert_eq!(
            words.trim(),
            told,
            "{name} shows other verification words than toss send"
        );
        let offered = browser.text_of("#offer-list li", STEP).await?;
        assert!(
            offered.starts_with("video.bin"),
            "{name} offers {offered:?}, not video.bin"
        );
        let started = Instant::now();
        browser.click("#accept", STEP).await?;
        reach(&browser, "done", limit, &mut sender).await;
        // Firefox's download of a service worker's stream may still be writing what the page
        // handed over when the page is done: a large file is given the transfer's time.
        let writing = if size > SIZE_CANCEL { LIMIT } else { STEP };
        let saved = wait_for_download(browser.downloads(), "video.bin", size, writing).await;
        let seconds = started.elapsed().as_secs_f64();
        let memory = memory.stop();
        let save = browser.save_path().await?;
        // Chromium streams to its downloads through the service worker; Firefox, whose
        // download of such a stream gathers in memory, writes to the page's own storage.
        let way = match kind {
            Kind::Chromium => "stream",
            Kind::Firefox => "disk",
        };
        assert_eq!(save, way, "how {name} saved video.bin");
        let sent = sender.finish(STEP).await?;
        assert!(sent.ok, "toss send failed: {}", sent.stderr);
        assert!(
            same_bytes(&src, &saved)?,
            "{name} saved video.bin with other bytes than were sent"
        );
        let connected = sent
            .events
            .iter()
            .find(|e| e["event"] == "connected")
            .map(|e| e["path"].clone())
            .unwrap_or_default();
        if site.relay_only {
            assert_eq!(
                connected["kind"], "relay",
                "toss send was told to relay everything: {connected}"
            );
        }
        let path = connected.to_string();
        let mib = size as f64 / (1024.0 * 1024.0);
        eprintln!(
            "{name}: {mib:.0} MiB from toss send over {path}, saved by way of {save:?}, in \
             {seconds:.1} s ({:.1} MiB/s); {memory}",
            mib / seconds
        );
        if let Some(budget) = budget {
            assert!(
                memory.peak_pss.saturating_sub(memory.idle_pss) < budget,
                "{name} used more than {} MiB to receive {mib:.0} MiB: {memory}",
                budget >> 20
            );
        }
        browser.quit().await
    })
}

/// A folder chosen on `kind`'s page (`#folder`; `#files` with its three files where the
/// driver cannot choose a folder) goes to `toss receive CODE --yes` in b: byte-identical,
/// each file where it belongs.
fn browser_sends_to_cli(kind: Kind, tag: &str) -> TestResult {
    let net = Net::create(tag)?;
    let tmp = tempfile::tempdir()?;
    let folder = make_folder(tmp.path())?;
    let out = tmp.path().join("out");
    std::fs::create_dir(&out)?;
    // geckodriver refuses a folder (see the file's doc).
    let as_folder = kind == Kind::Chromium;
    net.run(move |site| async move {
        let browser = site.open(kind).await?;
        let name = browser.name();
        if as_folder {
            browser.choose_files("#folder", &[&folder]).await?;
        } else {
            let files: Vec<PathBuf> = FOLDER.iter().map(|(f, _)| folder.join(f)).collect();
            let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            browser.choose_files("#files", &files).await?;
        }
        browser.wait_for_state("waiting", STEP).await;
        let code = browser.text_of("#send-code", STEP).await?;
        let code = code.trim().to_owned();
        let link = browser.text_of("#link", STEP).await?;
        assert!(
            link.trim().ends_with(&format!("#{code}")),
            "{name}'s link {link:?} does not carry the code {code:?}"
        );
        let mut receiver = Cli::spawn(
            "toss receive",
            site.toss(
                "receive",
                &["--yes", "--out", &out.to_string_lossy(), &code],
            ),
        )?;
        let told = receiver.words().await?;
        let words = browser.text_of("#words", STEP).await?;
        assert_eq!(
            words.trim(),
            told,
            "{name} shows other verification words than toss receive"
        );
        reach(&browser, "done", LIMIT, &mut receiver).await;
        let got = receiver.finish(STEP).await?;
        assert!(got.ok, "toss receive failed: {}", got.stderr);
        for (file, _) in FOLDER {
            let saved = if as_folder {
                out.join("holiday").join(file)
            } else {
                out.join(Path::new(file).file_name().ok_or("name")?)
            };
            assert!(
                same_bytes(&folder.join(file), &saved).unwrap_or(false),
                "{file} did not arrive byte-identical as {}; out holds {:?}",
                saved.display(),
                names_in(&out)
            );
        }
        let expected: Vec<String> = if as_folder {
            vec!["holiday".into()]
        } else {
            vec!["beach.jpg".into(), "hill.png".into(), "notes.txt".into()]
        };
        assert_eq!(names_in(&out)?, expected, "nothing else is left in out");
        browser.quit().await
    })
}

/// The page loads from `toss-signal` in `kind`, under the title "Toss", reaches its home
/// screen, and can be photographed; once quit, no process of the browser is left.
fn opens_the_page(kind: Kind, tag: &str) -> TestResult {
    let net = Net::create(tag)?;
    let tmp = tempfile::tempdir()?;
    let shot = tmp.path().join(format!("{}-home.png", kind.name()));
    net.run(move |site| async move {
        let browser = Browser::start(kind, Options::default()).await?;
        let name = browser.name();
        browser.goto(&site.page).await?;
        let title = browser.title().await?;
        assert_eq!(
            title,
            "Toss",
            "{name} opened {} but shows another page: {}",
            site.page,
            browser.seen().await
        );
        browser.screenshot(&shot).await?;
        let png = std::fs::read(&shot)?;
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 1000,
            "the screenshot is a PNG"
        );
        let pids = browser.pids();
        assert!(pids.len() > 1, "{name} runs as processes {pids:?}");
        browser.wait_for_state("home", LOAD).await;
        browser.screenshot(&shot).await?;
        eprintln!("{name}: the home screen, {}", shot.display());
        browser.quit().await?;
        let left: Vec<u32> = pids
            .into_iter()
            .filter(|p| Path::new(&format!("/proc/{p}")).exists())
            .collect();
        assert!(left.is_empty(), "{name} left processes {left:?} behind");
        Ok(())
    })
}

#[test]
#[ignore = "needs root"]
fn chromium_opens_the_page_and_leaves_no_process_behind() -> TestResult {
    opens_the_page(Kind::Chromium, "hc")
}

#[test]
#[ignore = "needs root"]
fn firefox_opens_the_page_and_leaves_no_process_behind() -> TestResult {
    opens_the_page(Kind::Firefox, "hf")
}

#[test]
#[ignore = "needs root"]
fn chromium_receives_64_mib_from_toss_send() -> TestResult {
    cli_sends_to_browser(Kind::Chromium, "rc", SIZE_64_MIB, None)
}

#[test]
#[ignore = "needs root"]
fn firefox_receives_64_mib_from_toss_send() -> TestResult {
    cli_sends_to_browser(Kind::Firefox, "rf", SIZE_64_MIB, None)
}

#[test]
#[ignore = "needs root"]
fn chromium_receives_1_gib_from_toss_send_within_its_memory_budget() -> TestResult {
    cli_sends_to_browser(Kind::Chromium, "gc", SIZE_1_GIB, Some(CHROMIUM_BUDGET))
}

#[test]
#[ignore = "needs root"]
fn firefox_receives_1_gib_from_toss_send_within_its_memory_budget() -> TestResult {
    cli_sends_to_browser(Kind::Firefox, "gf", SIZE_1_GIB, Some(FIREFOX_BUDGET))
}

/// Both sides told to relay everything: the page (`?relay-only`) and `toss send
/// --relay-only` take their credentials from `toss-signal`, which shares a secret with
/// coturn, and the file still arrives byte-identical.
#[test]
#[ignore = "needs root"]
fn chromium_receives_from_toss_send_through_a_coturn_relay_only() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let net = Net::relayed("tc", tmp.path())?;
    cli_sends_to_browser_on(net, Kind::Chromium, 16 << 20, None)
}

/// Chromium chooses the folder itself in `#folder` (chromedriver takes a folder).
#[test]
#[ignore = "needs root"]
fn chromium_sends_a_folder_to_toss_receive() -> TestResult {
    browser_sends_to_cli(Kind::Chromium, "sc")
}

/// geckodriver cannot choose a folder in a `webkitdirectory` input ("File not found" for
/// any path that is not a file), so Firefox sends the folder's three files through
/// `#files`; they arrive side by side, without the folder.
#[test]
#[ignore = "needs root"]
fn firefox_sends_the_folders_files_to_toss_receive() -> TestResult {
    browser_sends_to_cli(Kind::Firefox, "sf")
}

/// The right nameplate with the wrong words: both sides fail with the same sentence, and
/// the page keeps nothing.
#[test]
#[ignore = "needs root"]
fn a_wrong_code_typed_in_chromium_fails_on_both_sides() -> TestResult {
    let net = Net::create("wc")?;
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("secret.txt");
    large_random_file(&src, 10_000)?;
    net.run(move |site| async move {
        let browser = site.open(Kind::Chromium).await?;
        let mut sender = Cli::spawn("toss send", site.toss("send", &[&src.to_string_lossy()]))?;
        let code = sender.code().await?;
        let nameplate = code.split('-').next().ok_or("a code has a nameplate")?;
        let wrong = if code.ends_with("-acid-acid") {
            format!("{nameplate}-acorn-acorn")
        } else {
            format!("{nameplate}-acid-acid")
        };
        browser.type_into("#code", &wrong, STEP).await?;
        browser.click("#receive", STEP).await?;
        reach(&browser, "failed", SETUP, &mut sender).await;
        let error = browser.error_text().await?;
        assert!(
            error.to_lowercase().contains(WRONG_CODE),
            "Chromium says {error:?} for a wrong code, not {WRONG_CODE:?}"
        );
        let sent = sender.finish(SETUP).await?;
        assert!(!sent.ok, "toss send succeeded with a wrong code");
        assert_eq!(sent.error_kind(), "wrong_code", "{:?}", sent.events);
        assert!(
            sent.stderr.contains(WRONG_CODE),
            "toss send says {:?}, not {WRONG_CODE:?}",
            sent.stderr
        );
        let saved = list(browser.downloads());
        assert!(saved.is_empty(), "Chromium saved something: {saved:?}");
        browser.quit().await
    })
}

/// Decline on the page: `toss send` says the receiver declined, and the download folder
/// stays empty.
#[test]
#[ignore = "needs root"]
fn declining_in_chromium_stops_toss_send_and_leaves_nothing() -> TestResult {
    let net = Net::create("dc")?;
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("unwanted.zip");
    large_random_file(&src, 1 << 20)?;
    net.run(move |site| async move {
        let browser = site.open(Kind::Chromium).await?;
        let mut sender = Cli::spawn("toss send", site.toss("send", &[&src.to_string_lossy()]))?;
        let code = sender.code().await?;
        browser.type_into("#code", &code, STEP).await?;
        browser.click("#receive", STEP).await?;
        reach(&browser, "offer", SETUP, &mut sender).await;
        browser.click("#decline", STEP).await?;
        reach(&browser, "declined", STEP, &mut sender).await;
        let sent = sender.finish(STEP).await?;
        assert!(!sent.ok, "toss send succeeded though Chromium declined");
        assert_eq!(sent.error_kind(), "declined", "{:?}", sent.events);
        assert!(
            sent.stderr.contains("the receiver declined the transfer"),
            "toss send says {:?}",
            sent.stderr
        );
        let saved = list(browser.downloads());
        assert!(saved.is_empty(), "Chromium saved something: {saved:?}");
        browser.quit().await
    })
}

/// `toss send` of a file large enough to still be under way, accepted in Chromium, until
/// bytes flow; returns the sender.
async fn transfer_under_way(browser: &Browser, site: &Site, src: &Path) -> AnyResult<Cli> {
    let mut sender = Cli::spawn("toss send", site.toss("send", &[&src.to_string_lossy()]))?;
    let code = sender.code().await?;
    browser.type_into("#code", &code, STEP).await?;
    browser.click("#receive", STEP).await?;
    reach(browser, "offer", SETUP, &mut sender).await;
    browser.click("#accept", STEP).await?;
    reach(browser, "transferring", SETUP, &mut sender).await;
    sender.progressed(1 << 20).await?;
    Ok(sender)
}

/// Cancel on the page mid-transfer: `toss send` says the other side cancelled, the page
/// says cancelled, and no file is left under its final name.
#[test]
#[ignore = "needs root"]
fn cancelling_in_chromium_mid_transfer_stops_toss_send() -> TestResult {
    let net = Net::create("cc")?;
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("large.bin");
    large_random_file(&src, SIZE_CANCEL)?;
    net.run(move |site| async move {
        let browser = site.open(Kind::Chromium).await?;
        let mut sender = transfer_under_way(&browser, &site, &src).await?;
        browser.click_in_page("#cancel", STEP).await?;
        reach(&browser, "cancelled", STEP, &mut sender).await;
        let sent = sender.finish(STEP).await?;
        assert!(!sent.ok, "toss send succeeded though Chromium cancelled");
        assert_eq!(sent.error_kind(), "cancelled", "{:?}", sent.events);
        assert!(
            sent.stderr
                .contains("the other side cancelled the transfer"),
            "toss send says {:?}",
            sent.stderr
        );
        let left = list(browser.downloads());
        assert!(
            !left.iter().any(|(n, _)| n == "large.bin"),
            "Chromium kept a cancelled file under its own name: {left:?}"
        );
        eprintln!("Chromium's download folder after the cancel: {left:?}");
        browser.quit().await
    })
}

/// Ctrl-C in `toss send` mid-transfer: the page says cancelled, and no file is left under
/// its final name.
#[test]
#[ignore = "needs root"]
fn interrupting_toss_send_mid_transfer_cancels_chromium() -> TestResult {
    let net = Net::create("ic")?;
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("large.bin");
    large_random_file(&src, SIZE_CANCEL)?;
    net.run(move |site| async move {
        let browser = site.open(Kind::Chromium).await?;
        let mut sender = transfer_under_way(&browser, &site, &src).await?;
        interrupt(&sender.child.0)?;
        reach(&browser, "cancelled", STEP, &mut sender).await;
        eprintln!(
            "Chromium, after toss send was interrupted: {}",
            browser.seen().await
        );
        let sent = sender.finish(STEP).await?;
        assert!(!sent.ok, "toss send succeeded though interrupted");
        assert!(
            sent.stderr.contains("the transfer was cancelled"),
            "toss send says {:?}",
            sent.stderr
        );
        let left = list(browser.downloads());
        assert!(
            !left.iter().any(|(n, _)| n == "large.bin"),
            "Chromium kept a cancelled file under its own name: {left:?}"
        );
        browser.quit().await
    })
}

/// Where `page_screenshots` saves: `$TOSS_SCREENSHOTS` (`make screenshots` gives
/// docs/screenshots), else a temporary folder.
fn screenshot_dir(tmp: &Path) -> PathBuf {
    std::env::var_os("TOSS_SCREENSHOTS").map_or_else(|| tmp.to_path_buf(), PathBuf::from)
}

/// The page's screens as a person sees them, for the README (`make screenshots`): on a
/// phone (360 x 740) receiving from `toss send`, the home screen, the offer with the words,
/// and done; on a desktop window, sending two files, with the code and the link to read
/// out. Each screen is reached as in use and photographed once it shows.
#[test]
#[ignore = "screenshots: make screenshots"]
fn page_screenshots() -> TestResult {
    let net = Net::create("ps")?;
    let tmp = tempfile::tempdir()?;
    let dir = screenshot_dir(tmp.path());
    std::fs::create_dir_all(&dir)?;
    let photo = tmp.path().join("holiday photo.jpg");
    large_random_file(&photo, 3 << 20)?;
    let notes = tmp.path().join("notes.txt");
    std::fs::write(&notes, "Bring the blue tent.\n")?;
    net.run(move |site| async move {
        let phone = Options { window: (360, 740) };
        let browser = Browser::start(Kind::Chromium, phone).await?;
        browser.goto(&site.page).await?;
        browser.wait_for_state("home", LOAD).await;
        browser.screenshot(&dir.join("web-phone-home.png")).await?;
        let mut sender = Cli::spawn(
            "toss send",
            site.toss(
                "send",
                &[&photo.to_string_lossy(), &notes.to_string_lossy()],
            ),
        )?;
        let code = sender.code().await?;
        browser.type_into("#code", &code, STEP).await?;
        browser.click("#receive", STEP).await?;
        reach(&browser, "offer", SETUP, &mut sender).await;
        browser.screenshot(&dir.join("web-phone-offer.png")).await?;
        browser.click("#accept", STEP).await?;
        reach(&browser, "done", LIMIT, &mut sender).await;
        browser.screenshot(&dir.join("web-phone-done.png")).await?;
        let sent = sender.finish(STEP).await?;
        assert!(sent.ok, "toss send failed: {}", sent.stderr);
        browser.quit().await?;

        let browser = Browser::start(Kind::Chromium, Options::default()).await?;
        browser.goto(&site.page).await?;
        browser.wait_for_state("home", LOAD).await;
        browser
            .screenshot(&dir.join("web-desktop-home.png"))
            .await?;
        browser
            .choose_files("#files", &[photo.as_path(), notes.as_path()])
            .await?;
        browser.wait_for_state("waiting", STEP).await;
        browser.text_of("#send-code", STEP).await?;
        browser
            .screenshot(&dir.join("web-desktop-sending.png"))
            .await?;
        browser.quit().await?;
        for name in [
            "web-phone-home",
            "web-phone-offer",
            "web-phone-done",
            "web-desktop-home",
            "web-desktop-sending",
        ] {
            let png = std::fs::read(dir.join(format!("{name}.png")))?;
            assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
        }
        eprintln!("the page's screenshots are in {}", dir.display());
        Ok(())
    })
}

/// The file each direction of [`browser_benchmark`] moves.
const BENCH_SIZE: u64 = 256 << 20;

/// MiB/s for [`BENCH_SIZE`] bytes in `seconds`.
fn rate(seconds: f64) -> f64 {
    (BENCH_SIZE as f64 / (1024.0 * 1024.0)) / seconds
}

/// `make bench`: 256 MiB each way between the web peer in Chromium and `toss`, and between
/// two Chromium pages, in one run on the test's home network (veth, no loss), each figure
/// beside the Chromium-to-Chromium one as a ratio. Timed from the receiver's Accept to the
/// file saved (a page's done and its download complete; `toss receive`'s own `seconds`,
/// from its accept to its done). Prints the figures and writes them as JSON to
/// `$TOSS_BENCH_OUT` when set.
#[test]
#[ignore = "benchmark: make bench"]
fn browser_benchmark() -> TestResult {
    let net = Net::create("bb")?;
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("bench.bin");
    large_random_file(&src, BENCH_SIZE)?;
    let out = tmp.path().join("out");
    std::fs::create_dir(&out)?;
    net.run(move |site| async move {
        // toss send -> Chromium.
        let page = site.open(Kind::Chromium).await?;
        let mut sender = Cli::spawn("toss send", site.toss("send", &[&src.to_string_lossy()]))?;
        let code = sender.code().await?;
        page.type_into("#code", &code, STEP).await?;
        page.click("#receive", STEP).await?;
        reach(&page, "offer", SETUP, &mut sender).await;
        let started = Instant::now();
        page.click("#accept", STEP).await?;
        reach(&page, "done", LIMIT, &mut sender).await;
        let saved = wait_for_download(page.downloads(), "bench.bin", BENCH_SIZE, STEP).await;
        let cli_to_page = started.elapsed().as_secs_f64();
        let sent = sender.finish(STEP).await?;
        assert!(
            sent.ok && same_bytes(&src, &saved)?,
            "toss send -> Chromium"
        );
        std::fs::remove_file(&saved)?;

        // Chromium -> toss receive.
        page.goto(&site.page).await?;
        page.wait_for_state("home", LOAD).await;
        page.choose_files("#files", &[&src]).await?;
        page.wait_for_state("waiting", STEP).await;
        let code = page.text_of("#send-code", STEP).await?;
        let mut receiver = Cli::spawn(
            "toss receive",
            site.toss(
                "receive",
                &["--yes", "--out", &out.to_string_lossy(), code.trim()],
            ),
        )?;
        reach(&page, "done", LIMIT, &mut receiver).await;
        let got = receiver.finish(STEP).await?;
        let page_to_cli = got
            .events
            .iter()
            .find(|e| e["event"] == "done")
            .and_then(|e| e["seconds"].as_f64())
            .ok_or_else(|| format!("toss receive did not finish: {}", got.stderr))?;
        assert!(
            same_bytes(&src, &out.join("bench.bin"))?,
            "Chromium -> toss receive"
        );

        // Chromium -> Chromium: the same page sends, a second Chromium receives.
        let other = site.open(Kind::Chromium).await?;
        page.goto(&site.page).await?;
        page.wait_for_state("home", LOAD).await;
        page.choose_files("#files", &[&src]).await?;
        page.wait_for_state("waiting", STEP).await;
        let code = page.text_of("#send-code", STEP).await?;
        other.type_into("#code", code.trim(), STEP).await?;
        other.click("#receive", STEP).await?;
        other.wait_for_state("offer", SETUP).await;
        let started = Instant::now();
        other.click("#accept", STEP).await?;
        other.wait_for_state("done", LIMIT).await;
        let saved = wait_for_download(other.downloads(), "bench.bin", BENCH_SIZE, STEP).await;
        let page_to_page = started.elapsed().as_secs_f64();
        assert!(same_bytes(&src, &saved)?, "Chromium -> Chromium");
        page.wait_for_state("done", STEP).await;

        let (down, up, both) = (rate(cli_to_page), rate(page_to_cli), rate(page_to_page));
        let figures = serde_json::json!({
            "size_mib": BENCH_SIZE >> 20,
            "toss_send_to_chromium_mib_s": down,
            "chromium_to_toss_receive_mib_s": up,
            "chromium_to_chromium_mib_s": both,
            "ratio_toss_send_to_chromium": down / both,
            "ratio_chromium_to_toss_receive": up / both,
        });
        eprintln!(
            "browser benchmark, {} MiB each: toss send -> Chromium {down:.1} MiB/s ({:.2}x), \
             Chromium -> toss receive {up:.1} MiB/s ({:.2}x), Chromium -> Chromium {both:.1} \
             MiB/s (1.00x)",
            BENCH_SIZE >> 20,
            down / both,
            up / both
        );
        if let Ok(path) = std::env::var("TOSS_BENCH_OUT") {
            std::fs::write(path, serde_json::to_string_pretty(&figures)?)?;
        }
        other.quit().await?;
        page.quit().await
    })
}
