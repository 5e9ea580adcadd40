//! Small additions to [`crate::browser`] for the tests that put the web peer opposite the
//! desktop app or `toss` on a LAN: the page's console, caught inside the page (WebDriver's
//! own log needs a capability the harness does not ask for, and geckodriver has none), and
//! a bounded wait on the page's state that fails with what the user saw and what the page
//! logged, a wait for a download that returns its failure instead of panicking, what
//! Chromium's downloads page says of each download, and choosing Keep there.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::browser::{list, Browser};
use crate::AnyResult;

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);

/// Keeps, in `window.__tossConsole`, what the page says on its console and what it throws
/// without catching (at most 200 lines of 1000 characters); the page still logs as before.
const CATCH: &str = r#"
if (!window.__tossConsole) {
  const log = [];
  window.__tossConsole = log;
  const text = (a) => {
    try {
      if (a instanceof Error) return a.stack || String(a);
      return typeof a === "string" ? a : JSON.stringify(a);
    } catch {
      return String(a);
    }
  };
  const keep = (level, args) => {
    if (log.length < 200) log.push(`${level}: ${Array.from(args, text).join(" ")}`.slice(0, 1000));
  };
  for (const level of ["error", "warn", "info", "log", "debug"]) {
    const original = console[level].bind(console);
    console[level] = (...args) => {
      keep(level, args);
      original(...args);
    };
  }
  window.addEventListener("error", (e) => keep("uncaught", [`${e.message} at ${e.filename}:${e.lineno}`]));
  window.addEventListener("unhandledrejection", (e) => keep("unhandled rejection", [e.reason]));
}
"#;

/// Starts keeping what the page now open logs (see [`console`]). Call it after each
/// `goto`: a new document starts with a console of its own. What the page logged before
/// is not kept.
///
/// # Errors
///
/// When WebDriver fails.
pub async fn catch_console(browser: &Browser) -> AnyResult<()> {
    browser.execute(CATCH, vec![]).await.map(drop)
}

/// What the page has logged since [`catch_console`], one entry a line ("level: text").
pub async fn console(browser: &Browser) -> Vec<String> {
    match browser
        .execute("return window.__tossConsole || null", vec![])
        .await
    {
        Ok(Value::Array(lines)) => lines
            .iter()
            .map(|l| l.as_str().unwrap_or_default().to_owned())
            .collect(),
        Ok(_) => vec!["(the page's console was not caught)".to_owned()],
        Err(e) => vec![format!("(the page's console could not be read: {e})")],
    }
}

/// What the user sees ([`Browser::seen`]) and what the page logged, for a failure message.
pub async fn shown(browser: &Browser) -> String {
    let lines = console(browser).await;
    let console = if lines.is_empty() {
        "nothing".to_owned()
    } else {
        lines.join("\n  ")
    };
    format!(
        "{}\n{}'s console said: {console}",
        browser.seen().await,
        browser.name()
    )
}

