//! Real browsers for tests of the web peer, driven over WebDriver (fantoccini): Debian's
//! Chromium through chromedriver, Firefox ESR through geckodriver. Each runs headless with a
//! fresh profile, a home and a download folder of its own, and is ended with every process
//! it started when dropped. Around it: bounded waits on the page's state
//! (`document.body.dataset.state`) that fail with what the user would have seen, finished
//! downloads, the browser's peak memory, screenshots.
//!
//! A browser starts in the network namespace of the calling thread, which is a namespace
//! the test made ([`crate::netns::run_in`]): a browser in the root namespace would use this
//! machine's real network. The driver listens on that namespace's 127.0.0.1, so a
//! [`Browser`] stays on the thread that started it (it is not `Send`).
//!
//! It sets only what running unattended needs (headless, no first-run pages, downloads
//! without asking). It never changes what a test is about: WebRTC keeps the browsers'
//! defaults, host addresses hidden behind mDNS names included.

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use fantoccini;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::ports::free_tcp_port;
use crate::process::which;
use crate::AnyResult;

/// Longest a driver and its browser may take to start and open a session (a fresh
/// Firefox profile on two busy cores takes several seconds).
const STARTUP: Duration = Duration::from_secs(60);
/// Longest one WebDriver command may take: none takes seconds, and a hung one must fail
/// the test, not hang it.
const COMMAND: Duration = Duration::from_secs(20);
/// Longest the driver may take to end the session and close the browser before the
/// browser's processes are killed.
const QUIT: Duration = Duration::from_secs(15);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);
/// How often the memory sampler adds up the browser's processes.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// The window's size unless a test asks for another: a laptop screen.
const WINDOW: (u32, u32) = (1280, 800);

/// Which browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Debian's `chromium`, through `chromedriver`.
    Chromium,
    /// Debian's `firefox-esr`, through `geckodriver`.
    Firefox,
}

impl Kind {
    /// Its name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chromium => "Chromium",
            Kind::Firefox => "Firefox",
        }
    }

    /// Where its WebDriver server is, or how to install it.
    fn driver(self) -> AnyResult<PathBuf> {
        let name = match self {
            Kind::Chromium => "chromedriver",
            Kind::Firefox => "geckodriver",
        };
        // `cargo install` puts geckodriver in ~/.cargo/bin, which a test's PATH may lack.
        let cargo_bin = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
            .map(|home| home.join("bin").join(name));
        which(name)
            .or(cargo_bin.filter(|p| p.is_file()))
            .ok_or_else(|| format!("{name} is not installed: run scripts/setup.sh").into())
    }

    /// The browser's binary, or how to install it.
    fn binary(self) -> AnyResult<PathBuf> {
        let path = PathBuf::from(match self {
            Kind::Chromium => "/usr/bin/chromium",
            Kind::Firefox => "/usr/bin/firefox-esr",
        });
        if path.exists() {
            Ok(path)
        } else {
            Err(format!("{} is missing: run scripts/setup.sh", path.display()).into())
        }
    }
}

/// How a browser is started; [`Options::default`] for most tests.
#[derive(Debug, Clone)]
pub struct Options {
    /// The window's size in CSS pixels (a phone is 360 wide).
    pub window: (u32, u32),
}

impl Default for Options {
    fn default() -> Self {
        Self { window: WINDOW }
    }
}

/// A headless browser under WebDriver, with a profile and a download folder of its own.
/// Dropping it ends the session and kills whatever is left of the browser and its driver.
pub struct Browser {
    /// The WebDriver session.
    client: Client,
    kind: Kind,
    /// The driver and everything it started; ends them when dropped.
    driver: Driver,
    /// Where the browser saves downloads without asking.
    downloads: PathBuf,
    /// The driver is reached on the 127.0.0.1 of the namespace of the thread that started
    /// it, so the browser never leaves that thread.
    _thread: PhantomData<*const ()>,
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser")
            .field("kind", &self.kind)
            .field("driver", &self.driver.child.id())
            .field("downloads", &self.downloads)
            .finish()
    }
}

impl Browser {
    /// Starts Chromium headless (`--headless=new --no-sandbox`, no first run, no background
    /// networking), saving downloads into [`Browser::downloads`] without asking.
    ///
    /// # Errors
    ///
    /// When chromedriver or Chromium is missing or does not start.
    pub async fn chromium(options: Options) -> AnyResult<Browser> {
        Self::start(Kind::Chromium, options).await
    }

