//! Test harness for the desktop app: a private Xvfb display, tauri-driver (which starts
//! WebKitWebDriver and the app), a WebDriver client, and "the other computer": a real
//! `toss-signal` process and the `toss` CLI. Each test gets its own display, ports, config
//! and download folders; everything is stopped on drop. What other test crates use too
//! comes from `toss-testkit`.
//!
//! Linux only (Xvfb, WebKitGTK); the test files that use it say so with `#![cfg]`.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use toss_testkit::ports::free_tcp_port;
use toss_testkit::signal::SignalProcess;
pub use toss_testkit::TestResult;

pub type Res<T> = toss_testkit::AnyResult<T>;

/// Interval between polls of the UI.
const POLL: Duration = Duration::from_millis(100);

/// Lines of the app's log shown when a test fails.
const LOG_TAIL: usize = 150;

/// Longest wait for a helper process to come up.
const STARTUP: Duration = Duration::from_secs(30);

/// The last `n` lines of `text`, for a failure's message.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A binary of this workspace, built next to `toss-desktop` (only this crate can find it).
pub fn bin(name: &str) -> PathBuf {
    toss_testkit::process::sibling(env!("CARGO_BIN_EXE_toss-desktop"), name)
}

/// Kills a process and its whole process group.
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .status();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(POLL);
    }
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
}

/// The other computer: a signaling server and the `toss` CLI.
pub struct Other {
    pub tmp: tempfile::TempDir,
    /// Killed on drop.
    signal: SignalProcess,
    pub url: String,
}

impl Other {
    pub fn start() -> Res<Self> {
        let signal = SignalProcess::start(&bin("toss-signal"))?;
        Ok(Self {
            tmp: tempfile::tempdir()?,
            url: signal.url.clone(),
            signal,
        })
    }

    pub fn toss(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin("toss"));
        cmd.args(args)
            .env("TOSS_SIGNAL", &self.url)
            .env("TOSS_LOOPBACK", "1")
            .env("TOSS_DEVICE_NAME", "cli-sender")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts `toss send --json FILE` and returns it with its code.
    pub fn send_json(&self, file: &Path) -> Res<(Child, String)> {
        let mut child = self
            .toss(&["send", "--json", &file.to_string_lossy()])
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("stdout")?).read_line(&mut line)?;
        let event: serde_json::Value = serde_json::from_str(&line)?;
        let code = event["code"].as_str().ok_or("no code event")?.to_owned();
        Ok((child, code))
    }
}

/// Where the app runs, for tests on a network of their own: a network namespace to start it
/// in, and variables for its environment. By default, here, as it is.
#[derive(Debug, Default)]
pub struct Around {
    /// The namespace (`ip netns exec NS`).
    pub netns: Option<String>,
    /// Added to the app's environment.
    pub env: Vec<(String, PathBuf)>,
}

/// The app under test, on its own display.
pub struct Desktop {
    pub client: Client,
    xvfb: Child,
    driver: Child,
    home: PathBuf,
    /// Keeps the temp home alive for the first launch; a relaunch reuses the folder.
    _home_guard: Option<tempfile::TempDir>,
    pub display: String,
    /// From asking WebDriver for a session (which starts the app) to the first screen shown.
    pub startup: Duration,
}

/// The app binary under test: `TOSS_DESKTOP_BIN` (e.g. a release or installed build), else
/// this build's.
pub fn app_bin() -> PathBuf {
    std::env::var_os("TOSS_DESKTOP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_toss-desktop")))
}

