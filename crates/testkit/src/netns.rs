//! Network namespaces for tests of computers on a network (Linux, as root): namespaces that
//! are deleted with everything in them when dropped, programs run inside one, and the local
//! network that two test crates use, two computers on a bridge.
//!
//! Names carry this process's id, so parallel test binaries never meet; addresses are
//! link-local or from the documentation ranges, so nothing ever leaves the machine.
//! A home network ([`Lan::home`]) has private addresses, which stay inside its namespaces
//! all the same. A test's own code enters a namespace on a thread of its own ([`run_in`]).

use std::ffi::OsStr;
use std::process::Command;

use crate::process::run;
use crate::AnyResult;

/// A short id of this process for namespace and link names (which must stay short).
pub fn id() -> u32 {
    std::process::id() % 100_000
}

/// Network namespaces made for one test; deleting them ends every process still inside
/// (a peer that a failed test left waiting), then takes their links and whatever was set
/// up in them.
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
            let pids = Command::new("ip").args(["netns", "pids", name]).output();
            if let Ok(pids) = pids {
                let own = std::process::id().to_string();
                for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
                    if pid != own {
                        let _ = Command::new("kill").args(["-KILL", pid]).status();
                    }
                }
            }
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

/// Computers and routers as namespaces named `toss-PREFIX-ROLE-ID`, wired by veth pairs:
/// the building blocks of the NAT and server tests. Deleted, with every link, when dropped.
#[derive(Debug)]
pub struct Routed {
    prefix: String,
    id: u32,
    _namespaces: Namespaces,
}

