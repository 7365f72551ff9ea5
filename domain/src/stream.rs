//! Which live-event stream a caller watches: the caller's own, or one application's. A
//! stream ticket is good for exactly one of them.

use crate::ids::ApplicationId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventStream {
    /// The events addressed to the caller (or the principal it acts for).
    Mine,
    /// Everything that happens to one application.
    Application(ApplicationId),
}

impl EventStream {
    /// A stable text form, as stored with a ticket.
    pub fn key(&self) -> String {
        match self {
            EventStream::Mine => "me".into(),
            EventStream::Application(id) => format!("application:{id}"),
        }
    }

    pub fn from_key(key: &str) -> Option<EventStream> {
        match key.split_once(':') {
            None if key == "me" => Some(EventStream::Mine),
            Some(("application", id)) => id.parse().ok().map(EventStream::Application),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_as_the_same_stream() {
        let application = EventStream::Application(ApplicationId::new());
        for stream in [EventStream::Mine, application] {
            assert_eq!(EventStream::from_key(&stream.key()), Some(stream));
        }
        assert_eq!(EventStream::from_key("application:nope"), None);
        assert_eq!(EventStream::from_key("mine"), None);
    }
}