fn wait_port(port: u16) -> Res<()> {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > STARTUP {
            return Err(format!("nothing listens on port {port}").into());
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

impl Desktop {
    /// Launches the app with fresh settings that point at `other`'s server.
    pub async fn launch(other: &Other, args: &[&str]) -> Res<Self> {
        let guard = tempfile::tempdir()?;
        let home = guard.path().to_path_buf();
        std::fs::create_dir_all(home.join("config/toss"))?;
        std::fs::create_dir_all(home.join("downloads"))?;
        let settings = json!({
            "device_name": "Test desktop",
            "download_dir": home.join("downloads"),
            "signal_url": other.url,
            "ice_servers": [],
        });
        Self::launch_with_settings(args, &settings.to_string(), guard).await
    }

    /// Launches the app with `settings` as the saved settings file, as is.
    pub async fn launch_with_settings(
        args: &[&str],
        settings: &str,
        guard: tempfile::TempDir,
    ) -> Res<Self> {
        Self::launch_as(args, settings, guard, true).await
    }

    /// Launches the app with `settings` on the network it is in, not on loopback only: for
    /// tests in a network namespace of their own (nearby devices).
    pub async fn launch_on_lan(
        args: &[&str],
        settings: &str,
        guard: tempfile::TempDir,
    ) -> Res<Self> {
        Self::launch_as(args, settings, guard, false).await
    }

    async fn launch_as(
        args: &[&str],
        settings: &str,
        guard: tempfile::TempDir,
        loopback: bool,
    ) -> Res<Self> {
        Self::launch_around(args, settings, guard, loopback, &Around::default()).await
    }

    /// Launches the app with `settings` on the network of namespace `around.netns`, started
    /// by `ip netns exec` (which also puts the namespace's /etc/netns files, a hosts file
    /// say, in place), with `around.env` added to its environment. The caller's thread must
    /// be in that namespace too ([`toss_testkit::netns::run_in`]): it speaks to the driver
    /// on the namespace's loopback.
    pub async fn launch_in(
        args: &[&str],
        settings: &str,
        guard: tempfile::TempDir,
        around: &Around,
    ) -> Res<Self> {
        Self::launch_around(args, settings, guard, false, around).await
    }

    async fn launch_around(
        args: &[&str],
        settings: &str,
        guard: tempfile::TempDir,
        loopback: bool,
        around: &Around,
    ) -> Res<Self> {
        let home = guard.path().to_path_buf();
        std::fs::create_dir_all(home.join("config/toss"))?;
        std::fs::write(home.join("config/toss/settings.json"), settings)?;
        let mut app = Self::start(home, args, loopback, around).await?;
        app._home_guard = Some(guard);
        Ok(app)
    }

    /// Launches the app again on the home folder of an earlier run (a restart).
    pub async fn relaunch(home: tempfile::TempDir) -> Res<Self> {
        let mut app = Self::start(home.path().to_path_buf(), &[], true, &Around::default()).await?;
        app._home_guard = Some(home);
        Ok(app)
    }

    async fn start(home: PathBuf, args: &[&str], loopback: bool, around: &Around) -> Res<Self> {
        // Xvfb picks a free display itself and writes its number to stdout (-displayfd),
        // so parallel tests never race for one.
        let mut xvfb = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let mut number = String::new();
        BufReader::new(xvfb.stdout.take().ok_or("stdout")?).read_line(&mut number)?;
        let display = format!(":{}", number.trim());
        if number.trim().is_empty() {
            kill_group(&mut xvfb);
            return Err("Xvfb did not start".into());
        }
        let port = free_tcp_port()?;
        let native = free_tcp_port()?;
        let mut driver = match &around.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin_tauri_driver()?);
                c
            }
            None => Command::new(bin_tauri_driver()?),
        };
        // The app's log (nearby devices at debug), shown if the test fails.
        let log = std::fs::File::create(home.join("app.log"))?;
        let driver = driver
            .env("TOSS_LOG", "warn,toss_core::lan=debug")
            .envs(around.env.iter().map(|(k, v)| (k, v)))
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("DISPLAY", &display)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("TOSS_LOOPBACK", if loopback { "1" } else { "0" })
            // No session bus: notifications fail fast instead of starting a bus that
            // outlives the test; no accessibility bus either.
            .env("DBUS_SESSION_BUS_ADDRESS", "disabled:")
            .env("NO_AT_BRIDGE", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()?;
        let mut this_driver = driver;
        if let Err(e) = wait_port(port) {
            kill_group(&mut this_driver);
            kill_group(&mut xvfb);
            return Err(e);
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            json!({ "application": app_bin(), "args": args }),
        );
        let launched = Instant::now();
        // tauri-driver answers before WebKitWebDriver behind it is ready: retry the session.
        let mut client = None;
        let mut last = String::new();
        let start = Instant::now();
        while client.is_none() && start.elapsed() < STARTUP {
            let url = format!("http://127.0.0.1:{port}");
            let mut builder = ClientBuilder::native();
            builder.capabilities(caps.clone());
            match tokio::time::timeout(STARTUP, builder.connect(&url)).await {
                Ok(Ok(c)) => client = Some(c),
                Ok(Err(e)) => {
                    last = e.to_string();
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(_) => {
                    last = "no answer".into();
                }
            }
        }
        let Some(client) = client else {
            kill_group(&mut this_driver);
            kill_group(&mut xvfb);
            return Err(format!("WebDriver session failed: {last}").into());
        };
        let mut app = Self {
            client,
            xvfb,
            driver: this_driver,
            home,
            _home_guard: None,
            display,
            startup: Duration::ZERO,
        };
        app.wait_displayed("#screen-home, #screen-sending", STARTUP)
            .await?;
        app.startup = launched.elapsed();
        Ok(app)
    }

    pub fn home_dir(&self) -> &Path {
        &self.home
    }

    pub fn download_dir(&self) -> PathBuf {
        self.home.join("downloads")
    }

    async fn find(&self, css: &str) -> Res<Option<fantoccini::elements::Element>> {
        Ok(self
            .client
            .find_all(Locator::Css(css))
            .await?
            .into_iter()
            .next())
    }

    pub async fn displayed(&self, css: &str) -> Res<bool> {
        match self.find(css).await? {
            Some(e) => Ok(e.is_displayed().await?),
            None => Ok(false),
        }
    }

    /// Polls `probe` until it yields a value or `limit` passes. The UI re-renders while
    /// it is polled, so an element can go stale between finding and reading it: such
    /// errors mean "not yet", not failure.
    async fn poll<T, F, Fut>(&self, what: &str, limit: Duration, mut probe: F) -> Res<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Res<Option<T>>>,
    {
        let start = Instant::now();
        let mut last_error = None;
        loop {
            // One WebDriver round trip never takes seconds; a hung one must not hang the test.
            match tokio::time::timeout(Duration::from_secs(10), probe()).await {
                Ok(Ok(Some(v))) => return Ok(v),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => last_error = Some(e.to_string()),
                Err(_) => last_error = Some("a WebDriver call hung".into()),
            }
            if start.elapsed() > limit {
                return Err(format!(
                    "{what}; last WebDriver error: {last_error:?}; error shown: {:?}\n{}",
                    self.error_text().await,
                    self.log_tail()
                )
                .into());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The end of the app's log (`app.log` in its home), for a failure's message.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.home.join("app.log")).unwrap_or_default();
        format!("The app's log, its end:\n{}", last_lines(&log, LOG_TAIL))
    }

    pub async fn wait_displayed(&self, css: &str, limit: Duration) -> Res<()> {
        self.poll(&format!("{css} never appeared"), limit, || async {
            for e in self.client.find_all(Locator::Css(css)).await? {
                if e.is_displayed().await? {
                    return Ok(Some(()));
                }
            }
            Ok(None)
        })
        .await
    }

    pub async fn wait_hidden(&self, css: &str, limit: Duration) -> Res<()> {
        self.poll(&format!("{css} stayed visible"), limit, || async {
            Ok((!self.displayed(css).await?).then_some(()))
        })
        .await
    }

    async fn error_text(&self) -> Option<String> {
        let e = self.find("#error-message").await.ok()??;
        if e.is_displayed().await.ok()? {
            e.text().await.ok()
        } else {
            None
        }
    }

    /// The text of `css` once it is displayed and not empty.
    pub async fn text_when_present(&self, css: &str, limit: Duration) -> Res<String> {
        self.poll(&format!("{css} never showed text"), limit, || async {
            if let Some(e) = self.find(css).await? {
                if e.is_displayed().await? {
                    let text = e.text().await?;
                    if !text.trim().is_empty() {
                        return Ok(Some(text.trim().to_owned()));
                    }
                }
            }
            Ok(None)
        })
        .await
    }

    pub async fn click_when_enabled(&self, css: &str, limit: Duration) -> Res<()> {
        self.poll(&format!("{css} never became clickable"), limit, || async {
            if let Some(e) = self.find(css).await? {
                if e.is_displayed().await? && e.is_enabled().await? {
                    // To the middle of the view first: at its edge a sticky footer (the
                    // settings' Save bar) would take the click.
                    let arg = serde_json::to_value(&e)?;
                    self.client
                        .execute("arguments[0].scrollIntoView({block: 'center'});", vec![arg])
                        .await?;
                    e.click().await?;
                    return Ok(Some(()));
                }
            }
            Ok(None)
        })
        .await
    }

    /// The names on the nearby-device buttons in `list_css`, as shown.
    pub async fn device_names(&self, list_css: &str) -> Res<Vec<String>> {
        Ok(self
            .device_labels(list_css)
            .await?
            .into_iter()
            .map(|(name, _, _)| name)
            .collect())
    }

    /// Each nearby-device button in `list_css` as shown: its name, its short id and its
    /// note (both empty unless another device uses the same name). Read in one script, so
    /// that the list, which is drawn again whenever a device comes or goes, is read whole
    /// as it was at one moment.
    pub async fn device_labels(&self, list_css: &str) -> Res<Vec<(String, String, String)>> {
        let read = self
            .client
            .execute(
                "const text = (e, css) => (e.querySelector(css) || {}).textContent || '';
                 return [...document.querySelectorAll(arguments[0] + ' [data-device-id]')]
                   .map((e) => [text(e, '.device-name'), text(e, '.device-id'), text(e, '.device-note')]);",
                vec![json!(list_css)],
            )
            .await?;
        Ok(serde_json::from_value(read)?)
    }

    /// Clicks the nearby device called `name` in `list_css` once it is listed.
    pub async fn click_device(&self, list_css: &str, name: &str, limit: Duration) -> Res<()> {
        self.poll(
            &format!("{name} never appeared in {list_css}"),
            limit,
            || async {
                for e in self
                    .client
                    .find_all(Locator::Css(&format!("{list_css} [data-device-id]")))
                    .await?
                {
                    let text = e.prop("textContent").await?.unwrap_or_default();
                    if text.trim() == name && e.is_displayed().await? {
                        e.click().await?;
                        return Ok(Some(()));
                    }
                }
                Ok(None)
            },
        )
        .await
    }

    /// The centre of the nearby device called `name` in `list_css`, in screen pixels (the
    /// window sits at the display's origin, undecorated, at scale 1).
    pub async fn device_center(&self, list_css: &str, name: &str) -> Res<(i32, i32)> {
        for e in self
            .client
            .find_all(Locator::Css(&format!("{list_css} [data-device-id]")))
            .await?
        {
            if e.prop("textContent").await?.unwrap_or_default().trim() == name {
                // Into the middle of the view first (a longer list puts it below the
                // window's edge), then where it is in the view, which is where on screen.
                let arg = serde_json::to_value(&e)?;
                let at = self
                    .client
                    .execute(
                        "arguments[0].scrollIntoView({block: 'center'}); \
                         const r = arguments[0].getBoundingClientRect(); \
                         return [r.x + r.width / 2, r.y + r.height / 2];",
                        vec![arg],
                    )
                    .await?;
                let (x, y) = (at[0].as_f64(), at[1].as_f64());
                let (Some(x), Some(y)) = (x, y) else {
                    return Err(format!("no position for {name}: {at}").into());
                };
                return Ok((x as i32, y as i32));
            }
        }
        Err(format!("{name} is not in {list_css}").into())
    }

    /// A real OS drag and drop: a GTK drag source window (tests/dnd_source.py, at
    /// x=900..1140, y=100..340) offers `file`; xdotool presses on it, moves in steps to
    /// `to` and releases there.
    async fn drag_file_onto(&self, file: &Path, to: (i32, i32)) -> Res<()> {
        let mut source = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dnd_source.py"))
            .arg(file)
            .env("DISPLAY", &self.display)
            .env("NO_AT_BRIDGE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let result = self.drag_from_source(&mut source, to).await;
        let _ = source.kill();
        let _ = source.wait();
        result
    }

    /// Drags `file` from another window and drops it at `to`, until `shown` is displayed.
    /// xdotool's drag under Xvfb now and then ends without a drop reaching any window: the
    /// gesture is tried again (at most three times); the app's answer is not, and the
    /// caller's own wait reports what never showed.
    pub async fn drop_file_onto(&self, file: &Path, to: (i32, i32), shown: &str) -> Res<()> {
        for attempt in 1..=3 {
            self.drag_file_onto(file, to).await?;
            if self
                .wait_displayed(shown, Duration::from_secs(10))
                .await
                .is_ok()
            {
                return Ok(());
            }
            eprintln!("drag {attempt}: no drop reached the window; dragging again");
        }
        Ok(())
    }

    async fn drag_from_source(&self, source: &mut Child, to: (i32, i32)) -> Res<()> {
        let mut ready = String::new();
        BufReader::new(source.stdout.take().ok_or("stdout")?).read_line(&mut ready)?;
        if ready.trim() != "ready" {
            return Err("the drag source did not start".into());
        }
        // Wait until the source window is really on screen before pressing on it.
        let mapped = Command::new("timeout")
            .args([
                "20",
                "xdotool",
                "search",
                "--sync",
                "--onlyvisible",
                "--name",
            ])
            .arg("dnd-source")
            .env("DISPLAY", &self.display)
            .stdout(Stdio::null())
            .status()?;
        if !mapped.success() {
            return Err("the drag source window never appeared".into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Press on the source, move in steps onto the target, settle there with a last
        // small move (X drag and drop is a conversation: the target must have answered the
        // drag's position before the release), release.
        let (x, y) = to;
        let script = format!(
            "mousemove 1020 220 mousedown 1 sleep 0.2 mousemove 1000 230 sleep 0.2 \
             mousemove 700 230 sleep 0.2 mousemove {} {} sleep 0.2 mousemove {x} {y} \
             sleep 0.3 mousemove {} {} sleep 0.5 mouseup 1",
            x + 40,
            y + 5,
            x + 2,
            y + 1
        );
        let drag = Command::new("xdotool")
            .env("DISPLAY", &self.display)
            .args(script.split_whitespace())
            .status()?;
        if !drag.success() {
            return Err("xdotool could not drag".into());
        }
        Ok(())
    }

    /// Polls `probe` (public form of the harness's bounded poll).
    pub async fn wait_for<T, F, Fut>(&self, what: &str, limit: Duration, probe: F) -> Res<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Res<Option<T>>>,
    {
        self.poll(what, limit, probe).await
    }

    pub async fn type_into(&self, css: &str, text: &str) -> Res<()> {
        self.wait_displayed(css, STARTUP).await?;
        let e = self.find(css).await?.ok_or("no element")?;
        e.click().await?;
        e.send_keys(text).await?;
        Ok(())
    }

    pub async fn replace_text(&self, css: &str, text: &str) -> Res<()> {
        self.wait_displayed(css, STARTUP).await?;
        let e = self.find(css).await?.ok_or("no element")?;
        e.clear().await?;
        e.send_keys(text).await?;
        Ok(())
    }

    /// The DOM text of `css` (`textContent`), whether or not WebDriver deems it rendered.
    pub async fn text_content(&self, css: &str) -> Res<String> {
        self.wait_displayed(css, STARTUP).await?;
        let e = self.find(css).await?.ok_or("no element")?;
        Ok(e.prop("textContent").await?.unwrap_or_default())
    }

    pub async fn value_of(&self, css: &str) -> Res<String> {
        self.wait_displayed(css, STARTUP).await?;
        let e = self.find(css).await?.ok_or("no element")?;
        Ok(e.prop("value").await?.unwrap_or_default())
    }

    /// Whether the checkbox `css` is checked.
    pub async fn is_checked(&self, css: &str) -> Res<bool> {
        self.wait_displayed(css, STARTUP).await?;
        let e = self.find(css).await?.ok_or("no element")?;
        Ok(e.prop("checked").await?.as_deref() == Some("true"))
    }

    /// Saves a screenshot of the whole display (window decorations and all).
    pub fn screenshot(&self, path: &Path) -> Res<()> {
        let status = Command::new("import")
            .args([
                "-display",
                &self.display,
                "-window",
                "root",
                &path.to_string_lossy(),
            ])
            .status()?;
        if !status.success() {
            return Err("import failed".into());
        }
        Ok(())
    }

    pub async fn close(self) -> TestResult {
        self.close_keeping_home().await.map(drop)
    }

    /// Quits the app and hands back its home folder, for a restart.
    pub async fn close_keeping_home(mut self) -> Res<Option<tempfile::TempDir>> {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.clone().close()).await;
        kill_group(&mut self.driver);
        kill_group(&mut self.xvfb);
        Ok(self._home_guard.take())
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
        kill_group(&mut self.xvfb);
        if std::thread::panicking() {
            // The test failed: the end of what the app logged says what it saw.
            eprintln!("{}", self.log_tail());
        }
    }
}

/// The `textContent` of the first element matching `css` inside `e`, or "" when none does.
async fn child_text(e: &fantoccini::elements::Element, css: &str) -> Res<String> {
    match e.find_all(Locator::Css(css)).await?.into_iter().next() {
        Some(child) => Ok(child.prop("textContent").await?.unwrap_or_default()),
        None => Ok(String::new()),
    }
}

fn bin_tauri_driver() -> Res<PathBuf> {
    let home = std::env::var("HOME").unwrap_or_default();
    for candidate in [
        format!("{home}/.cargo/bin/tauri-driver"),
        "/usr/local/bin/tauri-driver".into(),
    ] {
        if Path::new(&candidate).exists() {
            return Ok(candidate.into());
        }
    }
    Err("tauri-driver is not installed: run make setup".into())
}
