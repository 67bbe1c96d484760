//! Diesel table definitions, shared by both backends (see `migrations/`).
#![expect(missing_docs, reason = "generated-style table definitions")]

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        timezone -> Text,
        default_event_duration -> Integer,
        google_calendar_token -> Nullable<Text>,
        created_at -> Timestamp,
        google_connected_at -> Nullable<Timestamp>,
        google_needs_reconnect -> Bool,
        google_refresh_lease_until -> Nullable<Timestamp>,
        google_sync_paused_until -> Nullable<Timestamp>,
        sync_due_at -> Nullable<Timestamp>,
        sync_worker -> Nullable<Text>,
        sync_lease_until -> Nullable<Timestamp>,
        google_import_category -> Nullable<BigInt>,
        google_read_due_at -> Nullable<Timestamp>,
        google_sync_token -> Nullable<Text>,
        google_last_read_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    google_revocations (id) {
        id -> BigInt,
        user_id -> BigInt,
        token -> Text,
        attempts -> Integer,
        available_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    oauth_states (nonce) {
        nonce -> Text,
        user_id -> BigInt,
        pkce_verifier -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    categories (id) {
        id -> BigInt,
        user_id -> Nullable<BigInt>,
        name -> Text,
        name_key -> Text,
        priority_level -> Integer,
        color -> Text,
        description -> Text,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        user_id -> BigInt,
        category_id -> BigInt,
        title -> Text,
        description -> Text,
        start_time -> Timestamp,
        end_time -> Timestamp,
        is_flexible -> Bool,
        is_completed -> Bool,
        google_event_id -> Text,
        google_calendar_id -> Nullable<Text>,
        sync_status -> Text,
        sync_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        all_day -> Bool,
        origin -> Text,
        google_etag -> Nullable<Text>,
        recurrence -> Text,
        timezone -> Nullable<Text>,
        series_end -> Nullable<Timestamp>,
    }
}

diesel::table! {
    event_occurrences (series_id, original_start) {
        series_id -> BigInt,
        original_start -> Text,
        user_id -> BigInt,
        title -> Nullable<Text>,
        description -> Nullable<Text>,
        category_id -> Nullable<BigInt>,
        start_time -> Nullable<Timestamp>,
        end_time -> Nullable<Timestamp>,
        is_flexible -> Nullable<Bool>,
        is_completed -> Nullable<Bool>,
        all_day -> Nullable<Bool>,
        cancelled -> Bool,
        updated_at -> Timestamp,
        google_etag -> Nullable<Text>,
    }
}

diesel::table! {
    event_stats (user_id, shard) {
        user_id -> BigInt,
        shard -> Integer,
        event_count -> BigInt,
        longest_secs -> BigInt,
    }
}

diesel::table! {
    blacklisted_tokens (jti) {
        jti -> Text,
        user_id -> BigInt,
        expires_at -> Timestamp,
        blacklisted_at -> Timestamp,
    }
}

diesel::table! {
    sync_outbox (id) {
        id -> BigInt,
        user_id -> BigInt,
        event_id -> BigInt,
        google_event_id -> Text,
        operation -> Text,
        version -> Integer,
        attempts -> Integer,
        available_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        fields -> Integer,
        versions -> Text,
        original_start -> Nullable<Text>,
    }
}

diesel::table! {
    google_tombstones (user_id, google_event_id) {
        user_id -> BigInt,
        google_event_id -> Text,
        event_id -> BigInt,
        deleted_at -> Timestamp,
        google_etag -> Nullable<Text>,
        confirmed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sync_workers (id) {
        id -> Text,
        heartbeat_at -> Timestamp,
        share_per_minute -> Integer,
        users_held -> Integer,
    }
}

diesel::table! {
    google_channels (id) {
        id -> Text,
        user_id -> BigInt,
        resource_id -> Text,
        token_sha256 -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        revocation_id -> Nullable<BigInt>,
    }
}

diesel::joinable!(events -> categories (category_id));
diesel::joinable!(events -> users (user_id));
diesel::joinable!(categories -> users (user_id));
diesel::joinable!(sync_outbox -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    categories,
    events,
    event_occurrences,
    event_stats,
    blacklisted_tokens,
    sync_outbox,
    oauth_states,
    google_revocations,
    google_tombstones,
    google_channels
);
