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
        surname -> Nullable<Text>,
        given_name -> Nullable<Text>,
        patronymic -> Nullable<Text>,
        birth_date -> Nullable<Date>,
        snils_enc -> Nullable<Text>,
        inn_enc -> Nullable<Text>,
        passport_enc -> Nullable<Text>,
        totp_secret_enc -> Nullable<Text>,
        totp_enabled -> Bool,
        totp_last_step -> Nullable<BigInt>,
        ip_allow_list -> Nullable<Text>,
        email_proven -> Bool,
        phone_proven -> Bool,
        snils_claim -> Nullable<Text>,
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
    }
}

diesel::table! {
    audit_leaves (leaf_index) {
        leaf_index -> BigInt,
        seq -> BigInt,
    }
}

diesel::table! {
    audit_unsealed (seq) {
        seq -> BigInt,
        txid -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_nodes (level, idx) {
        level -> Integer,
        idx -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    audit_checkpoints (tree_size) {
        tree_size -> BigInt,
        root_hash -> Text,
        signed_at -> Timestamp,
        kid -> Text,
        signature -> Text,
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

diesel::table! {
    sessions (id) {
        id -> Text,
        account_id -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        amr -> Text,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        created_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    recovery_codes (code_hash) {
        code_hash -> Text,
        account_id -> Text,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    one_time_codes (id) {
        id -> Text,
        account_id -> Text,
        purpose -> Text,
        code_hash -> Text,
        target -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        attempts -> Integer,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    known_ips (account_id, ip) {
        account_id -> Text,
        ip -> Text,
        first_seen_at -> Timestamp,
    }
}

diesel::joinable!(account_logins -> accounts (account_id));
diesel::joinable!(sessions -> accounts (account_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(notifications -> accounts (recipient_id));
diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    account_logins,
    audit_log,
    audit_leaves,
    audit_unsealed,
    audit_nodes,
    audit_checkpoints,
    notifications,
    outbox,
    sessions,
    refresh_tokens,
    recovery_codes,
    one_time_codes,
    known_ips,
);

diesel::table! {
    agencies (code) {
        code -> Text,
        name -> Text,
        level -> Text,
        region -> Nullable<Text>,
    }
}

diesel::table! {
    services (code) {
        code -> Text,
        name_ru -> Text,
        name_en -> Text,
        description -> Text,
        level -> Text,
        region -> Nullable<Text>,
        agency_code -> Text,
        form_schema -> Text,
        required_documents -> Text,
        allowed_file_types -> Text,
        max_file_bytes -> BigInt,
        processing_days -> Integer,
        editable_after_submit -> Bool,
        cancellable_in_review -> Bool,
        co_applicants_allowed -> Bool,
        appeal_window_days -> Integer,
        restore_window_days -> Integer,
        fee_kopecks -> BigInt,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        forward_to -> Text,
        file_fills_several_papers -> Bool,
    }
}

diesel::table! {
    applications (id) {
        id -> Text,
        number -> Nullable<Text>,
        owner_id -> Text,
        service_code -> Text,
        agency_code -> Text,
        status -> Text,
        previous_status -> Nullable<Text>,
        in_queue -> Bool,
        form_data -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        submitted_at -> Nullable<Timestamp>,
        decided_at -> Nullable<Timestamp>,
        cancelled_at -> Nullable<Timestamp>,
        info_request -> Nullable<Text>,
        info_due_at -> Nullable<Timestamp>,
        appeal_used -> Bool,
        rejection_reason -> Nullable<Text>,
        result_note -> Nullable<Text>,
        search_text -> Text,
        signers -> Text,
        signed_hash -> Nullable<Text>,
        route -> Text,
        appeal_until -> Nullable<Timestamp>,
        restore_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    application_history (id) {
        id -> Text,
        application_id -> Text,
        seq -> Integer,
        occurred_at -> Timestamp,
        actor_id -> Nullable<Text>,
        on_behalf_of -> Nullable<Text>,
        event -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        agency_code -> Text,
        comment -> Nullable<Text>,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (account_id, idempotency_key) {
        account_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        status -> Integer,
        body -> Text,
        created_at -> Timestamp,
        etag -> Nullable<Text>,
        location -> Nullable<Text>,
    }
}

diesel::table! {
    templates (id) {
        id -> Text,
        owner_id -> Text,
        name -> Text,
        service_code -> Text,
        form_data -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(services -> agencies (agency_code));
diesel::joinable!(applications -> services (service_code));
diesel::joinable!(application_history -> applications (application_id));
diesel::allow_tables_to_appear_in_same_query!(
    agencies,
    application_assignments,
    services,
    applications,
    application_history,
    counters,
    idempotency_keys,
    templates,
    accounts,
);

// A session is read with the application a request asks for (`applications::find_with_session`).
diesel::allow_tables_to_appear_in_same_query!(sessions, applications);
diesel::allow_tables_to_appear_in_same_query!(sessions, services);
// ... and with whether anyone joined it (`exists`, checked against the whole join).
diesel::allow_tables_to_appear_in_same_query!(participants, sessions);
diesel::allow_tables_to_appear_in_same_query!(participants, services);
diesel::allow_tables_to_appear_in_same_query!(participants, accounts);
diesel::allow_tables_to_appear_in_same_query!(participants, applications);

diesel::table! {
    delegations (id) {
        id -> Text,
        number -> Text,
        principal_id -> Text,
        representative_id -> Text,
        parent_id -> Nullable<Text>,
        kind -> Text,
        actions -> Text,
        services -> Nullable<Text>,
        valid_from -> Timestamp,
        valid_until -> Timestamp,
        status -> Text,
        redelegation_allowed -> Bool,
        code_hash -> Text,
        code_attempts -> Integer,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        ended_at -> Nullable<Timestamp>,
        reminded_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    delegation_events (id) {
        id -> Text,
        delegation_id -> Text,
        seq -> Integer,
        occurred_at -> Timestamp,
        actor_id -> Nullable<Text>,
        event -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        details -> Text,
    }
}

diesel::table! {
    delegation_term_changes (id) {
        id -> Text,
        delegation_id -> Text,
        valid_from -> Timestamp,
        valid_until -> Timestamp,
        requested_by -> Text,
        principal_confirmed -> Bool,
        representative_confirmed -> Bool,
        status -> Text,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    confirmations (id) {
        id -> Text,
        principal_id -> Text,
        representative_id -> Text,
        delegation_id -> Text,
        action -> Text,
        payload -> Text,
        status -> Text,
        result -> Nullable<Text>,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    delegations,
    delegation_events,
    delegation_term_changes,
    confirmations,
);

diesel::table! {
    organisations (account_id) {
        account_id -> Text,
        ogrn -> Text,
        inn -> Text,
        kpp -> Nullable<Text>,
        name -> Text,
        head_account_id -> Text,
        created_at -> Timestamp,
        status -> Text,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        rejection_reason -> Nullable<Text>,
    }
}

diesel::table! {
    organisation_employees (organisation_id, account_id) {
        organisation_id -> Text,
        account_id -> Text,
        added_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(organisations, organisation_employees);

diesel::table! {
    blobs (sha256) {
        sha256 -> Text,
        size_bytes -> BigInt,
        touched_at -> Timestamp,
    }
}

diesel::table! {
    documents (id) {
        id -> Text,
        owner_id -> Text,
        uploaded_by -> Text,
        name -> Text,
        doc_type -> Text,
        file_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        access_level -> Text,
        access_services -> Nullable<Text>,
        retain_until -> Nullable<Date>,
        retention_notified -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> Text,
        application_id -> Text,
        document_id -> Text,
        doc_type -> Text,
        name -> Text,
        file_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        revision -> BigInt,
        supersedes -> Nullable<Text>,
        attached_by -> Text,
        created_at -> Timestamp,
        frozen_at -> Nullable<Timestamp>,
        superseded_at -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(blobs, documents, attachments);

diesel::table! {
    participants (application_id, account_id) {
        application_id -> Text,
        account_id -> Text,
        role -> Text,
        added_by -> Text,
        added_at -> Timestamp,
        invited_on_behalf_of -> Nullable<Text>,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        application_id -> Text,
        role -> Text,
        login_key -> Text,
        contact_hint -> Text,
        invited_by -> Text,
        status -> Text,
        answered_by -> Nullable<Text>,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        answered_at -> Nullable<Timestamp>,
        version -> BigInt,
        invited_on_behalf_of -> Nullable<Text>,
    }
}

diesel::table! {
    application_assignments (application_id) {
        application_id -> Text,
        officer_id -> Text,
        assigned_at -> Timestamp,
    }
}

diesel::table! {
    signatures (id) {
        id -> Text,
        application_id -> Text,
        account_id -> Text,
        role -> Text,
        content_hash -> Text,
        application_version -> BigInt,
        method -> Text,
        signed_at -> Timestamp,
    }
}

diesel::table! {
    participant_requests (id) {
        id -> Text,
        application_id -> Text,
        kind -> Text,
        requested_by -> Text,
        assignee_id -> Text,
        doc_type -> Nullable<Text>,
        message -> Nullable<Text>,
        due_at -> Timestamp,
        status -> Text,
        reminded -> Bool,
        created_at -> Timestamp,
        fulfilled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    comments (id) {
        id -> Text,
        application_id -> Text,
        author_id -> Text,
        on_behalf_of -> Nullable<Text>,
        body -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        edited_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    comment_revisions (comment_id, version) {
        comment_id -> Text,
        version -> BigInt,
        body -> Text,
        written_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    participants,
    invitations,
    signatures,
    participant_requests,
    comments,
    comment_revisions,
    account_logins
);

diesel::table! {
    events (id) {
        id -> BigInt,
        application_id -> Text,
        kind -> Text,
        data -> Text,
        created_at -> Timestamp,
        service_code -> Nullable<Text>,
    }
}

diesel::table! {
    event_audience (account_id, event_id) {
        account_id -> Text,
        event_id -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(events, event_audience);

diesel::table! {
    rate_limits (key) {
        key -> Text,
        tat -> Timestamp,
    }
}

diesel::table! {
    node_keys (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    secret_attempts (key) {
        key -> Text,
        failures -> Integer,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    spent_tokens (jti) {
        jti -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    stream_tickets (ticket_hash) {
        ticket_hash -> Text,
        session_id -> Text,
        account_id -> Text,
        on_behalf_of -> Nullable<Text>,
        stream -> Text,
        mfa -> Bool,
        token_expires_at -> Timestamp,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}
