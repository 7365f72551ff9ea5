//! An application as a caller is shown it: as time has it at `now` (an unanswered
//! request past its due date is `expired`), with its schema warnings and the steps the
//! state machine's own guard allows, so a hint never promises what a transition refuses.

use domain::application::{Application, EventKind, Party};
use domain::catalog::ServicePolicy;
use domain::time::Instant;

use crate::error::FieldProblem;

pub struct Shown {
    pub application: Application,
    pub warnings: Vec<FieldProblem>,
    /// What the applicant can do next.
    pub next_steps: Vec<EventKind>,
}

impl Shown {
    pub fn new(
        application: Application,
        warnings: Vec<FieldProblem>,
        policy: &ServicePolicy,
        now: Instant,
    ) -> Shown {
        let application = application.at(now);
        let next_steps = application.next_steps(Party::Applicant, policy, now);
        Shown {
            application,
            warnings,
            next_steps,
        }
    }
}
