//! What the product tells people: a notice becomes an in-app notification and, per the
//! recipient's preferences, outbox messages for e-mail, SMS or push — all in one transaction.

use serde_json::Value;

use crate::ids::AccountId;

/// A delivery channel for outbox messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Sms,
    Push,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Push];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A notice for one account: shown in-app and sent on the given channels.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub recipient: AccountId,
    /// Machine type, e.g. `security.new_ip`; preferences are kept per kind.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub data: Value,
    /// Important notices are re-sent as reminders when unread for a day.
    pub important: bool,
}

/// A message for an address that may not belong to any account yet (a one-time code sent
/// to a new phone number, say).
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub channel: Channel,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// A one-time code carried by the message, kept apart so the development mailbox can
    /// expose it to tests and so logs can leave it out.
    pub code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_round_trip_through_their_names() {
        for channel in Channel::ALL {
            assert_eq!(Channel::parse(channel.as_str()), Some(channel));
        }
        assert_eq!(Channel::parse("pigeon"), None);
    }
}
