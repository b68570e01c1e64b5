//! Generated ids: a prefix plus 8 lowercase hex characters (`crypto.randomUUID().slice(0, 8)`),
//! unique per prefix across the whole data set.

use std::collections::HashSet;

use crate::rng::Rng;

#[derive(Debug, Default)]
pub(crate) struct Ids {
    seen: [HashSet<u32>; 4],
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Prefix {
    Item,
    Deliverable,
    Goal,
    Event,
}

impl Ids {
    pub(crate) fn make(&mut self, rng: &mut Rng, prefix: Prefix) -> String {
        let (slot, p) = match prefix {
            Prefix::Item => (0, "r_"),
            Prefix::Deliverable => (1, "d_"),
            Prefix::Goal => (2, "g_"),
            Prefix::Event => (3, "e_"),
        };
        loop {
            let x = rng.next_u32();
            if self.seen[slot].insert(x) {
                return format!("{p}{x:08x}");
            }
        }
    }
}
