//! The receiver's disk fills up half-way through a transfer: a real sender and receiver on
//! loopback, the receiver writing into a small tmpfs that the test mounts and then fills.
//! Both sides must stop with a clear sentence and leave no file under a final name; the
//! `.part` stays, and once there is room again the same file sent again resumes from it.
//!
//! Mounting needs root: the test is ignored as "needs root", and `make test` runs it when it
//! runs as root (CI does).

#![cfg(target_os = "linux")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use toss_core::{Config, Decision, Event, Events};
use toss_testkit::data::{names_in, random_file};
use toss_testkit::process::{assert_root, run};
use toss_testkit::{signal, AnyResult, TestResult};

/// Longest the scenario may take before the test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(120);

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts it; as root, a mount that fails is an error, not a reason to skip.
    fn mount(dir: &Path, size_mib: u64) -> AnyResult<Tmpfs> {
        let dir_arg = dir.to_string_lossy();
        let size = format!("size={size_mib}m");
        run(&["mount", "-t", "tmpfs", "-o", &size, "tmpfs", &dir_arg])?;
        Ok(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Writes zeros into `path` until the file system is full (bounded: at most `max_mib`).
fn fill(path: &Path, max_mib: usize) {
    let mut f = std::fs::File::create(path).expect("filler file");
    let block = vec![0u8; 1 << 20];
    for _ in 0..max_mib {
        if f.write_all(&block).is_err() {
            return;
        }
    }
    panic!("the disk never filled up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root"]
async fn running_out_of_disk_mid_write_fails_cleanly_on_both_sides() -> TestResult {
    assert_root("mounting a small tmpfs");
    let tmp = tempfile::tempdir()?;
    let mount_at = tmp.path().join("small-disk");
    std::fs::create_dir(&mount_at)?;
    let _disk = Tmpfs::mount(&mount_at, 72)?;
    // 48 MiB plus the 16 MiB margin fits in 72 MiB, so the offer is accepted.
    let src = tmp.path().join("video.bin");
    let data = random_file(&src, 48 << 20)?;

    let server = signal::spawn().await?;
    let config = Config::local(server.url());
    let (sender, code, _send_rx) =
        toss_core::testing::send_and_get_code(config.clone(), vec![src.clone()]).await;
    let (recv_events, mut recv_rx) = Events::channel();
    let out = mount_at.clone();
    let mut receiver =
        toss_core::start_receive(config.clone(), code.parse()?, out.clone(), recv_events);
    receiver.decide(Decision::Accept);
    // Once a few ranges are in, something else on the machine takes the rest of the disk.
    let filler = out.join("someone-elses-download.bin");
    let filled = tokio::time::timeout(LIMIT, async {
        while let Some(e) = recv_rx.recv().await {
            if matches!(e, Event::Progress(ref p) if p.bytes >= 12 << 20) {
                fill(&filler, 128);
                return true;
            }
        }
        false
    })
    .await?;
    assert!(filled, "the transfer started");
    let (s, r) = tokio::time::timeout(LIMIT, async {
        tokio::join!(sender.wait(), receiver.wait())
    })
    .await?;
    let r = r.expect_err("the receiver cannot finish on a full disk");
    let s = s.expect_err("the sender learns that the receiver failed");
    assert_eq!(r.kind().as_str(), "disk_full", "{r}");
    assert!(
        r.to_string().starts_with("the disk is full: ")
            && r.to_string()
                .ends_with("could not be written; free some space and try again"),
        "{r}"
    );
    assert_eq!(
        s.to_string(),
        "the other side stopped the transfer: the disk on that computer is full"
    );
    let left = names_in(&out)?;
    // The .part is kept; its journal is in this user's own data folder, not here.
    assert_eq!(
        left,
        ["someone-elses-download.bin", "video.bin.part"],
        "{left:?}"
    );
    let kept = std::fs::metadata(out.join("video.bin.part"))?.len();

    // Room again: the same file, sent again with a new code, picks up from the .part.
    std::fs::remove_file(&filler)?;
    let (sender, code, mut send_rx) =
        toss_core::testing::send_and_get_code(config.clone(), vec![src.clone()]).await;
    let (recv_events, mut recv_rx) = Events::channel();
    let mut receiver = toss_core::start_receive(config, code.parse()?, out.clone(), recv_events);
    receiver.decide(Decision::Accept);
    let (s, r) = tokio::time::timeout(LIMIT, async {
        tokio::join!(sender.wait(), receiver.wait())
    })
    .await?;
    let (s, r) = (s?, r?);
    assert_eq!(
        std::fs::read(out.join("video.bin"))?,
        data,
        "byte-identical"
    );
    assert!(
        r.skipped > 0 && r.skipped <= kept,
        "{} of {kept}",
        r.skipped
    );
    assert_eq!(s.skipped, r.skipped, "the sender did not send them again");
    let resumed = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>| {
        let mut at = None;
        while let Ok(e) = rx.try_recv() {
            if let Event::Resumed { offset, path, .. } = e {
                assert_eq!(path, "video.bin");
                at = Some(offset);
            }
        }
        at
    };
    assert_eq!(
        resumed(&mut recv_rx),
        Some(r.skipped),
        "the receiver is told"
    );
    assert_eq!(resumed(&mut send_rx), Some(r.skipped), "the sender is told");
    assert_eq!(names_in(&out)?, ["video.bin"], "no .part left");
    Ok(())
}
