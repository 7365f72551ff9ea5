//! How many event streams may be open on this node: per account and in all. Each open
//! stream holds a socket and a task for hours, so without caps one account could hold
//! thousands and the node run out of file descriptors and stop accepting connections
//! (seen: 19,950 `/me/events` streams of one citizen). A slot is taken before a stream
//! starts and given back when the stream ends, however it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::ids::AccountId;

/// Which cap a refused stream met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Over {
    Account,
    Node,
}

impl Over {
    pub fn as_str(self) -> &'static str {
        match self {
            Over::Account => "account",
            Over::Node => "node",
        }
    }
}

#[derive(Default)]
struct Open {
    total: usize,
    by_account: HashMap<AccountId, usize>,
}

pub struct StreamSlots {
    per_account: usize,
    per_node: usize,
    open: Mutex<Open>,
}

/// One open stream's place; dropping it frees the place.
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    account: AccountId,
}

impl StreamSlots {
    pub fn new(per_account: usize, per_node: usize) -> StreamSlots {
        StreamSlots {
            per_account,
            per_node,
            open: Mutex::new(Open::default()),
        }
    }

    pub fn per_account(&self) -> usize {
        self.per_account
    }

    pub fn per_node(&self) -> usize {
        self.per_node
    }

    /// A slot for one more stream of `account`, or the cap it would pass.
    pub fn take(self: &Arc<Self>, account: AccountId) -> Result<StreamSlot, Over> {
        // A panic while holding the lock leaves counts that are still whole numbers: keep going.
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.per_node {
            return Err(Over::Node);
        }
        let mine = open.by_account.entry(account).or_default();
        if *mine >= self.per_account {
            return Err(Over::Account);
        }
        *mine += 1;
        open.total += 1;
        Ok(StreamSlot {
            slots: self.clone(),
            account,
        })
    }

    /// Streams open now, on this node.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(mine) = open.by_account.get_mut(&self.account) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                open.by_account.remove(&self.account);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_per_account_and_per_node_and_slots_come_back() {
        let slots = Arc::new(StreamSlots::new(2, 3));
        let (a, b) = (AccountId::new(), AccountId::new());
        let first = slots.take(a);
        let second = slots.take(a);
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(slots.take(a).err(), Some(Over::Account));
        let other = slots.take(b);
        assert!(other.is_ok());
        assert_eq!(slots.take(b).err(), Some(Over::Node));
        drop(first);
        assert!(slots.take(a).is_ok());
        drop((second, other));
        assert_eq!(slots.open(), 0);
    }
}
