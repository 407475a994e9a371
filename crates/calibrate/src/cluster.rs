//! A PostgreSQL primary and its hot standbys in one temporary directory, with
//! a delay line on every replication link, and every way of cleaning them up.
//!
//! Cleanup has three layers:
//! 1. [`Cluster`]'s `Drop` stops every server (fast shutdown, then SIGKILL),
//!    stops the delay lines and removes the directory: any return, error or
//!    panic of the calling thread;
//! 2. every server runs with `PR_SET_PDEATHSIG = SIGKILL`, set after it drops
//!    to the unprivileged user (a credential change clears it), so it dies
//!    with the thread that started it, whatever killed that thread's process
//!    (SIGKILL, SIGTERM, SIGINT included). Its backends notice the
//!    postmaster's death and exit on their own;
//! 3. a watchdog (`sh`, in its own process group, deaf to SIGINT, SIGTERM and
//!    SIGHUP) reads the server process ids on a pipe only this process holds;
//!    at end of file (this process exited, however) it kills any server still
//!    there and removes the directory.
//!
//! The delay lines are threads of this process, so they and their ports end
//! with it. Because of (2) a cluster must be started and dropped on one thread
//! that outlives it: the parent-death signal fires when the *thread* that
//! forked the server exits.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::delay::DelayLine;
use crate::CalibrateError;

/// Where the server binaries are: `--pg-bin DIR`, else `pg_config --bindir`,
/// else Debian's `/usr/lib/postgresql/15/bin`.
pub fn find_bin(explicit: Option<&Path>) -> Result<PathBuf, CalibrateError> {
    let mut tried = Vec::new();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = explicit {
        candidates.push(dir.to_path_buf());
    } else {
        match Command::new("pg_config").arg("--bindir").output() {
            Ok(out) if out.status.success() => {
                let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
                candidates.push(PathBuf::from(s));
            }
            _ => tried.push("pg_config (not on PATH)".to_string()),
        }
        candidates.push(PathBuf::from("/usr/lib/postgresql/15/bin"));
    }
    for dir in candidates {
        let missing: Vec<&str> = ["postgres", "initdb", "pg_basebackup"]
            .into_iter()
            .filter(|b| !dir.join(b).is_file())
            .collect();
        if missing.is_empty() {
            return Ok(dir);
        }
        tried.push(format!("{} (no {})", dir.display(), missing.join(", ")));
    }
    Err(CalibrateError::NoPostgres {
        tried: tried.join("; "),
    })
}

/// The user the servers run as: `None` to run as ourselves, or the
/// unprivileged `postgres` user's ids when we are root (PostgreSQL refuses
/// to run as root).
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: libc::uid_t,
    gid: libc::gid_t,
}

fn run_as() -> Result<Option<RunAs>, CalibrateError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = CString::new("postgres").expect("no NUL in a literal");
    // SAFETY: getpwnam reads a NUL-terminated name; the returned record is
    // read at once, before any other getpw* call on this thread.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(CalibrateError::NoUser);
    }
    // SAFETY: pw is non-null and points at a valid passwd record.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(Some(RunAs { uid, gid }))
}

/// A command that runs as `who` (when set) and dies with this thread.
fn command(bin: &Path, who: Option<RunAs>) -> Command {
    let mut cmd = Command::new(bin);
    let parent = std::process::id() as libc::pid_t;
    cmd.process_group(0);
    // SAFETY: the closure runs between fork and exec and calls only
    // async-signal-safe functions (setgroups, setgid, setuid, prctl, getppid,
    // raise), allocating nothing.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(w) = who {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(w.gid) != 0
                    || libc::setuid(w.uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // After the credential change, which clears it.
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
            // The parent may have died before the prctl.
            if libc::getppid() != parent {
                libc::raise(libc::SIGKILL);
            }
            Ok(())
        });
    }
    cmd
}

