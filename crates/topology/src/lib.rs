//! Where things are and how far apart they are: regions, client sites and the
//! round-trip times between them.
//!
//! # Brief overview
//! * [`Topology`] — the validated, immutable map the whole simulator reads: a list
//!   of regions (data centres that may hold a replica), a list of client sites
//!   (where users are, each with a *home* region it normally talks to), the RTT
//!   from every site to every region, and the symmetric region↔region RTT matrix.
//! * [`TopologyBuilder`] — the only way to make one. Names are resolved and every
//!   number checked once, in [`TopologyBuilder::build`]; after that lookups are
//!   plain index operations on [`RegionId`] / [`SiteId`] and cannot fail.
//! * [`Micros`] — simulated time and durations, in whole microseconds;
//!   [`as_ms`] writes one as milliseconds or seconds in a serialised result
//!   (`#[serde(serialize_with = "topology::as_ms::opt")]`).
//!
//! # Key decision: names at the edge, indices in the core
//! Users speak of `SG`, `US` and `VN`; the simulator's hot loop must not hash
//! strings. So names exist only in the builder and in [`Topology::region`] /
//! [`Topology::site`] lookups; everything below works with dense `u8` indices
//! into `Vec`s, which also keeps iteration order fixed (no `HashMap` anywhere),
//! a precondition of byte-identical reports for a given seed.
//!
//! This crate knows nothing about replication, strategies or randomness. It does
//! no I/O.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod as_ms;
pub mod units;

use std::fmt;

/// Simulated time or a duration, in microseconds.
pub type Micros = u64;

/// The largest RTT (and jitter) accepted, in ms: ten seconds is already far
/// beyond any path on Earth, and keeps every sum of RTTs far from overflow.
pub const MAX_RTT_MS: f64 = 10_000.0;

/// Microseconds in one millisecond.
pub const US_PER_MS: u64 = 1_000;

/// Converts milliseconds (as a user writes them) to [`Micros`], rounding to the
/// nearest microsecond. Callers validate the sign first.
pub fn ms(ms: f64) -> Micros {
    (ms * US_PER_MS as f64).round() as Micros
}

/// Converts [`Micros`] to milliseconds for reports.
pub fn to_ms(us: Micros) -> f64 {
    us as f64 / US_PER_MS as f64
}

/// Dense index of a region inside one [`Topology`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionId(pub u8);

impl RegionId {
    /// The index as `usize`, for slices.
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

/// Dense index of a client site inside one [`Topology`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SiteId(pub u8);

impl SiteId {
    /// The index as `usize`, for slices.
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

/// Everything that can be wrong with a topology description.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TopologyError {
    /// A name was used that no region has. Declare the region first, or fix the spelling.
    #[error("unknown region `{name}` (known regions: {known})")]
    UnknownRegion {
        /// The name asked for.
        name: String,
        /// The declared regions, comma-separated.
        known: String,
    },
    /// A name was used that no client site has.
    #[error("unknown client site `{name}` (known sites: {known})")]
    UnknownSite {
        /// The name asked for.
        name: String,
        /// The declared sites, comma-separated.
        known: String,
    },
    /// Two regions, or two sites, share a name.
    #[error("`{0}` is declared twice; each region name and each site name must be unique")]
    Duplicate(String),
    /// An RTT is negative, NaN, infinite or over [`MAX_RTT_MS`].
    #[error("RTT {from} -> {to} is {value} ms; an RTT must be a number from 0 to 10000 ms")]
    BadRtt {
        /// One end.
        from: String,
        /// Other end.
        to: String,
        /// The offending value in milliseconds.
        value: f64,
    },
    /// No RTT was given between a site and a region, or between two regions.
    #[error("missing RTT {from} -> {to}; give every site an RTT to every region and every pair of regions a link")]
    MissingRtt {
        /// One end.
        from: String,
        /// Other end.
        to: String,
    },
    /// The region↔region RTT was given both ways with different values.
    #[error("RTT {a} <-> {b} is asymmetric ({ab} ms one way, {ba} ms the other); give one value per pair")]
    Asymmetric {
        /// One region.
        a: String,
        /// The other region.
        b: String,
        /// a → b value.
        ab: f64,
        /// b → a value.
        ba: f64,
    },
    /// A topology needs at least one region and one site.
    #[error("a topology needs at least one region and one client site")]
    Empty,
    /// More than 64 regions or 255 sites.
    #[error("too many regions or sites (at most 64 regions and 255 sites)")]
    TooLarge,
    /// The jitter bound is negative, not finite or over [`MAX_RTT_MS`].
    #[error("jitter is {0} ms; it must be a number from 0 to 10000 ms")]
    BadJitter(f64),
    /// A region, site or home region with an empty name.
    #[error("{what} has an empty name; give every region and site a name")]
    EmptyName {
        /// What has no name (`a region`, `site VN's home region`, ...).
        what: String,
    },
    /// A link from a region to itself.
    #[error("link {0} <-> {0} joins a region to itself; a region talks to itself for free, drop the link")]
    SelfLoop(String),
}

/// A data centre that can hold a replica (or, later, only a witness).
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// Short name such as `SG`.
    pub name: String,
}

