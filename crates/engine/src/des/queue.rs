//! The event queue: events ordered by time, ties broken by insertion order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use topology::Micros;

/// A min-queue of `(time, seq, event)`. Two events at one instant come out in
/// the order they were pushed, so a run never depends on how `E` compares.
#[derive(Debug, Clone)]
pub(crate) struct EventQueue<E> {
    heap: BinaryHeap<Reverse<(Micros, u64, Wrapped<E>)>>,
    seq: u64,
}

/// Orders only by the `(time, seq)` key around it: the payload never decides.
#[derive(Debug, Clone)]
struct Wrapped<E>(E);

impl<E> PartialEq for Wrapped<E> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<E> Eq for Wrapped<E> {}
impl<E> PartialOrd for Wrapped<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Wrapped<E> {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl<E> EventQueue<E> {
    pub(crate) fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Schedules `e` at `at`.
    pub(crate) fn push(&mut self, at: Micros, e: E) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, Wrapped(e))));
    }

    /// The next event due at or before `t`, if any.
    pub(crate) fn pop_until(&mut self, t: Micros) -> Option<(Micros, E)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= t => {
                let Reverse((at, _, Wrapped(e))) = self.heap.pop().expect("peeked");
                Some((at, e))
            }
            _ => None,
        }
    }

    /// Events waiting.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_out_by_time_then_by_insertion() {
        let mut q = EventQueue::new();
        q.push(20, "c");
        q.push(10, "a");
        q.push(10, "b");
        q.push(30, "d");
        assert_eq!(q.pop_until(25), Some((10, "a")));
        assert_eq!(q.pop_until(25), Some((10, "b")));
        assert_eq!(q.pop_until(25), Some((20, "c")));
        assert_eq!(q.pop_until(25), None);
        assert_eq!(q.len(), 1);
    }
}
