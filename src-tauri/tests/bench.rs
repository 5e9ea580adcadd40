//! Not a test: measures the desktop app's startup (WebDriver session request to the home
//! screen shown, median of 5) and its idle CPU over 10 s. Run with `make bench`; set
//! `TOSS_DESKTOP_BIN` to measure a release or installed binary.

#![cfg(target_os = "linux")]

mod desktop;

use std::time::Duration;

use desktop::{Desktop, Other, TestResult};

/// Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

#[tokio::test]
#[ignore = "a benchmark; run with make bench"]
async fn desktop_startup_and_idle_cpu() -> TestResult {
    let other = Other::start()?;
    let mut startups = Vec::new();
    for _ in 0..5 {
        let app = Desktop::launch(&other, &[]).await?;
        startups.push(app.startup);
        app.close().await?;
    }
    startups.sort();
    let median = startups[startups.len() / 2];

    let app = Desktop::launch(&other, &[]).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bin = desktop::app_bin();
    let out = std::process::Command::new("pgrep")
        .args(["-n", "-f", &bin.to_string_lossy()])
        .output()?;
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let before = cpu_ticks(&pid).ok_or("no app process")?;
    let window = Duration::from_secs(10);
    tokio::time::sleep(window).await;
    let after = cpu_ticks(&pid).ok_or("app process gone")?;
    let idle_cpu = (after - before) as f64 / TICKS / window.as_secs_f64() * 100.0;
    app.close().await?;
    println!("binary: {}", bin.display());
    println!(
        "startup to home screen: median {:.0} ms of {:?}",
        median.as_secs_f64() * 1000.0,
        startups
            .iter()
            .map(|d| (d.as_secs_f64() * 1000.0).round() as u64)
            .collect::<Vec<_>>()
    );
    println!(
        "idle CPU over {} s: {idle_cpu:.2}% of one core",
        window.as_secs()
    );
    Ok(())
}