/// A place users connect from.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// Short name such as `VN`.
    pub name: String,
    /// The region this site's traffic goes to when everything is healthy.
    pub home: RegionId,
    rtt: Vec<Micros>,
}

/// A built-in world: which regions and sites every command plays unless a
/// scenario or topology file gives its own.
///
/// There is one default, DESIGN.md's world ([`World::Default`]: SG leads,
/// US and JP follow); the kata's two regions are one flag away as a named
/// preset ([`World::Kata`], `--world kata`). Every command starts from
/// [`World::DEFAULT`], so no two commands play different worlds by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum World {
    /// DESIGN.md's world: [`Topology::kata_with_jp`].
    Default,
    /// The kata's two regions: [`Topology::kata`].
    Kata,
}

impl World {
    /// The world every command plays unless told otherwise.
    pub const DEFAULT: World = World::Default;
    /// Every preset, in help order.
    pub const ALL: &'static [World] = &[World::Default, World::Kata];

    /// The preset's name on the command line (`--world`).
    pub fn name(self) -> &'static str {
        match self {
            World::Default => "default",
            World::Kata => "kata",
        }
    }

    /// How a report's header names the world.
    pub fn describe(self) -> &'static str {
        match self {
            World::Default => "the default world (DESIGN.md: SG, US, JP)",
            World::Kata => "the kata preset (SG, US)",
        }
    }

    /// The preset's topology.
    pub fn topology(self) -> Topology {
        self.builder().build().expect("built-in topology is valid")
    }

    /// The builder behind [`World::topology`], for callers that add to it
    /// (jitter, say).
    pub fn builder(self) -> TopologyBuilder {
        match self {
            World::Default => Topology::kata_with_jp_builder(),
            World::Kata => Topology::kata_builder(),
        }
    }

    /// The preset a topology is, jitter aside (a file may spell out a
    /// preset's regions, sites and RTTs exactly), or `None`.
    pub fn of(t: &Topology) -> Option<World> {
        World::ALL.iter().copied().find(|w| {
            let p = w.topology();
            p.regions == t.regions && p.sites == t.sites && p.links == t.links
        })
    }
}

/// A report header's world line: which world (a preset by name, or one of
/// the user's own) and its regions, sites and RTTs.
pub struct WorldLine<'a>(pub &'a Topology);

impl fmt::Display for WorldLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match World::of(self.0) {
            Some(w) => write!(f, "{}; {}", w.describe(), self.0),
            None => write!(f, "your own (from a file); {}", self.0),
        }
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The validated map of regions, sites and RTTs. See the crate docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    regions: Vec<Region>,
    sites: Vec<Site>,
    /// Row-major `n × n` region↔region RTTs.
    links: Vec<Micros>,
    jitter: Micros,
}

impl Topology {
    /// The kata's two-region world: regions `SG` (Singapore) and `US`
    /// (Virginia); site `VN` (home `SG`: 40 ms to SG, 220 ms to US) and site `US`
    /// (home `US`: 20 ms to US, 220 ms to SG); SG↔US 180 ms; no jitter.
    pub fn kata() -> Topology {
        Self::kata_builder()
            .build()
            .expect("built-in topology is valid")
    }

