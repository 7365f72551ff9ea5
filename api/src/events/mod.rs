//! Live events: one bus per node that loads committed events from the database in id
//! order and fans them out to Server-Sent Events streams, resumable with Last-Event-ID.

pub mod admission;
mod bus;
mod listener;
#[cfg(test)]
mod scratch;
mod stream;

pub use admission::StreamSlots;
pub use bus::EventBus;
pub use listener::listen;
pub use stream::{respond, Feed, Gate};
