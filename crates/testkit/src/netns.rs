//! Network namespaces for tests of computers on a network (Linux, as root): namespaces that
//! are deleted with everything in them when dropped, programs run inside one, and the local
//! network that two test crates use, two computers on a bridge.
//!
//! Names carry this process's id, so parallel test binaries never meet; addresses are
//! link-local or from the documentation ranges, so nothing ever leaves the machine.

use std::ffi::OsStr;
use std::process::Command;

use crate::process::run;
use crate::AnyResult;

/// A short id of this process for namespace and link names (which must stay short).
pub fn id() -> u32 {
    std::process::id() % 100_000
}

/// Network namespaces made for one test; deleting them takes their links and whatever
/// was set up in them, and kills nothing else.
#[derive(Debug)]
pub struct Namespaces(Vec<String>);

impl Namespaces {
    /// Adds the namespaces `names`.
    ///
    /// # Errors
    ///
    /// When one cannot be made (those already made are deleted again).
    pub fn add<I, S>(names: I) -> AnyResult<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut made = Self(Vec::new());
        for name in names {
            let name = name.into();
            run(&["ip", "netns", "add", &name])?;
            made.0.push(name);
        }
        Ok(made)
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = run(&["ip", "netns", "del", name]);
        }
    }
}

/// `program` run inside namespace `ns`, as a command to add arguments to and spawn.
pub fn exec(ns: &str, program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]).arg(program);
    cmd
}

/// A local network of two computers: namespaces `a` (169.254.N.1) and `b` (169.254.N.2),
/// each joined by a veth pair to a bridge in a third namespace `c`, multicast on (mDNS), as
/// a home or office network is. Deleted when dropped.
#[derive(Debug)]
pub struct Lan {
    /// The first computer's namespace.
    pub a: String,
    /// The second computer's namespace.
    pub b: String,
    /// The namespace holding the bridge `br0`, where a third computer could listen.
    pub c: String,
    /// Deletes the three namespaces, and with them every link, on drop.
    _namespaces: Namespaces,
}

impl Lan {
    /// Builds the network on 169.254.`subnet`.0/24; `tag` (a few letters) tells apart the
    /// networks of tests that run at the same time in one process.
    ///
    /// # Errors
    ///
    /// When any step fails (as root, that is a failure of the test, not a reason to skip).
    pub fn create(tag: &str, subnet: u8) -> AnyResult<Lan> {
        let id = id();
        let [a, b, c] = ["a", "b", "c"].map(|n| format!("toss-{tag}-{n}-{id}"));
        let namespaces = Namespaces::add([&a, &b, &c].map(String::as_str))?;
        run(&["ip", "-n", &c, "link", "add", "br0", "type", "bridge"])?;
        run(&[
            "ip",
            "-n",
            &c,
            "link",
            "set",
            "br0",
            "up",
            "multicast",
            "on",
        ])?;
        for (n, host, ns) in [("a", 1, &a), ("b", 2, &b)] {
            // Made inside the namespaces, so that nothing is left behind outside them.
            let (here, there) = (format!("l{tag}{n}{id}"), format!("p{tag}{n}{id}"));
            run(&[
                "ip", "link", "add", &here, "netns", ns, "type", "veth", "peer", "name", &there,
                "netns", &c,
            ])?;
            run(&["ip", "-n", &c, "link", "set", &there, "master", "br0", "up"])?;
            let addr = format!("169.254.{subnet}.{host}/24");
            run(&["ip", "-n", ns, "addr", "add", &addr, "dev", &here])?;
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
            run(&[
                "ip",
                "-n",
                ns,
                "link",
                "set",
                &here,
                "up",
                "multicast",
                "on",
            ])?;
            run(&["ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", &here])?;
        }
        Ok(Lan {
            a,
            b,
            c,
            _namespaces: namespaces,
        })
    }
}
