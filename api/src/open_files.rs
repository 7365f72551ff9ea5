//! The node's open-files limit. Every event stream holds a socket, so a node left at a
//! distribution's default soft limit (often 1,024) runs out of descriptors long before its
//! cores are busy, and then cannot even accept connections. At start the soft limit is
//! raised to the hard limit where the platform allows, and the node's stream cap is kept
//! below what the limit leaves room for.

/// Descriptors kept out of the stream cap: the database pool, staging files, the
/// listener, logs and the requests that are not streams.
const RESERVED: u64 = 256;

/// Raises the soft open-files limit to the hard one where it can; answers the soft limit
/// in force, or `None` where the platform has none or it cannot be read.
pub fn raise() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => Some(limit),
            Err(error) => {
                tracing::warn!(%error, "cannot raise the open-files limit; keeping the current one");
                rlimit::getrlimit(rlimit::Resource::NOFILE)
                    .ok()
                    .map(|(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The node's stream cap: the configured one, lowered so that streams leave `RESERVED`
/// descriptors free under `limit` (at least one stream either way).
pub fn stream_cap(configured: usize, limit: Option<u64>) -> usize {
    let Some(limit) = limit else {
        return configured;
    };
    let room = usize::try_from(limit.saturating_sub(RESERVED)).unwrap_or(usize::MAX);
    configured.min(room).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_for_everything_else() {
        assert_eq!(stream_cap(10_000, Some(1024)), 768);
        assert_eq!(stream_cap(10_000, Some(1_048_576)), 10_000);
        assert_eq!(stream_cap(10_000, None), 10_000);
        assert_eq!(stream_cap(10_000, Some(10)), 1);
    }
}
