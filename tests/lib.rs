//! Kabinet black-box tests live in `http/`; this library target is intentionally empty.
