//! How far behind the leader each follower is, over simulated time.
//!
//! # Brief overview
//! * [`LagModel`] — the statistical description of follower lag: [`IidLag`]
//!   (the kata's: every observation independent, 2 % of them multi-second
//!   spikes) or [`EpisodicLag`] (spikes are episodes: replication stalls, the
//!   backlog grows one-for-one with time, then drains at a catch-up speed).
//! * [`LagProcess`] — one follower's lag as a function of time
//!   ([`lag_at`](LagProcess::lag_at)), or the apply delay of each item it
//!   receives ([`apply_delay`](LagProcess::apply_delay)), drawing from its own
//!   random stream.
//! * [`Link`] — the physics of one leader→follower link: one-way network
//!   delay, its jitter, and the follower's fsync.
//! * [`FollowerStream`] — the log as one follower receives it. Every entry and
//!   heartbeat gets three times, each strictly in order: *received*
//!   (`sent + one_way + jitter`, in-order delivery, held back by a cut link),
//!   *durable* (`received + fsync`) and *visible* (`received + apply delay`,
//!   never before durable, head-of-line blocked). The follower reports its
//!   durable lsn (what a synchronous commit waits for), its applied lsn, and
//!   its watermark (closed timestamp) from which it reports its staleness.
//! * [`clock::ClockModel`] — a region's wall clock (offset, drift, step,
//!   periodic wander), through which it stamps and reads time, and
//!   [`clock::Hlc`], the hybrid logical clock a region keeps on top of it
//!   (every stream item carries the leader's [`clock::HlcStamp`]).
//! * [`rng`] — named sub-streams of one master seed.
//!
//! # Key decision: a link's lag is derived, not drawn whole
//! What a reader sees as replication lag is network distance plus the
//! follower's own work. The [`Link`] carries the distance (half the RTT between
//! the two regions, plus jitter) and the fsync; the lag model carries only the
//! apply/queue component on top ([`Normal`] defaults to 60 ms + U[0, 200)).
//! The kata's SG↔US "150 ms + U[0, 200)" is thus 90 ms one way plus 60 ms
//! apply plus U[0, 200); a nearer follower is fresher by the difference in
//! distance, and durability and visibility are separate instants that a
//! commit rule and a read rule can each wait for. Each stream's network jitter
//! draws from its own generator, apart from the lag process's.
//!
//! # Key decision: lag is a process in time, not a number per request
//! The kata draws a fresh lag for every request, which hides how long a user
//! stays stale: a real spike is an episode that every request during it sees.
//! A [`LagProcess`] is therefore asked for the lag *at a time*; the `iid` model
//! is the special case that ignores the time. In a stream, an episode is a
//! stall of the follower's apply followed by a replay at the catch-up speed,
//! which gives readers exactly the staleness law of
//! [`lag_at`](LagProcess::lag_at) (plus the link's one-way delay). Because
//! each follower's process owns its generator (see [`rng::substream`]), the
//! lag path depends only on the seed and the observation times, never on
//! which read strategy is running — two strategies compared on one seed face
//! the same replication weather.
//!
//! This crate knows nothing about read strategies or reports, and does no I/O.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clock;
mod lag;
pub mod lagfile;
pub mod rng;
mod stream;

pub use lag::{
    EmpiricalLag, EpisodicLag, IidLag, LagModel, LagProcess, Normal, EMPIRICAL_POINTS,
    MAX_EMPIRICAL,
};
pub use stream::{
    snapshot_transfer, FollowerStream, Link, SNAPSHOT_BYTES_PER_ACCOUNT, SNAPSHOT_BYTES_PER_S,
};

/// Invalid replication parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplicationError {
    /// A lag-model parameter is out of range; the message says which and why.
    #[error("replication parameter `{name}`: {reason}")]
    BadParameter {
        /// The parameter's name.
        name: &'static str,
        /// What is wrong with it and what is allowed.
        reason: String,
    },
}