    /// Starts Firefox ESR headless with a fresh profile, no first-run pages, saving
    /// downloads into [`Browser::downloads`] without asking.
    ///
    /// # Errors
    ///
    /// When geckodriver or Firefox is missing or does not start.
    pub async fn firefox(options: Options) -> AnyResult<Browser> {
        Self::start(Kind::Firefox, options).await
    }

    /// Starts `kind`.
    ///
    /// # Errors
    ///
    /// When its driver or the browser is missing or does not start.
    pub async fn start(kind: Kind, options: Options) -> AnyResult<Browser> {
        let (driver_bin, binary) = (kind.driver()?, kind.binary()?);
        let home = tempfile::Builder::new()
            .prefix(&format!("toss-{}-", kind.name().to_lowercase()))
            .tempdir()?;
        let downloads = home.path().join("downloads");
        let profile = home.path().join("profile");
        std::fs::create_dir_all(&downloads)?;
        std::fs::create_dir_all(&profile)?;
        let port = free_tcp_port()?;
        let log = std::fs::File::create(home.path().join("driver.log"))?;
        // The driver is the first process of a PID namespace of its own: the browser's
        // processes that lose their parent (crash handlers start that way) become its
        // children instead of init's, which in a container may never reap them, and when
        // the driver dies the kernel kills and reaps whatever is left in the namespace.
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--kill-child", "--"])
            .arg(&driver_bin);
        // SAFETY: `detach` makes only async-signal-safe system calls (prctl, close_range,
        // fcntl) and allocates nothing, as code between fork and exec must.
        unsafe { cmd.pre_exec(detach) };
        match kind {
            Kind::Chromium => cmd.arg(format!("--port={port}")),
            Kind::Firefox => cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]),
        };
        cmd.env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            // No crash reporter process outliving Firefox; no session bus to talk to.
            .env("MOZ_CRASHREPORTER_DISABLE", "1")
            .env("DBUS_SESSION_BUS_ADDRESS", "disabled:")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd
            .spawn()
            .map_err(|e| format!("unshare {}: {e}", driver_bin.display()))?;
        // From here on, whatever fails, the driver and its browser are ended.
        let mut driver = Driver {
            child,
            port,
            session: None,
            home,
        };
        driver.wait_listening()?;

        let caps = capabilities(kind, &binary, &profile, &downloads, options.window);
        let mut builder = ClientBuilder::native();
        builder.capabilities(caps);
        let url = format!("http://127.0.0.1:{port}");
        let client = match tokio::time::timeout(STARTUP, builder.connect(&url)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                return Err(
                    format!("{} did not start: {e}\n{}", kind.name(), driver.log_tail()).into(),
                )
            }
            Err(_) => {
                return Err(format!(
                    "{} did not start within {STARTUP:?}\n{}",
                    kind.name(),
                    driver.log_tail()
                )
                .into())
            }
        };
        driver.session = bounded("the session's id", client.session_id()).await?;
        let (width, height) = options.window;
        bounded(
            "setting the window size",
            client.set_window_size(width, height),
        )
        .await?;
        Ok(Browser {
            client,
            kind,
            driver,
            downloads,
            _thread: PhantomData,
        })
    }

    /// The WebDriver session, for what the helpers here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Which browser this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Its name, for messages.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Where it saves downloads.
    pub fn downloads(&self) -> &Path {
        &self.downloads
    }

    /// Opens `url` and waits for it to load.
    ///
    /// # Errors
    ///
    /// When the page does not load.
    pub async fn goto(&self, url: &str) -> AnyResult<()> {
        bounded(&format!("opening {url}"), self.client.goto(url)).await
    }

    /// The page's title.
    ///
    /// # Errors
    ///
    /// When WebDriver fails.
    pub async fn title(&self) -> AnyResult<String> {
        bounded("reading the title", self.client.title()).await
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page.
    ///
    /// # Errors
    ///
    /// When the script throws or WebDriver fails.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> AnyResult<Value> {
        bounded("running a script", self.client.execute(script, args)).await
    }

    /// `document.body.dataset.state`: where the page stands ("" before there is a body or
    /// a state).
    ///
    /// # Errors
    ///
    /// When WebDriver fails.
    pub async fn state(&self) -> AnyResult<String> {
        let v = self
            .execute(
                "return (document.body && document.body.dataset.state) || ''",
                vec![],
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// `document.body.dataset.save`: which way the page saves what it receives ("stream",
    /// "folder" or "memory"; "" when it has not said).
    ///
    /// # Errors
    ///
    /// When WebDriver fails.
    pub async fn save_path(&self) -> AnyResult<String> {
        let v = self
            .execute(
                "return (document.body && document.body.dataset.save) || ''",
                vec![],
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// The text of `#error` ("" when there is none).
    ///
    /// # Errors
    ///
    /// When WebDriver fails.
    pub async fn error_text(&self) -> AnyResult<String> {
        let v = self
            .execute(
                "const e = document.getElementById('error'); \
                 return e ? e.textContent.trim() : ''",
                vec![],
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// What the user sees, in one line for a failure message: the page's state, the text of
    /// `#error`, and the start of the visible text.
    pub async fn seen(&self) -> String {
        let v = self
            .execute(
                "const b = document.body; \
                 const e = document.getElementById('error'); \
                 return { state: (b && b.dataset.state) || '', \
                          error: e ? e.textContent.trim() : '', \
                          text: b ? b.innerText.trim().replace(/\\s+/g, ' ').slice(0, 400) : '', \
                          title: document.title, url: location.href }",
                vec![],
            )
            .await;
        match v {
            Ok(v) => format!(
                "{} showed state {:?}, #error {:?}, title {:?} at {}; on screen: {:?}",
                self.name(),
                v["state"].as_str().unwrap_or_default(),
                v["error"].as_str().unwrap_or_default(),
                v["title"].as_str().unwrap_or_default(),
                v["url"].as_str().unwrap_or_default(),
                v["text"].as_str().unwrap_or_default(),
            ),
            Err(e) => format!("{} could not be read: {e}", self.name()),
        }
    }

    /// Waits, at most `limit`, for an element matching `css` to be displayed, and returns
    /// it.
    ///
    /// # Panics
    ///
    /// When none is displayed by then, saying what the page showed instead.
    pub async fn wait_for(&self, css: &str, limit: Duration) -> Element {
        let started = Instant::now();
        let mut last_error = String::new();
        loop {
            match self.displayed(css).await {
                Ok(Some(e)) => return e,
                Ok(None) => {}
                Err(e) => last_error = format!(" (last WebDriver error: {e})"),
            }
            if started.elapsed() > limit {
                panic!(
                    "{css} never appeared within {limit:?}{last_error}: {}",
                    self.seen().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The first displayed element matching `css`, if there is one now.
    async fn displayed(&self, css: &str) -> AnyResult<Option<Element>> {
        for e in bounded(
            &format!("finding {css}"),
            self.client.find_all(Locator::Css(css)),
        )
        .await?
        {
            // An element the page re-renders can go stale between finding and asking.
            if let Ok(Ok(true)) = tokio::time::timeout(COMMAND, e.is_displayed()).await {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// Waits, at most `limit`, for `document.body.dataset.state` to be `state`.
    ///
    /// # Panics
    ///
    /// When it is not by then, or when the page ends in another final state first (done,
    /// declined, cancelled, failed: it will not move on from there), saying what the page
    /// showed.
    pub async fn wait_for_state(&self, state: &str, limit: Duration) {
        if let Err(e) = self.reach_state(state, limit).await {
            panic!("{e}");
        }
    }

    /// [`Browser::wait_for_state`] for a test that adds what else it knows (the other
    /// side's last words) to the failure.
    ///
    /// # Errors
    ///
    /// The sentence `wait_for_state` panics with.
    pub async fn reach_state(&self, state: &str, limit: Duration) -> Result<(), String> {
        const FINAL: [&str; 4] = ["done", "declined", "cancelled", "failed"];
        let started = Instant::now();
        let mut last_error = String::new();
        loop {
            match self.state().await {
                Ok(now) if now == state => return Ok(()),
                Ok(now) if FINAL.contains(&now.as_str()) => {
                    return Err(format!(
                        "waiting for state {state:?}, the page ended in {now:?} after {:.1} s: {}",
                        started.elapsed().as_secs_f64(),
                        self.seen().await
                    ))
                }
                Ok(_) => {}
                Err(e) => last_error = format!(" (last WebDriver error: {e})"),
            }
            if started.elapsed() > limit {
                return Err(format!(
                    "the page never reached state {state:?} within {limit:?}{last_error}: {}",
                    self.seen().await
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The text of the displayed element `css`, waited for at most `limit`.
    ///
    /// # Panics
    ///
    /// When it never appears.
    ///
    /// # Errors
    ///
    /// When WebDriver fails.
    pub async fn text_of(&self, css: &str, limit: Duration) -> AnyResult<String> {
        // Found and read in one step in the page: an element the page re-renders (a screen
        // drawn again with the same words) would go stale between a find and a read.
        const SCRIPT: &str = "const e = [...document.querySelectorAll(arguments[0])]\
            .find((e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden');\
            return e ? e.innerText : null;";
        let started = Instant::now();
        let mut last_error = String::new();
        loop {
            match self.execute(SCRIPT, vec![Value::from(css)]).await {
                Ok(Value::String(text)) => return Ok(text),
                Ok(_) => {}
                Err(e) => last_error = format!(" (last WebDriver error: {e})"),
            }
            if started.elapsed() > limit {
                panic!(
                    "{css} never appeared within {limit:?}{last_error}: {}",
                    self.seen().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks the displayed, enabled element `css` from within the page (its `click()`), as
    /// soon as there is one, within `limit`. For a button pressed mid-transfer: a WebDriver
    /// click there was seen to get no answer for 20 s on a loaded machine, while the page
    /// itself took the click at once.
    ///
    /// # Errors
    ///
    /// When there is none to click within `limit`, or WebDriver fails.
    pub async fn click_in_page(&self, css: &str, limit: Duration) -> AnyResult<()> {
        const SCRIPT: &str = "const e = [...document.querySelectorAll(arguments[0])]\
            .find((e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden' && !e.disabled);\
            if (!e) return false; e.click(); return true;";
        let started = Instant::now();
        loop {
            if let Value::Bool(true) = self.execute(SCRIPT, vec![Value::from(css)]).await? {
                return Ok(());
            }
            if started.elapsed() >= limit {
                return Err(format!("{css} was not there to click within {limit:?}").into());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks the displayed element `css`, waited for at most `limit`.
    ///
    /// # Panics
    ///
    /// When it never appears.
    ///
    /// # Errors
    ///
    /// When the click fails.
    pub async fn click(&self, css: &str, limit: Duration) -> AnyResult<()> {
        // Found and clicked in one step in the page, as a fallback: the driver's handle to an
        // element can go stale between its find and its click (seen under load mid-transfer,
        // "not found in the current frame"), while a person's click lands on the button on
        // screen. Only a displayed, enabled element is clicked.
        const SCRIPT: &str = "const e = [...document.querySelectorAll(arguments[0])]\
            .find((e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden' && !e.disabled);\
            if (!e) return false; e.click(); return true;";
        let started = Instant::now();
        loop {
            let e = self.wait_for(css, limit).await;
            match bounded(&format!("clicking {css}"), e.click()).await {
                Err(err) if err.to_string().contains("stale element") => {
                    if let Ok(Value::Bool(true)) =
                        self.execute(SCRIPT, vec![Value::from(css)]).await
                    {
                        return Ok(());
                    }
                    if started.elapsed() >= limit {
                        return Err(err);
                    }
                    tokio::time::sleep(POLL).await;
                }
                other => return other,
            }
        }
    }

    /// Types `text` into the displayed element `css`, waited for at most `limit`.
    ///
    /// # Panics
    ///
    /// When it never appears.
    ///
    /// # Errors
    ///
    /// When typing fails.
    pub async fn type_into(&self, css: &str, text: &str, limit: Duration) -> AnyResult<()> {
        let e = self.wait_for(css, limit).await;
        bounded(&format!("typing into {css}"), e.send_keys(text)).await
    }

    /// Chooses `paths` in the file input `css` as a user would in the file picker
    /// (WebDriver sends their paths, one a line, to the input, which may be hidden). A
    /// folder for a `webkitdirectory` input: chromedriver takes one; geckodriver refuses any
    /// path that is not a file.
    ///
    /// # Errors
    ///
    /// When the input is missing or the driver refuses the paths.
    pub async fn choose_files(&self, css: &str, paths: &[&Path]) -> AnyResult<()> {
        let input = match bounded(
            &format!("finding {css}"),
            self.client.find(Locator::Css(css)),
        )
        .await
        {
            Ok(input) => input,
            Err(e) => return Err(format!("{e}; {}", self.seen().await).into()),
        };
        let text = paths
            .iter()
            .map(|p| p.to_string_lossy())
            .collect::<Vec<_>>()
            .join("\n");
        bounded(&format!("choosing files in {css}"), input.send_keys(&text)).await
    }

    /// Saves a screenshot of the window as PNG at `path`.
    ///
    /// # Errors
    ///
    /// When WebDriver or the disk fails.
    pub async fn screenshot(&self, path: &Path) -> AnyResult<()> {
        let png = bounded("taking a screenshot", self.client.screenshot()).await?;
        std::fs::write(path, png)?;
        Ok(())
    }

    /// Starts adding up the memory of the browser's processes every 200 ms until
    /// [`MemorySampler::stop`].
    pub fn sample_memory(&self) -> MemorySampler {
        MemorySampler::start(self.driver.init().unwrap_or(self.driver.child.id()))
    }

    /// The browser's processes now: every process below its driver.
    pub fn pids(&self) -> Vec<u32> {
        self.driver.browser_pids()
    }

    /// Ends the session (the driver closes the browser), kills whatever is left, and says
    /// whether anything of the browser outlived it.
    ///
    /// # Errors
    ///
    /// When a process of the browser is still there afterwards.
    pub async fn quit(mut self) -> AnyResult<()> {
        let _ = tokio::time::timeout(QUIT, self.client.clone().close()).await;
        self.driver.session = None;
        let left = self.driver.end();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{} left processes behind: {left:?}", self.name()).into())
        }
    }
}

/// A WebDriver server (chromedriver or geckodriver) and the browser it started, in a PID
/// namespace of their own; ended together when dropped.
struct Driver {
    /// `unshare`, this process's child, whose only child is the driver: the first process
    /// (init) of the namespace. The browser is the driver's child.
    child: Child,
    /// Where the driver listens on this network namespace's 127.0.0.1.
    port: u16,
    /// The session, to end it from `drop`, which cannot await a WebDriver client.
    session: Option<String>,
    /// The browser's home, profile and downloads; deleted after everything has ended.
    home: tempfile::TempDir,
}

impl Driver {
    /// Waits until the driver accepts connections.
    fn wait_listening(&mut self) -> AnyResult<()> {
        let started = Instant::now();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("the driver exited ({status})\n{}", self.log_tail()).into());
            }
            if started.elapsed() > STARTUP {
                return Err(format!(
                    "the driver did not listen on port {} within {STARTUP:?}\n{}",
                    self.port,
                    self.log_tail()
                )
                .into());
            }
            std::thread::sleep(POLL);
        }
    }

    /// The end of the driver's log, for a failure message.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.home.path().join("driver.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("driver log (last lines):\n{tail}")
    }

    /// The driver's pid (the namespace's init), while it runs.
    fn init(&self) -> Option<u32> {
        Processes::read().children(self.child.id()).first().copied()
    }

    /// Every process of the browser: everything below the driver.
    fn browser_pids(&self) -> Vec<u32> {
        self.init().map(descendants).unwrap_or_default()
    }

    /// Ends the session (the driver closes the browser as a user would), then the driver,
    /// which takes down whatever is left in its namespace, and returns the pids of the
    /// driver and the browser still there after [`QUIT`] (none, unless the kernel is slow).
    fn end(&mut self) -> Vec<u32> {
        if let Some(session) = self.session.take() {
            let _ = delete_session(self.port, &session);
            // The driver answers once the browser has gone, or nearly. Orphans that have
            // exited stay as zombies of the driver, which does not reap them.
            let started = Instant::now();
            while self.browser_pids().into_iter().any(running) && started.elapsed() < QUIT {
                std::thread::sleep(POLL);
            }
        }
        let seen = descendants(self.child.id());
        // The namespace's init dying kills and reaps every process in it; unshare, which
        // waits for it, then exits.
        if let Some(init) = self.init() {
            kill(init);
        }
        let started = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) && started.elapsed() < QUIT {
            std::thread::sleep(POLL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        loop {
            let left: Vec<u32> = seen.iter().copied().filter(|&p| alive(p)).collect();
            if left.is_empty() || started.elapsed() > QUIT {
                return left;
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let left = self.end();
        if !left.is_empty() {
            eprintln!("the browser left processes behind: {left:?}");
        }
    }
}

/// Ends WebDriver session `id` on the driver at `port` with a plain HTTP request (`drop`
/// cannot await the WebDriver client), waiting at most [`QUIT`] for its answer.
fn delete_session(port: u16, id: &str) -> std::io::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(QUIT))?;
    stream.set_write_timeout(Some(QUIT))?;
    write!(
        stream,
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // The answer's headers, then as much body as they announce.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return Ok(());
            }
        }
    }
}

/// The capabilities that start `kind` unattended.
fn capabilities(
    kind: Kind,
    binary: &Path,
    profile: &Path,
    downloads: &Path,
    (width, height): (u32, u32),
) -> serde_json::Map<String, Value> {
    let caps = match kind {
        Kind::Chromium => json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                    format!("--window-size={width},{height}"),
                ],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "profile.default_content_setting_values.automatic_downloads": 1,
                },
            },
        }),
        Kind::Firefox => json!({
            "browserName": "firefox",
            "moz:firefoxOptions": {
                "binary": binary,
                "args": ["-headless", "-profile", profile],
                "prefs": {
                    "browser.download.dir": downloads,
                    "browser.download.folderList": 2,
                    "browser.download.useDownloadDir": true,
                    "browser.download.always_ask_before_handling_new_types": false,
                    "browser.helperApps.neverAsk.saveToDisk":
                        "application/octet-stream,application/zip",
                    // The file is written in the download folder as NAME.part, not in /tmp.
                    "browser.download.start_downloads_in_tmp_dir": false,
                    "browser.download.alwaysOpenPanel": false,
                    // A fresh ESR profile's first-run and welcome pages, and its reports.
                    "browser.aboutwelcome.enabled": false,
                    "browser.startup.homepage_override.mstone": "ignore",
                    "browser.startup.page": 0,
                    "browser.shell.checkDefaultBrowser": false,
                    "datareporting.policy.dataSubmissionEnabled": false,
                    "datareporting.policy.dataSubmissionPolicyBypassNotification": true,
                    "toolkit.telemetry.reportingpolicy.firstRun": false,
                    "trailhead.firstrun.didSeeAboutWelcome": true,
                    "app.update.disabledForTesting": true,
                },
            },
        }),
    };
    match caps {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// `fut`, a WebDriver command, failing after [`COMMAND`] instead of hanging.
async fn bounded<T, E>(
    what: &str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> AnyResult<T>
where
    E: std::error::Error + 'static,
{
    match tokio::time::timeout(COMMAND, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}").into()),
        Err(_) => Err(format!("{what}: no answer within {COMMAND:?}").into()),
    }
}

/// Waits, at most `limit`, for the browser to have saved `name` in `dir` under its final
/// name with `size` bytes, and for no download in `dir` to be under way (Chromium's
/// `.crdownload`, Firefox's `.part`); returns its path.
///
/// # Panics
///
/// When it has not by then, listing what the folder holds.
pub async fn wait_for_download(dir: &Path, name: &str, size: u64, limit: Duration) -> PathBuf {
    let path = dir.join(name);
    let started = Instant::now();
    loop {
        let listing = list(dir);
        let busy = listing
            .iter()
            .any(|(n, _)| n.ends_with(".crdownload") || n.ends_with(".part"));
        if !busy && listing.iter().any(|(n, s)| n == name && *s == size) {
            return path;
        }
        if started.elapsed() > limit {
            panic!(
                "{name} ({size} bytes) was not downloaded within {limit:?}; the download \
                 folder holds {listing:?}"
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The names and sizes of what `dir` holds, sorted.
pub fn list(dir: &Path) -> Vec<(String, u64)> {
    let mut all: Vec<(String, u64)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let size = e.metadata().map(|m| m.len()).unwrap_or(0);
            (e.file_name().to_string_lossy().into_owned(), size)
        })
        .collect();
    all.sort();
    all
}

/// The peak memory of a browser's processes, summed over all of them at each sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Summed PSS at the first sample, before the work being measured: the browser idle.
    pub idle_pss: u64,
    /// The highest summed PSS (proportional set size: a page shared by n processes counts
    /// 1/n in each), in bytes. The figure to hold against a budget.
    pub peak_pss: u64,
    /// The highest summed RSS, in bytes: counts shared pages once per process, so it
    /// overstates a browser of many processes.
    pub peak_rss: u64,
    /// The most processes seen at once.
    pub processes: usize,
    /// How many samples were taken.
    pub samples: usize,
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        write!(
            f,
            "peak PSS {:.1} MiB (idle {:.1} MiB, +{:.1} MiB), peak RSS {:.1} MiB, up to {} \
             processes, {} samples",
            mib(self.peak_pss),
            mib(self.idle_pss),
            mib(self.peak_pss.saturating_sub(self.idle_pss)),
            mib(self.peak_rss),
            self.processes,
            self.samples
        )
    }
}

/// Adds up, every 200 ms on a thread of its own, the memory of every process below one
/// process (a browser's driver: the browser and all its children), and keeps the peak.
#[derive(Debug)]
pub struct MemorySampler {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Memory>>,
}

impl MemorySampler {
    /// Starts sampling the descendants of `root` (not `root` itself).
    pub fn start(root: u32) -> MemorySampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut memory = Memory::default();
            loop {
                let (mut pss, mut rss, mut count) = (0, 0, 0);
                for pid in descendants(root) {
                    // A process that ended between listing and reading counts nothing.
                    if let Some((p, r)) = smaps_rollup(pid) {
                        pss += p;
                        rss += r;
                        count += 1;
                    }
                }
                if memory.samples == 0 {
                    memory.idle_pss = pss;
                }
                memory.samples += 1;
                memory.peak_pss = memory.peak_pss.max(pss);
                memory.peak_rss = memory.peak_rss.max(rss);
                memory.processes = memory.processes.max(count);
                if stopped.load(Ordering::Relaxed) {
                    return memory;
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
        });
        MemorySampler {
            stop,
            thread: Some(thread),
        }
    }

    /// Takes a last sample, stops, and returns the peaks.
    pub fn stop(mut self) -> Memory {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for MemorySampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// PSS and RSS of `pid` in bytes, from /proc/PID/smaps_rollup.
fn smaps_rollup(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("Pss:")?, field("Rss:")?))
}

/// Every process below `root` (not `root` itself), from /proc.
fn descendants(root: u32) -> Vec<u32> {
    Processes::read().below(root)
}

/// A snapshot of the processes: each one's parent.
struct Processes {
    parent: HashMap<u32, u32>,
}

impl Processes {
    fn read() -> Processes {
        let mut parent = HashMap::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some(ppid) = stat(pid).map(|s| s.1) {
                parent.insert(pid, ppid);
            }
        }
        Processes { parent }
    }

    fn below(&self, root: u32) -> Vec<u32> {
        let mut found = Vec::new();
        let mut frontier = vec![root];
        while let Some(p) = frontier.pop() {
            for (&child, &ppid) in &self.parent {
                if ppid == p && !found.contains(&child) {
                    found.push(child);
                    frontier.push(child);
                }
            }
        }
        found.sort_unstable();
        found
    }

    /// The direct children of `pid`.
    fn children(&self, pid: u32) -> Vec<u32> {
        let mut found: Vec<u32> = self
            .parent
            .iter()
            .filter(|(_, &ppid)| ppid == pid)
            .map(|(&child, _)| child)
            .collect();
        found.sort_unstable();
        found
    }
}

/// State and parent of `pid`, from /proc/PID/stat ("PID (COMM) STATE PPID ...", where COMM
/// may hold spaces and parentheses).
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = text[text.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Whether `pid` is still there, as a process or as a zombie not yet reaped.
fn alive(pid: u32) -> bool {
    stat(pid).is_some()
}

/// In the driver's `unshare`, between fork and exec: it is killed when the thread that
/// started it ends (the test's namespace thread, panicking or killed with the test), which
/// takes down the driver (`--kill-child`) and with it the browser's whole PID namespace;
/// and it keeps none of the descriptors this process inherited without close-on-exec (the
/// build lock `flock` hands to cargo, say), so that nothing the browser starts holds them.
fn detach() -> std::io::Result<()> {
    // SAFETY: plain system calls on integers; no memory is shared with them.
    unsafe {
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        // Close-on-exec rather than closed: std's own pipe that reports a failed exec
        // must stay open until the exec.
        let range = libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        if range != 0 {
            for fd in 3..4096 {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
    }
    Ok(())
}

/// Whether `pid` is still running (not a zombie).
fn running(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _)| state != 'Z')
}

fn kill(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: sends a signal; no memory is involved.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}
