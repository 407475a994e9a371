//! `kata86 calibrate postgres`: bad input, a missing PostgreSQL, and nothing
//! left behind when the process is killed mid-run (SIGKILL and SIGTERM).
//!
//! The kill tests need the PostgreSQL server binaries: without them they
//! print why and pass, unless `KATA86_REQUIRE_POSTGRES=1` (CI).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn kata86() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kata86"))
}

#[test]
fn bad_duration_is_a_usage_error() {
    let o = kata86()
        .args(["calibrate", "postgres", "--duration", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--duration 0"), "{err}");
}

#[test]
fn missing_postgres_names_the_package() {
    let dir = std::env::temp_dir();
    let o = kata86()
        .args(["calibrate", "postgres", "--pg-bin"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("apt-get install postgresql-15"), "{err}");
    assert!(err.contains("--pg-bin"), "{err}");
}

fn postgres_available() -> bool {
    let found = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_string()))
        .into_iter()
        .chain([PathBuf::from("/usr/lib/postgresql/15/bin")])
        .any(|d| d.join("postgres").is_file() && d.join("initdb").is_file());
    if !found {
        if std::env::var("KATA86_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!("KATA86_REQUIRE_POSTGRES=1 but the PostgreSQL server binaries are missing");
        }
        eprintln!(
            "skipped: PostgreSQL server binaries not found (pg_config, /usr/lib/postgresql/15/bin)"
        );
    }
    found
}

/// `(pid, ppid, state)` of every process.
fn processes() -> Vec<(u32, u32, char)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let state = f.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        out.push((pid, ppid, state));
    }
    out
}

/// Every live descendant of `root`.
fn descendants(root: u32) -> Vec<u32> {
    let all = processes();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        for (pid, ppid, state) in &all {
            if *ppid == p && *state != 'Z' && !found.contains(pid) {
                found.push(*pid);
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().starts_with('Z'))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// Socket inodes held by `pid`.
fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let s = l.to_string_lossy().to_string();
            s.strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|n| n.parse().ok())
        })
        .collect()
}

/// `(port, inode)` of every listening TCP socket (IPv4).
fn listening() -> Vec<(u16, u64)> {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                return None;
            }
            let port = u16::from_str_radix(f[1].rsplit_once(':')?.1, 16).ok()?;
            Some((port, f[9].parse().ok()?))
        })
        .collect()
}

/// The `-D` argument of a postmaster.
fn data_dir(pid: u32) -> Option<PathBuf> {
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = cmd
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).to_string())
        .collect();
    let i = args.iter().position(|a| a == "-D")?;
    args.get(i + 1).map(PathBuf::from)
}

/// Starts a calibration, waits until its servers and delay lines are up,
/// kills it with `signal`, and checks that nothing is left.
fn killed_with(signal: i32) {
    let mut child = kata86()
        .args([
            "calibrate",
            "postgres",
            "--duration",
            "60",
            "--mode",
            "async",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    // The workload starts once the cluster, schema and site lines are up.
    loop {
        let line = lines
            .next()
            .expect("kata86 ended before the workload started")
            .unwrap();
        if line.contains("world three, async") {
            break;
        }
    }
    // Give the workload's connections a moment to open.
    std::thread::sleep(Duration::from_secs(2));
    let procs = descendants(pid);
    let postmasters: Vec<u32> = procs
        .iter()
        .copied()
        .filter(|p| data_dir(*p).is_some())
        .collect();
    assert!(
        postmasters.len() >= 3,
        "expected a primary and 2 standbys, saw {postmasters:?}"
    );
    let dir = data_dir(postmasters[0])
        .and_then(|d| d.parent().map(|p| p.to_path_buf()))
        .unwrap();
    assert!(dir.is_dir());
    let mut inodes: Vec<u64> = socket_inodes(pid);
    for p in &procs {
        inodes.extend(socket_inodes(*p));
    }
    let ports: Vec<u16> = listening()
        .into_iter()
        .filter(|(_, inode)| inodes.contains(inode))
        .map(|(port, _)| port)
        .collect();
    // Three servers and at least the two replication delay lines.
    assert!(ports.len() >= 5, "listening ports {ports:?}");

    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(sent.success());
    let _ = child.wait();
    drop(lines);

    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let left: Vec<u32> = procs.iter().copied().filter(|p| alive(*p)).collect();
        let open: Vec<u16> = listening()
            .into_iter()
            .map(|(port, _)| port)
            .filter(|port| ports.contains(port))
            .collect();
        if left.is_empty() && open.is_empty() && !dir.exists() {
            return;
        }
        if Instant::now() > end {
            panic!(
                "after signal {signal}: processes left {left:?}, ports still listening {open:?}, \
                 directory {} exists: {}",
                dir.display(),
                dir.exists()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn sigkill_leaves_nothing_behind() {
    if postgres_available() {
        killed_with(9);
    }
}

#[test]
fn sigterm_leaves_nothing_behind() {
    if postgres_available() {
        killed_with(15);
    }
}

/// A lag file of apply lag drives `sim`: US's local reads lag the link's
/// one-way delay (90 ms) plus the file's apply lag, never the delay twice.
#[test]
fn sim_lag_from_adds_the_one_way_delay_once() {
    let dir = std::env::temp_dir().join(format!("kata86-lagfile-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("apply.csv");
    std::fs::write(
        &file,
        "# kata86 lag file\n# holds: apply-lag\napply_lag_ms\n3.0\n3.0\n",
    )
    .unwrap();
    let o = kata86()
        .args([
            "sim",
            "--iterations",
            "5000",
            "--format",
            "json",
            "--lag-from",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = v.to_string();
    assert!(text.contains("empirical"), "{text}");
    let cells = v["results"].as_array().expect("results");
    let local = cells
        .iter()
        .find(|c| c["client"] == "US" && c["strategy"] == "local")
        .expect("US local cell");
    // 90 + 3 ms, to the histogram's 0.1 % bucket.
    let p50 = local["lag_ms"]["p50"].as_f64().unwrap();
    assert!((93.0..93.1).contains(&p50), "{local}");

    std::fs::write(&file, "# holds: replay-lag\napply_lag_ms\n93.0\n").unwrap();
    let o = kata86()
        .args(["sim", "--lag-from"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("apply lag only"));
    let _ = std::fs::remove_dir_all(&dir);
}
