//! The reports in a real browser: headless Chromium loads each page without
//! a console message, every plot's `<svg>` is in the DOM and drawn, and a
//! screenshot is not blank.
//!
//! Skipped (with a message) when `/usr/bin/chromium` is missing, unless
//! `KATA86_REQUIRE_BROWSER` is set (CI sets it after installing Debian's
//! `chromium`): then a missing browser fails the test.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::ok;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether to run: the browser is there, or it is required (and then must be).
fn browser() -> bool {
    let present = Path::new(CHROMIUM).is_file();
    let required = std::env::var_os("KATA86_REQUIRE_BROWSER").is_some_and(|v| !v.is_empty());
    if required {
        assert!(
            present,
            "KATA86_REQUIRE_BROWSER is set but {CHROMIUM} is missing (apt-get install chromium)"
        );
    }
    if !present {
        println!("browser check skipped: {CHROMIUM} not found and KATA86_REQUIRE_BROWSER unset");
    }
    present
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kata86-browser-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs headless Chromium on `page` with `extra` flags, a fresh profile, and
/// a time limit; returns its output.
fn chromium(page: &Path, profile: &Path, extra: &[&str]) -> Output {
    let url = format!("file://{}", page.display());
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--log-level=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Read the pipes on threads so a full pipe cannot stall the browser.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).ok();
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).ok();
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: t_out.join().expect("stdout"),
        stderr: t_err.join().expect("stderr"),
    }
}

/// Console messages Chromium logged (`INFO:CONSOLE` lines): a report has no
/// script, so any message is an error (a blocked or failed load included).
fn console_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect()
}

/// The DOM after load, and the console messages.
fn load(page: &Path, profile: &Path) -> (String, Vec<String>) {
    let o = chromium(page, profile, &["--dump-dom"]);
    assert!(o.status.success(), "chromium failed on {page:?}");
    let dom = String::from_utf8(o.stdout).expect("DOM is UTF-8");
    (dom, console_lines(&o.stderr))
}

/// Distinct RGB colours of a PNG screenshot of `page`.
fn screenshot_colours(page: &Path, profile: &Path, dir: &Path) -> usize {
    let shot = dir.join(format!(
        "{}.png",
        page.file_stem().unwrap().to_string_lossy()
    ));
    let o = chromium(
        page,
        profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1000,1400",
        ],
    );
    assert!(o.status.success(), "chromium screenshot failed on {page:?}");
    let file = std::fs::File::open(&shot).expect("a screenshot was written");
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a frame");
    assert!(info.width >= 800 && info.height >= 1000, "{info:?}");
    let step = match info.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        other => panic!("unexpected colour type {other:?}"),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf[..info.buffer_size()]
        .chunks_exact(step)
        .map(|p| (p[0], p[1], p[2]))
        .collect::<BTreeSet<_>>()
        .len()
}

/// The `<svg>…</svg>` inside `<figure id="ID">` of a DOM.
fn svg_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let at = dom
        .find(&format!("<figure id=\"{id}\""))
        .unwrap_or_else(|| panic!("no figure {id} in the DOM"));
    let rest = &dom[at..];
    let end = rest.find("</figure>").expect("figure closed");
    let fig = &rest[..end];
    let s = fig
        .find("<svg")
        .unwrap_or_else(|| panic!("no <svg> in {id}"));
    let e = fig
        .rfind("</svg>")
        .unwrap_or_else(|| panic!("<svg> of {id} not closed"));
    &fig[s..e]
}

#[test]
fn reports_load_cleanly_in_chromium() {
    if !browser() {
        return;
    }
    let dir = scratch("pages");
    let page = |name: &str, args: &[&str]| {
        let path = dir.join(format!("{name}.html"));
        let mut all = args.to_vec();
        let p = path.to_str().expect("utf-8").to_string();
        all.extend(["--report", &p]);
        ok(&all);
        path
    };
    let cases: Vec<(PathBuf, Vec<&str>)> = vec![
        (
            page("sim", &["sim", "--iterations", "20000"]),
            vec![
                "plot-staleness-cdf-vn",
                "plot-staleness-cdf-us",
                "plot-read-vs-staleness",
            ],
        ),
        (
            page("drill", &["drill", "region-down", "--runs", "3"]),
            vec![
                "plot-timeline-1-promote-auto-majority",
                "plot-rto-1-promote-auto-majority",
                "plot-rpo-1-promote-auto-majority",
            ],
        ),
        (
            page("compare", &["compare", "--runs", "1"]),
            vec!["plot-compare-money"],
        ),
        (
            page(
                "pbs",
                &[
                    "pbs",
                    "--preset",
                    "lnkd-ssd",
                    "--trials",
                    "20000",
                    "--step-ms",
                    "0.5",
                    "--points",
                    "9",
                ],
            ),
            vec!["plot-t-visibility"],
        ),
        (
            page(
                "plan",
                &[
                    "plan",
                    "--runs",
                    "1",
                    "--write-path",
                    "majority",
                    "--write-path",
                    "lww",
                ],
            ),
            vec!["plot-plan"],
        ),
    ];
    for (i, (path, plots)) in cases.iter().enumerate() {
        let html = std::fs::read_to_string(path).expect("written");
        // Nothing to fetch: no script, stylesheet link, import or remote URL.
        for bad in [
            "<script",
            "<link",
            "@import",
            "url(",
            "src=\"http",
            "href=\"http",
        ] {
            assert!(!html.contains(bad), "{path:?} contains {bad}");
        }
        let profile = dir.join(format!("profile-{i}"));
        let (dom, console) = load(path, &profile);
        assert!(
            console.is_empty(),
            "{path:?} logged to the console:\n{}",
            console.join("\n")
        );
        assert!(
            dom.contains("id=\"command\""),
            "the reproducing command is shown"
        );
        for id in plots {
            let svg = svg_of(&dom, id);
            assert!(
                svg.matches("<text").count() >= 5,
                "{id}: title, axes, legend"
            );
            assert!(
                svg.contains("<polyline") || svg.contains("<rect") || svg.contains("<path"),
                "{id} draws nothing"
            );
        }
        assert_eq!(
            dom.matches("<svg").count(),
            plots.len(),
            "{path:?}: exactly the expected plots"
        );
        let colours = screenshot_colours(path, &dir.join(format!("shot-{i}")), &dir);
        assert!(
            colours > 16,
            "{path:?}: a screenshot of {colours} colours looks blank"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The checks above can fail: a console error is caught, and a blank page
/// is seen as blank.
#[test]
fn the_checks_catch_a_console_error_and_a_blank_page() {
    if !browser() {
        return;
    }
    let dir = scratch("controls");
    let bad = dir.join("bad.html");
    std::fs::write(
        &bad,
        "<!DOCTYPE html><html><body><p>x</p><script>console.error('kata86-boom')</script></body></html>",
    )
    .expect("written");
    let (_, console) = load(&bad, &dir.join("p1"));
    assert!(
        console.iter().any(|l| l.contains("kata86-boom")),
        "the console error was not caught: {console:?}"
    );
    let blank = dir.join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").expect("written");
    let colours = screenshot_colours(&blank, &dir.join("p2"), &dir);
    assert!(colours <= 16, "a blank page has {colours} colours");
    let _ = std::fs::remove_dir_all(&dir);
}
