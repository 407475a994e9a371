//! DESIGN.md §3 and [`engine::drill::DESIGN`] name the same design: the
//! drills' defaults come from the constant, so a design changed in one place
//! and not the other fails here.

use engine::drill::{DrillConfig, DESIGN};

#[test]
fn design_md_names_the_design_the_drills_default_to() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../DESIGN.md"))
        .expect("DESIGN.md beside the workspace");
    let start = text.find("## 3. The design").expect("DESIGN.md has §3");
    let end = text[start..]
        .find("\n## 4.")
        .map_or(text.len(), |i| start + i);
    let section = &text[start..end];
    let named = format!("`{}`", DESIGN.describe());
    assert!(
        section.contains(&named),
        "DESIGN.md §3 does not name {named}; update §3 or engine::drill::DESIGN"
    );
}

#[test]
fn every_built_in_drill_plays_the_design() {
    for &b in engine::drill::Builtin::ALL {
        let cfg = DrillConfig::builtin(b, DESIGN.jp);
        assert!(DESIGN.played_by(&cfg), "{b} does not play the design");
        assert_eq!(cfg.topology.region_count(), 3, "{b}: the default world");
    }
}