    /// The kata's topology plus `JP` (Tokyo), the third region the failover
    /// drills and quorum placements use. RTTs: SG↔JP 74 ms and US↔JP 145 ms
    /// (published inter-region measurements, see docs/model.md); VN→JP 90 ms
    /// and US site→JP 150 ms estimated from them.
    pub fn kata_with_jp() -> Topology {
        Self::kata_with_jp_builder()
            .build()
            .expect("built-in topology is valid")
    }

    /// The builder behind [`Topology::kata_with_jp`].
    pub fn kata_with_jp_builder() -> TopologyBuilder {
        Self::kata_builder()
            .region("JP")
            .link("SG", "JP", 74.0)
            .link("US", "JP", 145.0)
            .site_rtt("VN", "JP", 90.0)
            .site_rtt("US", "JP", 150.0)
    }

    /// The builder behind [`Topology::kata`], for callers that want to add to it.
    pub fn kata_builder() -> TopologyBuilder {
        TopologyBuilder::new()
            .region("SG")
            .region("US")
            .link("SG", "US", 180.0)
            .site("VN", "SG", &[("SG", 40.0), ("US", 220.0)])
            .site("US", "US", &[("US", 20.0), ("SG", 220.0)])
    }

    /// All regions, in declaration order (index = [`RegionId`]).
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// All client sites, in declaration order (index = [`SiteId`]).
    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// Number of regions.
    pub fn region_count(&self) -> usize {
        self.regions.len()
    }

    /// Iterates over every region id in order.
    pub fn region_ids(&self) -> impl Iterator<Item = RegionId> + '_ {
        (0..self.regions.len()).map(|i| RegionId(i as u8))
    }

    /// Iterates over every site id in order.
    pub fn site_ids(&self) -> impl Iterator<Item = SiteId> + '_ {
        (0..self.sites.len()).map(|i| SiteId(i as u8))
    }

    /// Looks a region up by name.
    pub fn region(&self, name: &str) -> Result<RegionId, TopologyError> {
        self.regions
            .iter()
            .position(|r| r.name == name)
            .map(|i| RegionId(i as u8))
            .ok_or_else(|| TopologyError::UnknownRegion {
                name: name.to_string(),
                known: join(self.regions.iter().map(|r| r.name.as_str())),
            })
    }

    /// Looks a client site up by name.
    pub fn site(&self, name: &str) -> Result<SiteId, TopologyError> {
        self.sites
            .iter()
            .position(|s| s.name == name)
            .map(|i| SiteId(i as u8))
            .ok_or_else(|| TopologyError::UnknownSite {
                name: name.to_string(),
                known: join(self.sites.iter().map(|s| s.name.as_str())),
            })
    }

    /// Name of a region.
    pub fn region_name(&self, r: RegionId) -> &str {
        &self.regions[r.idx()].name
    }

    /// Name of a site.
    pub fn site_name(&self, s: SiteId) -> &str {
        &self.sites[s.idx()].name
    }

    /// Home region of a site.
    pub fn home(&self, s: SiteId) -> RegionId {
        self.sites[s.idx()].home
    }

    /// Base RTT from a client site to a region.
    #[inline]
    pub fn rtt_site(&self, s: SiteId, r: RegionId) -> Micros {
        self.sites[s.idx()].rtt[r.idx()]
    }

    /// Base RTT between two regions (0 from a region to itself).
    #[inline]
    pub fn rtt_regions(&self, a: RegionId, b: RegionId) -> Micros {
        self.links[a.idx() * self.regions.len() + b.idx()]
    }

    /// Upper bound (exclusive) of the uniform extra delay added to each
    /// message leg when jitter is on; 0 means RTTs are exact.
    pub fn jitter(&self) -> Micros {
        self.jitter
    }

    /// Regions ordered by RTT from a site, nearest first (ties by declaration order).
    pub fn regions_by_distance(&self, s: SiteId) -> Vec<RegionId> {
        let mut ids: Vec<RegionId> = self.region_ids().collect();
        ids.sort_by_key(|r| (self.rtt_site(s, *r), r.0));
        ids
    }
}

fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

/// A site as declared: name, home region name, RTTs (ms) by region name.
type SiteDraft = (String, String, Vec<(String, f64)>);

/// Collects a topology description by name and validates it in [`build`](Self::build).
///
/// Defaults: no regions, no sites, jitter 0 ms. An RTT from a region to itself
/// is always 0.
#[derive(Debug, Clone, Default)]
pub struct TopologyBuilder {
    regions: Vec<String>,
    sites: Vec<SiteDraft>,
    links: Vec<(String, String, f64)>,
    jitter_ms: f64,
}

impl TopologyBuilder {
    /// An empty description.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a region.
    pub fn region(mut self, name: &str) -> Self {
        self.regions.push(name.to_string());
        self
    }

    /// Declares a client site with its home region and its RTT (ms) to regions.
    /// Every region must appear in `rtts` by the time [`build`](Self::build) runs.
    pub fn site(mut self, name: &str, home: &str, rtts: &[(&str, f64)]) -> Self {
        self.sites.push((
            name.to_string(),
            home.to_string(),
            rtts.iter().map(|(r, v)| (r.to_string(), *v)).collect(),
        ));
        self
    }

    /// Sets (or adds) a site's RTT to one region, in ms.
    pub fn site_rtt(mut self, site: &str, region: &str, rtt_ms: f64) -> Self {
        if let Some(s) = self.sites.iter_mut().find(|s| s.0 == site) {
            s.2.retain(|(r, _)| r != region);
            s.2.push((region.to_string(), rtt_ms));
        } else {
            // Reported as an unknown site by `build`.
            self.sites.push((
                site.to_string(),
                String::new(),
                vec![(region.to_string(), rtt_ms)],
            ));
        }
        self
    }

    /// Declares the RTT (ms) between two regions. Giving the pair twice with
    /// different values is an error.
    pub fn link(mut self, a: &str, b: &str, rtt_ms: f64) -> Self {
        self.links.push((a.to_string(), b.to_string(), rtt_ms));
        self
    }

    /// Sets the per-leg jitter bound in ms (default 0: exact RTTs).
    pub fn jitter_ms(mut self, jitter_ms: f64) -> Self {
        self.jitter_ms = jitter_ms;
        self
    }

