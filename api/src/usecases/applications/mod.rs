//! Application use cases: loading one for a caller, firing the state machine's events,
//! drafts (and the representative's daily limit), the checks some events need, and reads.

pub mod checks;
pub mod drafts;
pub mod load;
pub mod reads;
pub mod refusals;
pub mod transition;

pub mod shown;

pub use checks::{precheck, unasked_change, Parts};
pub use drafts::{
    change_form, copy, create, hold_over_daily_limit, save_draft, start_draft, Drafting, NewDraft, NewForm,
    Started,
};
pub use load::{facts, load, visible};
pub use refusals::refused;
pub use shown::Shown;
pub use transition::{fire, fire_as, status_notice, store_step, Fire};
