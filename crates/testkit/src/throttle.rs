//! A slow disk for one process: a control group whose writes to the disk under a folder are
//! capped (cgroup v2 `io.max` `wbps`, or v1 `blkio.throttle.write_bps_device`). The cap
//! holds for direct I/O and synced writes, which is how `toss receive` writes. Needs root.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::AnyResult;

/// A control group with a write cap, removed when dropped (once its processes ended).
#[derive(Debug)]
pub struct WriteThrottle {
    dir: PathBuf,
}

/// The whole disk (`MAJ:MIN`) that holds `path`: throttles apply to disks, not partitions.
fn disk_of(path: &Path) -> AnyResult<String> {
    let dev = std::fs::metadata(path)?.dev();
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let sys = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    if !sys.exists() {
        return Err(format!(
            "{} is on no block device ({major}:{minor}) whose writes can be capped",
            path.display()
        )
        .into());
    }
    if sys.join("partition").exists() {
        let parent = std::fs::canonicalize(&sys)?
            .parent()
            .ok_or("a partition without its disk")?
            .join("dev");
        return Ok(std::fs::read_to_string(parent)?.trim().to_owned());
    }
    Ok(format!("{major}:{minor}"))
}

impl WriteThrottle {
    /// A new group named `name` whose writes to the disk under `folder` go at most
    /// `bytes_per_sec`.
    ///
    /// # Errors
    /// No cgroup file system with an I/O controller, or `folder` on no block device.
    pub fn new(name: &str, folder: &Path, bytes_per_sec: u64) -> AnyResult<Self> {
        let disk = disk_of(folder)?;
        let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers");
        let dir = if v2.exists() {
            let root = Path::new("/sys/fs/cgroup");
            let controllers = std::fs::read_to_string(root.join("cgroup.subtree_control"))?;
            if !controllers.split_whitespace().any(|c| c == "io") {
                std::fs::write(root.join("cgroup.subtree_control"), "+io")?;
            }
            let dir = root.join(name);
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("io.max"), format!("{disk} wbps={bytes_per_sec}"))?;
            dir
        } else {
            let dir = Path::new("/sys/fs/cgroup/blkio").join(name);
            std::fs::create_dir_all(&dir)?;
            std::fs::write(
                dir.join("blkio.throttle.write_bps_device"),
                format!("{disk} {bytes_per_sec}"),
            )?;
            dir
        };
        Ok(Self { dir })
    }

    /// `program args...` run inside the group: a shell moves itself in, then becomes it.
    pub fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!(
                "echo $$ > '{}' && exec \"$@\"",
                self.dir.join("cgroup.procs").display()
            ))
            .arg("sh")
            .arg(program)
            .args(args);
        cmd
    }
}

impl Drop for WriteThrottle {
    fn drop(&mut self) {
        // Fails while a process is still inside; the test has waited for them all.
        let _ = std::fs::remove_dir(&self.dir);
    }
}