/// Runs a short command to completion, as the servers' user.
fn run(bin: &Path, who: Option<RunAs>, args: &[&str], what: &str) -> Result<(), CalibrateError> {
    let out = command(bin, who)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| CalibrateError::Io {
            what: what.to_string(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(CalibrateError::Command {
            what: what.to_string(),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// A free loopback port (bound, read and released).
fn free_port() -> Result<u16, CalibrateError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(CalibrateError::io("find a free port"))?;
    Ok(l.local_addr()
        .map_err(CalibrateError::io("find a free port"))?
        .port())
}

fn chown(path: &Path, who: Option<RunAs>) -> Result<(), CalibrateError> {
    let Some(w) = who else { return Ok(()) };
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| CalibrateError::Config(format!("path {} holds a NUL", path.display())))?;
    // SAFETY: c is a valid NUL-terminated path.
    if unsafe { libc::chown(c.as_ptr(), w.uid, w.gid) } != 0 {
        return Err(CalibrateError::Io {
            what: format!("chown {}", path.display()),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// One running server.
pub struct Server {
    /// The replica's region name.
    pub region: String,
    /// Its `application_name` (standbys), as `synchronous_standby_names` lists it.
    pub app_name: String,
    /// Its port on 127.0.0.1.
    pub port: u16,
    data: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Fast shutdown (SIGINT), then SIGKILL after `grace`.
    fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill with a pid we spawned and have not reaped.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        let end = Instant::now() + grace;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
                _ => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.data.with_extension("log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }
}

/// Settings every server gets (the standbys inherit the primary's file).
const BASE_CONF: &str = "
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 16
max_replication_slots = 16
hot_standby = on
synchronous_commit = on
synchronous_standby_names = ''
track_commit_timestamp = on
shared_buffers = 32MB
max_connections = 40
fsync = on
log_min_messages = warning
";

/// A primary and its standbys, each standby streaming through its own delay
/// line (the link's one-way delay in each direction).
pub struct Cluster {
    primary: Server,
    standbys: Vec<Server>,
    links: Vec<DelayLine>,
    watchdog: Option<(Child, ChildStdin)>,
    dir: Option<tempfile::TempDir>,
}

/// One standby to start: its region and the one-way delay of its link.
#[derive(Debug, Clone)]
pub struct StandbySpec {
    /// Region name.
    pub region: String,
    /// One-way delay of the replication link, each direction.
    pub one_way: Duration,
}

impl Cluster {
    /// Starts a primary in `primary_region` and one standby per spec.
    pub fn start(
        bin: &Path,
        primary_region: &str,
        standbys: &[StandbySpec],
    ) -> Result<Cluster, CalibrateError> {
        let who = run_as()?;
        let dir = tempfile::Builder::new()
            .prefix("kata86-calibrate-")
            .tempdir()
            .map_err(CalibrateError::io("create a temporary directory"))?;
        chown(dir.path(), who)?;
        let watchdog = spawn_watchdog(dir.path())?;
        let mut cluster = Cluster {
            primary: Server {
                region: primary_region.to_string(),
                app_name: String::new(),
                port: 0,
                data: dir.path().join("primary"),
                child: None,
            },
            standbys: Vec::new(),
            links: Vec::new(),
            watchdog: Some(watchdog),
            dir: Some(dir),
        };
        cluster.init_primary(bin, who)?;
        for (i, spec) in standbys.iter().enumerate() {
            cluster.add_standby(bin, who, i, spec)?;
        }
        Ok(cluster)
    }

    /// The temporary directory holding every data directory.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().map(|d| d.path()).unwrap_or(Path::new(""))
    }

    /// The primary.
    pub fn primary(&self) -> &Server {
        &self.primary
    }

    /// The standbys, in the order they were asked for.
    pub fn standbys(&self) -> &[Server] {
        &self.standbys
    }

    /// The replication links' delay lines, one per standby in order.
    pub fn links(&self) -> &[DelayLine] {
        &self.links
    }

    fn init_primary(&mut self, bin: &Path, who: Option<RunAs>) -> Result<(), CalibrateError> {
        let data = self.primary.data.clone();
        let d = data.to_string_lossy().to_string();
        run(
            &bin.join("initdb"),
            who,
            &[
                "-D",
                &d,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            "initdb",
        )?;
        let port = free_port()?;
        append(
            &data.join("postgresql.conf"),
            &format!("{BASE_CONF}port = {port}\n"),
        )?;
        self.primary.port = port;
        self.primary.app_name = "primary".into();
        spawn_server(bin, who, &mut self.primary)?;
        self.register(self.primary.pid());
        wait_ready(&self.primary, false)
    }

    fn add_standby(
        &mut self,
        bin: &Path,
        who: Option<RunAs>,
        i: usize,
        spec: &StandbySpec,
    ) -> Result<(), CalibrateError> {
        let data = self.dir().join(format!("standby{i}"));
        let d = data.to_string_lossy().to_string();
        let pport = self.primary.port.to_string();
        run(
            &bin.join("pg_basebackup"),
            who,
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &pport,
                "-U",
                "postgres",
                "-D",
                &d,
                "-X",
                "stream",
                "-R",
                "--no-sync",
            ],
            "pg_basebackup",
        )?;
        let line = DelayLine::start(self.primary.addr(), spec.one_way)?;
        let port = free_port()?;
        let app = format!("s{i}_{}", sanitize(&spec.region));
        // `-R` wrote primary_conninfo into postgresql.auto.conf, which
        // overrides postgresql.conf: route the standby through its delay line
        // there, with its own application_name.
        append(
            &data.join("postgresql.auto.conf"),
            &format!(
                "port = {port}\nprimary_conninfo = 'host=127.0.0.1 port={} user=postgres application_name={app}'\n",
                line.addr().port()
            ),
        )?;
        let mut server = Server {
            region: spec.region.clone(),
            app_name: app,
            port,
            data,
            child: None,
        };
        spawn_server(bin, who, &mut server)?;
        self.register(server.pid());
        let ready = wait_ready(&server, true);
        self.standbys.push(server);
        self.links.push(line);
        ready
    }

    fn register(&mut self, pid: Option<u32>) {
        if let (Some((_, stdin)), Some(pid)) = (self.watchdog.as_mut(), pid) {
            let _ = writeln!(stdin, "{pid}");
            let _ = stdin.flush();
        }
    }

    /// Stops everything and removes the directory (also done on drop).
    pub fn shutdown(&mut self) {
        for s in self.standbys.iter_mut().rev() {
            s.stop(Duration::from_secs(10));
        }
        self.primary.stop(Duration::from_secs(10));
        for l in self.links.iter_mut() {
            l.stop();
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
        // Everything is gone: end the watchdog rather than let it kill pids
        // that may have been reused since.
        if let Some((mut child, stdin)) = self.watchdog.take() {
            let _ = child.kill();
            drop(stdin);
            let _ = child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// `[A-Za-z0-9_]` only, lower case: a safe application_name.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn append(path: &Path, text: &str) -> Result<(), CalibrateError> {
    let mut f = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| CalibrateError::Io {
            what: format!("open {}", path.display()),
            source: e,
        })?;
    f.write_all(text.as_bytes())
        .map_err(|e| CalibrateError::Io {
            what: format!("write {}", path.display()),
            source: e,
        })
}

fn spawn_server(bin: &Path, who: Option<RunAs>, server: &mut Server) -> Result<(), CalibrateError> {
    let log = File::create(server.data.with_extension("log"))
        .map_err(CalibrateError::io("create a server log"))?;
    let log2 = log
        .try_clone()
        .map_err(CalibrateError::io("create a server log"))?;
    let child = command(&bin.join("postgres"), who)
        .arg("-D")
        .arg(&server.data)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(CalibrateError::io("start postgres"))?;
    server.child = Some(child);
    Ok(())
}

/// Waits until the server answers a query (and, for a standby, streams).
fn wait_ready(server: &Server, standby: bool) -> Result<(), CalibrateError> {
    let end = Instant::now() + Duration::from_secs(60);
    let conn = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=2",
        server.port
    );
    loop {
        if let Ok(mut c) = postgres::Client::connect(&conn, postgres::NoTls) {
            let ok = if standby {
                c.query_one(
                    "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'",
                    &[],
                )
                .map(|r| r.get::<_, i64>(0) > 0)
                .unwrap_or(false)
            } else {
                true
            };
            if ok {
                return Ok(());
            }
        }
        if Instant::now() > end {
            return Err(CalibrateError::Timeout(format!(
                "server {} on port {} not ready after 60 s; its log ends:\n{}",
                server.region,
                server.port,
                server.log_tail()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The watchdog: reads server pids until end of file, then kills what is left
/// and removes the directory.
const WATCHDOG: &str = r#"
trap '' INT TERM HUP
pids=""
while read -r p; do pids="$pids $p"; done
for p in $pids; do kill -9 "$p" 2>/dev/null; done
i=0
while [ -e "$1" ] && [ $i -lt 40 ]; do
    rm -rf "$1" 2>/dev/null
    [ -e "$1" ] && sleep 0.25
    i=$((i + 1))
done
"#;

fn spawn_watchdog(dir: &Path) -> Result<(Child, ChildStdin), CalibrateError> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("kata86-calibrate-watchdog")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(CalibrateError::io("start the cleanup watchdog (sh)"))?;
    let stdin = child.stdin.take().ok_or_else(|| CalibrateError::Command {
        what: "start the cleanup watchdog".into(),
        detail: "no stdin pipe".into(),
    })?;
    Ok((child, stdin))
}
