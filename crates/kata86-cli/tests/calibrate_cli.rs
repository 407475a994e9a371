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

/// The `# sim-command:` of a lag file `calibrate` wrote, and its
/// `# sim-expect:` lines as (client, strategy, [(column, value)]).
type Expected = Vec<(String, String, Vec<(String, String)>)>;

fn sim_check_of(lag_text: &str) -> (String, Expected) {
    let command = lag_text
        .lines()
        .find_map(|l| l.strip_prefix("# sim-command: "))
        .expect("a sim-command line")
        .to_string();
    let expected: Expected = lag_text
        .lines()
        .filter_map(|l| l.strip_prefix("# sim-expect: "))
        .map(|l| {
            let mut words = l.split_whitespace();
            let client = words.next().unwrap().to_string();
            let strategy = words.next().unwrap().to_string();
            let cols = words
                .map(|w| {
                    let (k, v) = w.split_once('=').unwrap();
                    (k.to_string(), v.to_string())
                })
                .collect();
            (client, strategy, cols)
        })
        .collect();
    (command, expected)
}

/// Runs a lag file's `sim-command` (from `dir`, where its paths are) and
/// returns what `sim --format csv` printed for every expected figure, in the
/// same shape as the expectation.
fn run_sim_check(dir: &std::path::Path, command: &str, expected: &Expected) -> Expected {
    let args: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(args[..2], ["kata86", "sim"], "{command}");
    let o = kata86()
        .current_dir(dir)
        .args(&args[1..])
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let csv = String::from_utf8(o.stdout).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    expected
        .iter()
        .map(|(client, strategy, cols)| {
            let row = rows
                .iter()
                .find(|r| r[col("client")] == client && r[col("strategy")] == strategy)
                .unwrap_or_else(|| panic!("no {client} / {strategy} row in\n{csv}"));
            let got = cols
                .iter()
                .map(|(k, _)| (k.clone(), row[col(k)].to_string()))
                .collect();
            (client.clone(), strategy.clone(), got)
        })
        .collect()
}

/// The "done when": a lag file written by calibrate's fit, given to
/// `sim --lag-from` on the calibrated world, reproduces calibrate's predicted
/// figures byte for byte. The fit runs on a fixed synthetic measurement of
/// `three / async` (no PostgreSQL), the files are written by the code
/// `calibrate --lag-out` uses, and the command the lag file names is run as
/// written. A law that is not the one predicted fails the same check.
#[test]
fn sim_reproduces_calibrates_predicted_figures_byte_for_byte() {
    use calibrate::model::Q3;
    let dir = std::env::temp_dir().join(format!("kata86-simcheck-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let q = |p50, p95, p99| Q3 { p50, p95, p99 };
    let world = calibrate::World::three();
    // Medians of an async run on SG (leader), US, JP as the workload reports
    // them: commit per site (VN, US), replay lag and heartbeat age per
    // standby (US, JP).
    let input = calibrate::FitInput {
        overhead_ms: 0.099,
        heartbeat_ms: 100.0,
        fsync_probe_ms: 0.22,
        commit: vec![q(41.6, 45.8, 48.6), q(201.6, 206.6, 208.5)],
        replay_lag: vec![q(181.6, 187.3, 190.0), q(75.4, 80.4, 85.0)],
        staleness: vec![q(142.6, 187.3, 190.6), q(90.6, 134.5, 140.8)],
    };
    let fitted = calibrate::fit(&world, &input).unwrap();
    let check = calibrate::sim_check(&world, &fitted, 86);
    // Paths relative to `dir`, as a user would give --lag-out apply.csv.
    let files = calibrate::lag_files(
        "three / async",
        &fitted,
        &check,
        std::path::Path::new("apply.csv"),
    );
    for (path, text) in &files {
        std::fs::write(dir.join(path), text).unwrap();
    }
    let lag_text = std::fs::read_to_string(dir.join("apply.csv")).unwrap();
    let (command, expected) = sim_check_of(&lag_text);
    assert_eq!(expected.len(), 2, "{lag_text}");
    // US reads a standby 90 ms away; the fitted apply lag is 1.302 ms.
    assert!(
        expected[1]
            .2
            .contains(&("lag_p50_ms".into(), "91.327".into())),
        "{expected:?}"
    );
    let run = |command: &str| run_sim_check(&dir, command, &expected);
    assert_eq!(run(&command), expected, "{command}");

    // The same check fails on a lag file whose law is not the predicted one.
    let mut other = fitted;
    other.apply_base_ms += 0.5;
    let [(path, text), _] = calibrate::lag_files(
        "three / async",
        &other,
        &check,
        std::path::Path::new("apply.csv"),
    );
    std::fs::write(dir.join(path), text).unwrap();
    assert_ne!(run(&command), expected, "{command}");

    // The file names its world: on another one (the kata preset's two
    // regions), sim refuses and says what to do.
    let o = kata86()
        .current_dir(&dir)
        .args([
            "sim",
            "--iterations",
            "1000",
            "--world",
            "kata",
            "--lag-from",
            "apply.csv",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("fitted on regions SG,US,JP with leader SG")
            && err.contains("regions SG,US with leader SG")
            && err.contains("--topology"),
        "{err}"
    );
    let o = kata86()
        .current_dir(&dir)
        .args(["sim", "--iterations", "1000", "--lag-from", "apply.csv"])
        .args(["--topology", "apply.topology.toml", "--leader", "US"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--leader SG"));
    let _ = std::fs::remove_dir_all(&dir);
}
