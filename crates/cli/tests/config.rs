//! `toss config` and the first start's word about the signaling server, as a user meets
//! them: the real binary with its home, config and data folders in a temp dir, the settings
//! file the app shares read back from disk.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use toss_testkit::{AnyResult, TestResult};

/// A user account in a temp dir: `toss` finds its settings and data folders there.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            dir: tempfile::tempdir()?,
        })
    }

    fn settings(&self) -> PathBuf {
        self.dir.path().join("config/toss/settings.json")
    }

    fn marker(&self) -> PathBuf {
        self.dir.path().join("data/toss/no-server-notice-shown")
    }

    /// `toss ARGS` as this user, with no signaling server given by the environment.
    fn toss(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_toss"));
        cmd.args(args)
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("TOSS_DEVICE_NAME", "test-sender");
        for var in [
            "TOSS_SIGNAL",
            "TOSS_SIGNAL_CA",
            "TOSS_LAN",
            "TOSS_LOOPBACK",
            "TOSS_NO_DISCOVERY",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> std::io::Result<Output> {
        self.toss(args).output()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read_json(path: &Path) -> AnyResult<Value> {
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

#[cfg(unix)]
fn mode(path: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

/// The app's settings as it saves them, with a field from some newer version, readable by
/// all as a file from before settings were private.
fn app_settings(home: &Home) -> AnyResult<Value> {
    let fields = json!({
        "device_name": "Bea's desk",
        "download_dir": "/home/bea/Downloads",
        "ice_servers": [{"urls": ["turn:turn.example.org:3478"], "username": "bea", "credential": "secret"}],
        "discovery": true,
        "public_networks": [],
        "relay_only": false,
        "from_a_newer_version": {"kept": true},
    });
    let path = home.settings();
    std::fs::create_dir_all(path.parent().ok_or("folder")?)?;
    std::fs::write(&path, serde_json::to_string_pretty(&fields)?)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(fields)
}

#[test]
fn config_server_sets_shows_and_clears_the_server_in_the_apps_settings() -> TestResult {
    let home = Home::new()?;
    let before = app_settings(&home)?;
    let default = toss_core::defaults::SIGNAL_URL;

    let shown = home.run(&["config"])?;
    assert!(shown.status.success(), "{}", stderr(&shown));
    let line = stdout(&shown);
    assert!(
        line.starts_with(&format!("Signaling server: {default} (")),
        "{line}"
    );
    if toss_core::defaults::BAKED_SIGNAL_URL.is_none() {
        assert!(line.contains("the built-in default"), "{line}");
        assert!(line.contains("toss config server wss://"), "{line}");
    }

    let set = home.run(&["config", "server", " wss://toss.example.org/ "])?;
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(
        stdout(&set).contains("set to wss://toss.example.org/"),
        "{}",
        stdout(&set)
    );
    let mut expected = before.clone();
    expected["signal_url"] = json!("wss://toss.example.org/");
    assert_eq!(read_json(&home.settings())?, expected);
    #[cfg(unix)]
    assert_eq!(mode(&home.settings())?, 0o600);
    assert!(!home.settings().with_extension("json.tmp").exists());

    let settings = home.settings().display().to_string();
    for (args, env, why) in [
        (&["config"][..], None, format!("set in {settings}")),
        (
            &["config", "server"][..],
            None,
            format!("set in {settings}"),
        ),
        (
            &["config", "--signal", "ws://127.0.0.1:1"][..],
            None,
            "from --signal".to_owned(),
        ),
        (
            &["config"][..],
            Some("ws://127.0.0.1:1"),
            "from TOSS_SIGNAL".to_owned(),
        ),
    ] {
        let mut cmd = home.toss(args);
        if let Some(url) = env {
            cmd.env("TOSS_SIGNAL", url);
        }
        let out = cmd.output()?;
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let line = stdout(&out);
        let url = env
            .or(args.get(2).copied())
            .unwrap_or("wss://toss.example.org/");
        assert!(
            line.starts_with(&format!("Signaling server: {url} ({why}")),
            "{args:?} {env:?}: {line}"
        );
    }

    let cleared = home.run(&["config", "server", "--clear"])?;
    assert!(cleared.status.success(), "{}", stderr(&cleared));
    assert!(stdout(&cleared).contains("removed"), "{}", stdout(&cleared));
    assert_eq!(read_json(&home.settings())?, before);
    #[cfg(unix)]
    assert_eq!(mode(&home.settings())?, 0o600);
    let again = home.run(&["config", "server", "--clear"])?;
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("No signaling server was set"),
        "{}",
        stdout(&again)
    );
    let shown = home.run(&["config"])?;
    assert!(
        stdout(&shown).starts_with(&format!("Signaling server: {default} (")),
        "{}",
        stdout(&shown)
    );
    Ok(())
}

#[test]
fn a_bad_server_is_refused_with_one_sentence_and_nothing_is_written() -> TestResult {
    let home = Home::new()?;
    for url in [
        "http://toss.example.org",
        "toss.example.org",
        "wss://",
        "ws://host:port",
    ] {
        let out = home.run(&["config", "server", url])?;
        assert!(!out.status.success(), "{url} taken");
        assert_eq!(
            stderr(&out),
            format!("toss: \"{url}\" is not a signaling server address: use ws:// or wss:// followed by the server's name, like wss://toss.example.org\n")
        );
        assert!(!home.settings().exists(), "{url} written");
    }
    app_settings(&home)?;
    let before = std::fs::read(home.settings())?;
    let out = home.run(&["config", "server", "https://toss.example.org"])?;
    assert!(!out.status.success());
    assert_eq!(std::fs::read(home.settings())?, before);
    Ok(())
}

#[test]
fn a_servers_invite_link_sets_its_server_and_a_bad_one_writes_nothing() -> TestResult {
    let home = Home::new()?;
    for link in [
        "toss://elsewhere?url=ws%3A%2F%2F127.0.0.1%3A8787",
        "toss://server?url=http%3A%2F%2Ftoss.example.org",
    ] {
        let out = home.run(&["config", "server", link])?;
        assert!(!out.status.success(), "{link} taken");
        assert!(stderr(&out).starts_with("toss: "), "{}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        assert!(!home.settings().exists(), "{link} written");
    }
    let out = home.run(&[
        "config",
        "server",
        "toss://server?url=wss%3A%2F%2Fvps.toss.test%2F",
    ])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("Signaling server set to wss://vps.toss.test (in "),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        read_json(&home.settings())?["signal_url"],
        "wss://vps.toss.test"
    );
    Ok(())
}

#[test]
fn a_damaged_settings_file_is_named_and_left_alone() -> TestResult {
    let home = Home::new()?;
    std::fs::create_dir_all(home.settings().parent().ok_or("folder")?)?;
    std::fs::write(home.settings(), "{ not json")?;
    let out = home.run(&["config", "server", "wss://toss.example.org"])?;
    assert!(!out.status.success());
    let said = stderr(&out);
    assert!(
        said.contains("are damaged") && said.contains("fix or delete that file"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(home.settings())?, "{ not json");
    Ok(())
}

/// Where a receive with no server would go: a code that does not parse ends it at once,
/// after the first start's word.
const RECEIVE: [&str; 2] = ["receive", "not-a-code"];

/// The first start's word, as a line of stderr.
fn said_no_server(out: &Output) -> usize {
    stderr(out)
        .lines()
        .filter(|l| l.contains("no signaling server is set, so codes work on this network only"))
        .count()
}

#[test]
fn the_first_start_says_once_that_codes_work_on_this_network_only() -> TestResult {
    if toss_core::defaults::BAKED_SIGNAL_URL.is_some() {
        return Ok(());
    }
    let home = Home::new()?;
    let first = home.run(&RECEIVE)?;
    assert_eq!(said_no_server(&first), 1, "{}", stderr(&first));
    assert!(
        stderr(&first).contains("`toss config server wss://"),
        "{}",
        stderr(&first)
    );
    assert!(home.marker().exists());
    let second = home.run(&RECEIVE)?;
    assert_eq!(said_no_server(&second), 0, "{}", stderr(&second));
    Ok(())
}

#[test]
fn a_server_given_any_way_means_no_first_start_word() -> TestResult {
    if toss_core::defaults::BAKED_SIGNAL_URL.is_some() {
        return Ok(());
    }
    let home = Home::new()?;
    let flag = home.run(&["receive", "--signal", "ws://127.0.0.1:1", "not-a-code"])?;
    assert_eq!(said_no_server(&flag), 0, "{}", stderr(&flag));
    let env = home
        .toss(&RECEIVE)
        .env("TOSS_SIGNAL", "ws://127.0.0.1:1")
        .output()?;
    assert_eq!(said_no_server(&env), 0, "{}", stderr(&env));
    let lan = home.run(&["receive", "--lan", "not-a-code"])?;
    assert_eq!(said_no_server(&lan), 0, "{}", stderr(&lan));
    let set = home.run(&["config", "server", "wss://toss.example.org"])?;
    assert!(set.status.success(), "{}", stderr(&set));
    let kept = home.run(&RECEIVE)?;
    assert_eq!(said_no_server(&kept), 0, "{}", stderr(&kept));
    assert!(!home.marker().exists(), "the word was used up unsaid");

    // Once the server is cleared, the word is still there to say.
    home.run(&["config", "server", "--clear"])?;
    let cleared = home.run(&RECEIVE)?;
    assert_eq!(said_no_server(&cleared), 1, "{}", stderr(&cleared));
    Ok(())
}
