//! The outbox dispatcher: delivers queued messages after their transaction committed, with
//! exponential backoff, and gives up after the configured number of attempts. Several API
//! nodes may run it at once; claims keep them from sending a message twice.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use chrono::TimeDelta;
use domain::notice::Message;
use persistence::{outbox, Database, StoreError};
use serde_json::json;
use tokio::sync::watch;

const BATCH: i64 = 50;
const LEASE_SECS: i64 = 60;
const MAX_BACKOFF_SECS: i64 = 3_600;

pub struct Dispatcher {
    db: Database,
    clock: std::sync::Arc<crate::clock::Clock>,
    mailbox: Option<Mutex<PathBuf>>,
    max_attempts: i32,
    poll: Duration,
}

/// Only enough of an address to tell messages apart in a log.
pub fn mask_address(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => {
            let tail: String = address
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("***{tail}")
        }
    }
}

/// When to try again after `attempts` failures: 5 s, 10 s, 20 s… at most an hour.
pub fn backoff(attempts: i32) -> TimeDelta {
    let exponent = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
    TimeDelta::seconds((5_i64 << exponent).min(MAX_BACKOFF_SECS))
}

impl Dispatcher {
    pub fn new(
        db: Database,
        clock: std::sync::Arc<crate::clock::Clock>,
        mailbox: Option<PathBuf>,
        max_attempts: i32,
        poll: Duration,
    ) -> Self {
        Dispatcher {
            db,
            clock,
            mailbox: mailbox.map(Mutex::new),
            max_attempts,
            poll,
        }
    }

    /// Delivers one message: the log channel (never the body, which may hold a code) and,
    /// in development, the mailbox file.
    fn deliver(&self, message: &Message) -> Result<(), String> {
        tracing::info!(
            channel = message.channel.as_str(),
            to = %mask_address(&message.to),
            subject = %message.subject,
            "message delivered to the log channel"
        );
        if let Some(path) = &self.mailbox {
            let path = path.lock().map_err(|_| "mailbox lock poisoned".to_string())?;
            let line = json!({
                "channel": message.channel.as_str(),
                "to": message.to,
                "subject": message.subject,
                "body": message.body,
                "code": message.code,
            });
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&*path)
                .map_err(|e| format!("mailbox {}: {e}", path.display()))?;
            // One write of the whole line: with O_APPEND it lands whole even when several
            // nodes deliver to one mailbox at once (writeln! would write it in pieces).
            file.write_all(format!("{line}\n").as_bytes())
                .map_err(|e| format!("mailbox {}: {e}", path.display()))?;
        }
        Ok(())
    }

    /// Claims and delivers one batch; returns how many were delivered.
    pub fn tick(&self) -> Result<usize, StoreError> {
        let claimed = self
            .db
            .write(|tx| outbox::claim_due(tx, self.clock.now(), BATCH, TimeDelta::seconds(LEASE_SECS)))?;
        let mut delivered = 0;
        for item in claimed {
            match self.deliver(&item.message) {
                Ok(()) => {
                    self.db
                        .write(|tx| outbox::mark_sent(tx, item.id, self.clock.now()))?;
                    delivered += 1;
                }
                Err(error) => {
                    let attempts = item.attempts + 1;
                    let retry_at =
                        (attempts < self.max_attempts).then(|| self.clock.now() + backoff(attempts));
                    tracing::warn!(id = %item.id, attempts, %error, "delivery failed");
                    self.db
                        .write(|tx| outbox::mark_failed(tx, item.id, &error, retry_at))?;
                }
            }
        }
        Ok(delivered)
    }

    /// Polls until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let dispatcher = std::sync::Arc::new(self);
        loop {
            let worker = dispatcher.clone();
            match actix_web::rt::task::spawn_blocking(move || worker.tick()).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::warn!(%error, "outbox tick failed"),
                Err(error) => tracing::error!(%error, "outbox tick panicked"),
            }
            tokio::select! {
                _ = tokio::time::sleep(dispatcher.poll) => {}
                _ = stop.changed() => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked() {
        assert_eq!(mask_address("ivan@example.ru"), "i***@example.ru");
        assert_eq!(mask_address("+79161234567"), "***4567");
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(0), TimeDelta::seconds(5));
        assert_eq!(backoff(1), TimeDelta::seconds(10));
        assert_eq!(backoff(3), TimeDelta::seconds(40));
        assert_eq!(backoff(30), TimeDelta::seconds(3_600));
    }
}