impl Routed {
    /// Adds one namespace per role, each with its loopback up.
    ///
    /// # Errors
    ///
    /// When one cannot be made.
    pub fn create(prefix: &str, roles: &[&str]) -> AnyResult<Routed> {
        let id = id();
        let net = Routed {
            prefix: prefix.to_owned(),
            id,
            _namespaces: Namespaces::add(roles.iter().map(|r| format!("toss-{prefix}-{r}-{id}")))?,
        };
        for role in roles {
            net.ip(role, &["link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    /// The namespace of `role`.
    pub fn ns(&self, role: &str) -> String {
        format!("toss-{}-{role}-{}", self.prefix, self.id)
    }

    /// `ip ARGS` in `role`'s namespace.
    ///
    /// # Errors
    ///
    /// When it fails.
    pub fn ip(&self, role: &str, args: &[&str]) -> AnyResult<()> {
        let ns = self.ns(role);
        let mut all = vec!["ip", "-n", ns.as_str()];
        all.extend_from_slice(args);
        run(&all)
    }

    /// `ARGS` run in `role`'s namespace.
    ///
    /// # Errors
    ///
    /// When it fails.
    pub fn exec(&self, role: &str, args: &[&str]) -> AnyResult<()> {
        let ns = self.ns(role);
        let mut all = vec!["ip", "netns", "exec", ns.as_str()];
        all.extend_from_slice(args);
        run(&all)
    }

    /// A veth pair between `x` and `y`, named after them (`vXYID` in x, `vYXID` in y).
    ///
    /// # Errors
    ///
    /// When it cannot be made.
    pub fn wire(&self, x: &str, y: &str) -> AnyResult<(String, String)> {
        let (vx, vy) = (format!("v{x}{y}{}", self.id), format!("v{y}{x}{}", self.id));
        run(&[
            "ip",
            "link",
            "add",
            &vx,
            "netns",
            &self.ns(x),
            "type",
            "veth",
            "peer",
            "name",
            &vy,
            "netns",
            &self.ns(y),
        ])?;
        Ok((vx, vy))
    }

    /// Gives `dev` in `role` the address `addr` (when one is given) and brings it up.
    ///
    /// # Errors
    ///
    /// When either step fails.
    pub fn up(&self, role: &str, dev: &str, addr: Option<&str>) -> AnyResult<()> {
        if let Some(addr) = addr {
            self.ip(role, &["addr", "add", addr, "dev", dev])?;
        }
        self.ip(role, &["link", "set", dev, "up"])
    }

    /// A bridge `br0` in `role` with address `addr`, joining `ports` (links already there).
    ///
    /// # Errors
    ///
    /// When a step fails.
    pub fn bridge(&self, role: &str, addr: &str, ports: &[&str]) -> AnyResult<()> {
        self.ip(role, &["link", "add", "br0", "type", "bridge"])?;
        self.up(role, "br0", Some(addr))?;
        for dev in ports {
            self.ip(role, &["link", "set", dev, "master", "br0"])?;
            self.up(role, dev, None)?;
        }
        Ok(())
    }

    /// `nft SCRIPT` in `role`'s namespace (one argument: nft reads commands split by `;`).
    ///
    /// # Errors
    ///
    /// When nft refuses it.
    pub fn nft(&self, role: &str, script: &str) -> AnyResult<()> {
        self.exec(role, &["nft", script])
    }

    /// Makes `role` a home router: it forwards, and masquerades (nftables) what leaves by
    /// `outside`. As Linux does, a mapping keeps the inside port where it can and lets in
    /// only what answers it. Like every home router's firewall, it drops what arrives from
    /// outside for the router itself unless it answers something: a stranger's packet to an
    /// unmapped port is not answered, and leaves no trace that would make the next mapping
    /// take another port (which two NATs punching holes toward each other rely on).
    ///
    /// # Errors
    ///
    /// When a step fails.
    pub fn masquerade(&self, role: &str, outside: &str) -> AnyResult<()> {
        self.exec(role, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        self.nft(
            role,
            &format!(
                "add table ip nat; \
                 add chain ip nat post {{ type nat hook postrouting priority 100; }}; \
                 add rule ip nat post oifname {outside} masquerade; \
                 add table ip home; \
                 add chain ip home input {{ type filter hook input priority 0; }}; \
                 add rule ip home input iifname {outside} ct state new drop"
            ),
        )
    }

    /// A firewall on the router `role` that lets UDP from `inside` reach `only` and
    /// nothing else (as on many office and hotel networks); TCP passes.
    ///
    /// # Errors
    ///
    /// When a step fails.
    pub fn udp_only_to(&self, role: &str, inside: &str, only: &str) -> AnyResult<()> {
        self.nft(
            role,
            &format!(
                "add table ip fw; \
                 add chain ip fw gate {{ type filter hook forward priority 0; }}; \
                 add rule ip fw gate iifname {inside} ip daddr != {only} meta l4proto udp drop"
            ),
        )
    }

    /// Gives `role` a default route to `nowhere`, a namespace with no address that forwards
    /// nothing: the rest of the internet, where nothing answers. A machine on the internet
    /// has one; without it, sending to an address of another network fails at once
    /// (ENETUNREACH), which real servers never see (coturn closes an allocation over it).
    /// The link does no ARP, so nothing waits for an answer either.
    ///
    /// # Errors
    ///
    /// When a step fails.
    pub fn rest_of_the_internet(&self, role: &str, nowhere: &str) -> AnyResult<()> {
        let (here, there) = self.wire(role, nowhere)?;
        self.ip(role, &["link", "set", &here, "arp", "off", "up"])?;
        self.up(nowhere, &there, None)?;
        self.ip(role, &["route", "add", "default", "dev", &here])
    }

    /// `program` run in `role`'s namespace, as a command to add arguments to and spawn.
    pub fn cmd(&self, role: &str, program: impl AsRef<OsStr>) -> Command {
        exec(&self.ns(role), program)
    }
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

impl Lan {
    /// The same network as [`Lan::create`], numbered as a home network is: `a` is
    /// 192.168.`subnet`.1 and `b` 192.168.`subnet`.2 (private, not link-local), and each
    /// has a default route over the link. Browsers need both to offer a host candidate at
    /// all: Chromium offers only the address its default route leaves from (none without
    /// one), and Firefox offers no link-local address. Nothing is routed anywhere: the
    /// bridge joins these two namespaces only.
    ///
    /// # Errors
    ///
    /// When any step fails.
    pub fn home(tag: &str, subnet: u8) -> AnyResult<Lan> {
        let lan = Lan::create(tag, subnet)?;
        for (host, ns) in [(1, &lan.a), (2, &lan.b)] {
            let dev = only_veth(ns)?;
            let (old, new) = (
                format!("169.254.{subnet}.{host}/24"),
                format!("192.168.{subnet}.{host}/24"),
            );
            run(&["ip", "-n", ns, "addr", "del", &old, "dev", &dev])?;
            run(&["ip", "-n", ns, "addr", "add", &new, "dev", &dev])?;
            run(&["ip", "-n", ns, "route", "add", "default", "dev", &dev])?;
        }
        Ok(lan)
    }
}

/// The one veth link in namespace `ns` (a computer of a [`Lan`], one end of a link).
///
/// # Errors
///
/// When there is not exactly one.
pub fn only_veth(ns: &str) -> AnyResult<String> {
    let out = Command::new("ip")
        .args(["-n", ns, "-o", "link", "show", "type", "veth"])
        .output()?;
    // "7: lwa123@if6: <BROADCAST,...> ..."
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n))
        .collect();
    match names.as_slice() {
        [one] => Ok((*one).to_owned()),
        _ => Err(format!("namespace {ns} has veth links {names:?}, not one").into()),
    }
}

/// Moves this thread (only) into network namespace `ns`, made with `ip netns add`
/// (setns(2)): every socket it opens from now on, and every process it starts, is in `ns`;
/// the process's other threads stay where they are.
///
/// # Errors
///
/// When the namespace does not exist or cannot be entered (without root).
#[cfg(target_os = "linux")]
pub fn enter(ns: &str) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(std::path::Path::new("/var/run/netns").join(ns))?;
    // SAFETY: `file` is an open namespace file for the whole call; setns changes only this
    // thread's network namespace and touches no memory of ours.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Runs the async test body `body` inside network namespace `ns` and returns its result:
/// on a thread of its own that has entered `ns` ([`enter`]), with a current-thread tokio
/// runtime built on that thread, so that every socket the body opens (a WebDriver
/// client's, say), every thread the runtime adds and every process the body starts lives
/// in `ns`. `127.0.0.1` in the body is `ns`'s own loopback. A panic in the body is
/// re-raised here, with its message.
///
/// # Errors
///
/// What the body returned, as text; or that the namespace could not be entered.
#[cfg(target_os = "linux")]
pub fn run_in<T, F, Fut>(ns: &str, body: F) -> AnyResult<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = AnyResult<T>> + 'static,
    T: Send + 'static,
{
    let name = ns.to_owned();
    let thread = std::thread::Builder::new()
        .name(format!("netns {ns}"))
        .spawn(move || -> Result<T, String> {
            enter(&name).map_err(|e| format!("entering network namespace {name}: {e}"))?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("a runtime in namespace {name}: {e}"))?;
            // Errors cross the thread as text: a boxed error need not be Send.
            runtime.block_on(body()).map_err(|e| e.to_string())
        })?;
    match thread.join() {
        Ok(result) => result.map_err(Into::into),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