/// Waits, at most `limit`, for `document.body.dataset.state` to be `state`.
///
/// # Errors
///
/// When it is not by then, or when the page ends in another final state first (done,
/// declined, cancelled, failed), saying what the page showed and logged.
pub async fn wait_state(browser: &Browser, state: &str, limit: Duration) -> Result<(), String> {
    const FINAL: [&str; 4] = ["done", "declined", "cancelled", "failed"];
    let started = Instant::now();
    let mut last_error = String::new();
    loop {
        match browser.state().await {
            Ok(now) if now == state => return Ok(()),
            Ok(now) if FINAL.contains(&now.as_str()) => {
                return Err(format!(
                    "waiting for state {state:?}, the page ended in {now:?} after {:.1} s: {}",
                    started.elapsed().as_secs_f64(),
                    shown(browser).await
                ))
            }
            Ok(_) => {}
            Err(e) => last_error = format!(" (last WebDriver error: {e})"),
        }
        if started.elapsed() > limit {
            return Err(format!(
                "the page never reached state {state:?} within {limit:?}{last_error}: {}",
                shown(browser).await
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits, at most `limit`, for the browser to have saved `name` in `dir` under its final
/// name with `size` bytes, and for no download in `dir` to be under way; returns its path.
/// [`crate::browser::wait_for_download`] for a test that adds what else it knows.
///
/// # Errors
///
/// When it has not by then, listing what the folder holds.
pub async fn downloaded(
    dir: &Path,
    name: &str,
    size: u64,
    limit: Duration,
) -> Result<PathBuf, String> {
    let started = Instant::now();
    loop {
        let listing = list(dir);
        let busy = listing
            .iter()
            .any(|(n, _)| n.ends_with(".crdownload") || n.ends_with(".part"));
        if !busy && listing.iter().any(|(n, s)| n == name && *s == size) {
            return Ok(dir.join(name));
        }
        if started.elapsed() > limit {
            return Err(format!(
                "{name} ({size} bytes) was not downloaded within {limit:?}; the download \
                 folder holds {listing:?}"
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What Chromium's own downloads page (chrome://downloads) says of each download: its name,
/// its status line (a download Chromium holds back says why there) and its buttons. It
/// leaves the page the browser was on: for a failure message, at the end of a test.
pub async fn chromium_downloads(browser: &Browser) -> String {
    if let Err(e) = browser.goto("chrome://downloads/").await {
        return format!("(chrome://downloads could not be opened: {e})");
    }
    let script = r##"
      const manager = document.querySelector("downloads-manager");
      const root = manager && manager.shadowRoot;
      const items = root ? Array.from(root.querySelectorAll("downloads-item")) : [];
      return items.map((item) => {
        const r = item.shadowRoot;
        if (!r) return "(an item without a shadow root)";
        const text = Array.from(r.querySelectorAll("#content, #details, .description, #tag, cr-button, button"))
          .map((e) => (e.innerText || e.textContent || "").trim())
          .filter((t) => t.length > 0);
        return Array.from(new Set(text)).join(" | ").replace(/\s+/g, " ");
      });
    "##;
    // The page draws its list a moment after it has loaded.
    tokio::time::sleep(Duration::from_secs(1)).await;
    match browser.execute(script, vec![]).await {
        Ok(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
            .join("; "),
        Ok(_) => "(chrome://downloads lists nothing)".to_owned(),
        Err(e) => format!("(chrome://downloads could not be read: {e})"),
    }
}

/// Does what a person does when Chromium holds back a download from a page that is not
/// `https`: opens its downloads page in a new tab, chooses Keep on each download that
/// offers it, and comes back to the page's tab. Returns the downloads page's words for
/// what it held (empty when nothing was held).
///
/// # Errors
///
/// When WebDriver fails, or a Keep was offered but could not be chosen.
pub async fn chromium_keep_downloads(browser: &Browser) -> AnyResult<String> {
    let client = browser.client();
    let page = client.window().await?;
    let tab = client.new_window(true).await?;
    client.switch_to_window(tab.handle).await?;
    browser.goto("chrome://downloads/").await?;
    // A held item shows its choices in the menu behind "more actions": open its menu, then
    // choose the entry that keeps the file ("Download insecure file", or Keep). Chromium takes
    // that choice only from a real click (a user gesture), so both are clicked with the
    // pointer, where the page says the two buttons are.
    let find = r##"
      const want = arguments[0];
      const manager = document.querySelector("downloads-manager");
      const root = manager && manager.shadowRoot;
      const items = root ? Array.from(root.querySelectorAll("downloads-item")) : [];
      const seen = (e) => (e.checkVisibility ? e.checkVisibility() : e.offsetParent !== null);
      const label = (b) => (b.innerText || b.textContent || b.getAttribute("aria-label") || "").trim();
      for (const item of items) {
        const r = item.shadowRoot;
        if (!r) continue;
        const choices = Array.from(r.querySelectorAll("cr-button, button, cr-icon-button, [role=menuitem]")).filter(seen);
        const hit = want === "menu"
          ? choices.find((b) => b.id === "more-actions")
          : choices.find((b) => /^(keep|keep anyway|download insecure file)$/i.test(label(b)));
        if (!hit) continue;
        const box = hit.getBoundingClientRect();
        const name = r.querySelector("#name, #file-link");
        const why = r.querySelector(".description, #description");
        const said = [name, why].filter((e) => e).map((e) => label(e)).join(": ");
        return { x: box.left + box.width / 2, y: box.top + box.height / 2, said };
      }
      return null;
    "##;
    let mut said = String::new();
    // The page draws its list a moment after it has loaded, and the menu a moment after the
    // click: a few looks, bounded.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let menu = browser.execute(find, vec![Value::from("menu")]).await?;
        let Some((x, y)) = point(&menu) else { continue };
        pointer_click(browser, x, y).await?;
        tokio::time::sleep(Duration::from_millis(250)).await;
        let keep = browser.execute(find, vec![Value::from("keep")]).await?;
        if let Some((x, y)) = point(&keep) {
            pointer_click(browser, x, y).await?;
            said = keep["said"].as_str().unwrap_or_default().to_owned();
            break;
        }
    }
    // Keeping takes a moment to reach the file; the tab stays until then.
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.close_window().await?;
    client.switch_to_window(page).await?;
    Ok(said)
}

/// `{x, y}` of a found button, in the viewport.
fn point(found: &Value) -> Option<(f64, f64)> {
    Some((found["x"].as_f64()?, found["y"].as_f64()?))
}

/// A real click (pointer moved, pressed and released) at `x, y` in the viewport.
async fn pointer_click(browser: &Browser, x: f64, y: f64) -> AnyResult<()> {
    use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
    let actions = MouseActions::new("mouse".to_owned())
        .then(PointerAction::MoveTo {
            duration: None,
            x,
            y,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    browser.client().perform_actions(actions).await?;
    Ok(())
}

/// How the page's service-worker download stands, for a failure message: whether a
/// service worker controls the page and in what state its registration's worker is, and
/// the downloads the page has started (its hidden frames: their address and what they
/// show).
pub async fn stream_saver_state(browser: &Browser) -> String {
    let script = r##"
      const done = arguments[arguments.length - 1];
      (async () => {
        const sw = navigator.serviceWorker;
        const reg = sw ? await sw.getRegistration() : null;
        const frames = Array.from(document.querySelectorAll("iframe"), (f) => {
          let shown = "";
          try {
            shown = f.contentDocument ? `${f.contentDocument.readyState}: ${(f.contentDocument.body?.innerText || "").slice(0, 200)}` : "(no document)";
          } catch (e) {
            shown = `(not readable: ${e})`;
          }
          return `${f.src} [${shown}]`;
        });
        return `service worker: ${sw ? "supported" : "none"}, controller ${sw?.controller ? sw.controller.state : "none"}, registration ${reg ? `active ${reg.active?.state ?? "none"}, installing ${reg.installing?.state ?? "none"}, waiting ${reg.waiting?.state ?? "none"}` : "none"}; download frames: ${frames.length ? frames.join("; ") : "none"}`;
      })().then(done, (e) => done(`(could not be read: ${e})`));
    "##;
    match browser.client().execute_async(script, vec![]).await {
        Ok(v) => v.as_str().unwrap_or_default().to_owned(),
        Err(e) => format!("(the stream saver's state could not be read: {e})"),
    }
}
