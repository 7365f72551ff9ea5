//! The diesel schema, one for both backends: only types the combined backend supports
//! (ids and JSON as TEXT, times as UTC TIMESTAMP).

diesel::table! {
    accounts (id) {
        id -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        display_name -> Text,
        roles -> Text,
        agency_code -> Nullable<Text>,
        level -> Text,
        password_hash -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
    }
}

diesel::table! {
    account_logins (login_key) {
        login_key -> Text,
        account_id -> Text,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        id -> Text,
        occurred_at -> Timestamp,
        actor_id -> Nullable<Text>,
        on_behalf_of -> Nullable<Text>,
        action -> Text,
        target_type -> Text,
        target_id -> Nullable<Text>,
        details -> Text,
        ip -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        recipient_id -> Text,
        kind -> Text,
        title -> Text,
        body -> Text,
        data -> Text,
        important -> Bool,
        created_at -> Timestamp,
        read_at -> Nullable<Timestamp>,
        acknowledged_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        created_at -> Timestamp,
        notification_id -> Nullable<Text>,
        channel -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        code -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(account_logins -> accounts (account_id));
diesel::joinable!(notifications -> accounts (recipient_id));
diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    account_logins,
    audit_log,
    audit_head,
    notifications,
    outbox,
);