    /// Validates everything and produces the [`Topology`].
    pub fn build(self) -> Result<Topology, TopologyError> {
        if self.regions.is_empty() || self.sites.is_empty() {
            return Err(TopologyError::Empty);
        }
        if self.regions.len() > 64 || self.sites.len() > 255 {
            return Err(TopologyError::TooLarge);
        }
        if !(0.0..=MAX_RTT_MS).contains(&self.jitter_ms) {
            return Err(TopologyError::BadJitter(self.jitter_ms));
        }
        let empty = |what: String| Err(TopologyError::EmptyName { what });
        if self.regions.iter().any(|r| r.trim().is_empty()) {
            return empty("a region".into());
        }
        for (name, home, rtts) in &self.sites {
            if name.trim().is_empty() {
                return empty("a client site".into());
            }
            if home.trim().is_empty() {
                return empty(format!("site {name}'s home region"));
            }
            if rtts.iter().any(|(r, _)| r.trim().is_empty()) {
                return empty(format!("a region in site {name}'s RTTs"));
            }
        }
        if let Some((a, _, _)) = self.links.iter().find(|(a, b, _)| a == b) {
            return Err(TopologyError::SelfLoop(a.clone()));
        }
        // Regions and sites are separate namespaces (the kata has a region
        // `US` and a site `US`), but each must be unique within its own.
        for names in [
            self.regions.iter().collect::<Vec<_>>(),
            self.sites.iter().map(|s| &s.0).collect(),
        ] {
            for (i, name) in names.iter().enumerate() {
                if names[..i].contains(name) {
                    return Err(TopologyError::Duplicate((*name).clone()));
                }
            }
        }
        let regions: Vec<Region> = self
            .regions
            .iter()
            .map(|n| Region { name: n.clone() })
            .collect();
        let n = regions.len();
        let known = join(self.regions.iter().map(|s| s.as_str()));
        let rid = |name: &str| -> Result<usize, TopologyError> {
            self.regions.iter().position(|r| r == name).ok_or_else(|| {
                TopologyError::UnknownRegion {
                    name: name.to_string(),
                    known: known.clone(),
                }
            })
        };
        let check = |from: &str, to: &str, v: f64| -> Result<Micros, TopologyError> {
            if !(0.0..=MAX_RTT_MS).contains(&v) {
                return Err(TopologyError::BadRtt {
                    from: from.to_string(),
                    to: to.to_string(),
                    value: v,
                });
            }
            Ok(ms(v))
        };

        let mut given: Vec<Option<f64>> = vec![None; n * n];
        for (a, b, v) in &self.links {
            let (ia, ib) = (rid(a)?, rid(b)?);
            check(a, b, *v)?;
            for (x, y) in [(ia, ib), (ib, ia)] {
                match given[x * n + y] {
                    Some(prev) if prev != *v => {
                        return Err(TopologyError::Asymmetric {
                            a: a.clone(),
                            b: b.clone(),
                            ab: *v,
                            ba: prev,
                        })
                    }
                    _ => given[x * n + y] = Some(*v),
                }
            }
        }
        let mut links = vec![0; n * n];
        for i in 0..n {
            for j in 0..n {
                if i == j {
                    continue;
                }
                match given[i * n + j] {
                    Some(v) => links[i * n + j] = ms(v),
                    None => {
                        return Err(TopologyError::MissingRtt {
                            from: self.regions[i].clone(),
                            to: self.regions[j].clone(),
                        })
                    }
                }
            }
        }

        let mut sites = Vec::with_capacity(self.sites.len());
        for (name, home, rtts) in &self.sites {
            let home = RegionId(rid(home)? as u8);
            let mut rtt: Vec<Option<Micros>> = vec![None; n];
            for (r, v) in rtts {
                rtt[rid(r)?] = Some(check(name, r, *v)?);
            }
            let rtt = rtt
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    v.ok_or_else(|| TopologyError::MissingRtt {
                        from: name.clone(),
                        to: self.regions[i].clone(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            sites.push(Site {
                name: name.clone(),
                home,
                rtt,
            });
        }
        Ok(Topology {
            regions,
            sites,
            links,
            jitter: ms(self.jitter_ms),
        })
    }
}

impl fmt::Display for Topology {
    /// A compact one-line description, e.g. `regions SG,US; SG<->US 180ms; VN(home SG) ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "regions ")?;
        for (i, r) in self.regions.iter().enumerate() {
            write!(f, "{}{}", if i > 0 { "," } else { "" }, r.name)?;
        }
        for a in self.region_ids() {
            for b in self.region_ids().filter(|b| b.0 > a.0) {
                write!(
                    f,
                    "; {}<->{} {}ms",
                    self.region_name(a),
                    self.region_name(b),
                    to_ms(self.rtt_regions(a, b))
                )?;
            }
        }
        for s in self.site_ids() {
            write!(
                f,
                "; {}(home {}:",
                self.site_name(s),
                self.region_name(self.home(s))
            )?;
            for r in self.region_ids() {
                write!(
                    f,
                    " {} {}ms",
                    self.region_name(r),
                    to_ms(self.rtt_site(s, r))
                )?;
            }
            write!(f, ")")?;
        }
        if self.jitter > 0 {
            write!(f, "; jitter <{}ms", to_ms(self.jitter))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_default_world_and_the_kata_preset() {
        let d = World::DEFAULT.topology();
        let names: Vec<&str> = d.region_ids().map(|r| d.region_name(r)).collect();
        assert_eq!(names, ["SG", "US", "JP"]);
        let k = World::Kata.topology();
        let names: Vec<&str> = k.region_ids().map(|r| k.region_name(r)).collect();
        assert_eq!(names, ["SG", "US"]);
        assert_eq!(World::of(&d), Some(World::Default));
        assert_eq!(World::of(&k), Some(World::Kata));
        // Jitter does not change which world it is; another RTT does.
        let jittered = World::Kata.builder().jitter_ms(5.0).build().unwrap();
        assert_eq!(World::of(&jittered), Some(World::Kata));
        let other = TopologyBuilder::new()
            .region("SG")
            .region("US")
            .link("SG", "US", 181.0)
            .site("VN", "SG", &[("SG", 40.0), ("US", 220.0)])
            .site("US", "US", &[("US", 20.0), ("SG", 220.0)])
            .build()
            .unwrap();
        assert_eq!(World::of(&other), None);
        assert!(WorldLine(&other).to_string().starts_with("your own"));
        assert!(WorldLine(&d).to_string().starts_with("the default world"));
    }

    #[test]
    fn kata_defaults_match_the_brief() {
        let t = Topology::kata();
        let (sg, us) = (t.region("SG").unwrap(), t.region("US").unwrap());
        let (vn, usc) = (t.site("VN").unwrap(), t.site("US").unwrap());
        assert_eq!(t.rtt_site(vn, sg), ms(40.0));
        assert_eq!(t.rtt_site(vn, us), ms(220.0));
        assert_eq!(t.rtt_site(usc, us), ms(20.0));
        assert_eq!(t.rtt_site(usc, sg), ms(220.0));
        assert_eq!(t.rtt_regions(sg, us), ms(180.0));
        assert_eq!(t.rtt_regions(us, sg), ms(180.0));
        assert_eq!(t.rtt_regions(sg, sg), 0);
        assert_eq!(t.home(vn), sg);
        assert_eq!(t.home(usc), us);
        assert_eq!(t.regions_by_distance(vn), vec![sg, us]);
    }

    fn err(b: TopologyBuilder) -> TopologyError {
        b.build().unwrap_err()
    }

    #[test]
    fn unknown_names_are_reported_with_the_known_ones() {
        let t = Topology::kata();
        let e = t.region("JP").unwrap_err();
        assert_eq!(e.to_string(), "unknown region `JP` (known regions: SG, US)");
        let e = t.site("TH").unwrap_err();
        assert!(e.to_string().contains("known sites: VN, US"), "{e}");
        let e = err(Topology::kata_builder().site("TH", "JP", &[("SG", 1.0)]));
        assert!(matches!(e, TopologyError::UnknownRegion { ref name, .. } if name == "JP"));
    }

    #[test]
    fn negative_missing_and_asymmetric_rtts_are_rejected() {
        let e = err(Topology::kata_builder().site_rtt("VN", "SG", -1.0));
        assert!(
            matches!(e, TopologyError::BadRtt { value, .. } if value == -1.0),
            "{e}"
        );
        let e = err(Topology::kata_builder().site_rtt("VN", "SG", f64::NAN));
        assert!(matches!(e, TopologyError::BadRtt { .. }));
        let e = err(Topology::kata_builder().region("JP"));
        assert!(matches!(e, TopologyError::MissingRtt { .. }), "{e}");
        let e = err(Topology::kata_builder().link("US", "SG", 170.0));
        assert!(matches!(e, TopologyError::Asymmetric { .. }), "{e}");
        // The same value given both ways is fine.
        Topology::kata_builder()
            .link("US", "SG", 180.0)
            .build()
            .unwrap();
        let e = err(Topology::kata_builder().region("SG"));
        assert_eq!(e, TopologyError::Duplicate("SG".into()));
        let e = err(Topology::kata_builder().jitter_ms(-3.0));
        assert_eq!(e, TopologyError::BadJitter(-3.0));
        assert_eq!(err(TopologyBuilder::new()), TopologyError::Empty);
    }

    #[test]
    fn site_rtt_overrides_and_display_is_stable() {
        let t = Topology::kata_builder()
            .site_rtt("VN", "SG", 35.5)
            .build()
            .unwrap();
        assert_eq!(
            t.rtt_site(t.site("VN").unwrap(), t.region("SG").unwrap()),
            35_500
        );
        assert_eq!(
            Topology::kata().to_string(),
            "regions SG,US; SG<->US 180ms; VN(home SG: SG 40ms US 220ms); US(home US: SG 220ms US 20ms)"
        );
    }
}
