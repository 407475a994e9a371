//! Option B's write paths (`engine::multi`): the stories DESIGN.md §2 tells.

use engine::drill::{Builtin, DrillConfig, JpRole};
use engine::multi::{compare, run_multi, MultiConfig, WritePath};

#[test]
fn smoke_compare() {
    let drills: Vec<DrillConfig> = [Builtin::Baseline, Builtin::Partition, Builtin::RegionDown]
        .iter()
        .map(|&b| DrillConfig::builtin(b, JpRole::Replica))
        .collect();
    for r in compare(&drills, 86).unwrap() {
        eprintln!("{r:?}");
    }
    let r = run_multi(&MultiConfig::new(drills[1].clone(), WritePath::Escrow), 86).unwrap();
    eprintln!("{r:?}");
}
