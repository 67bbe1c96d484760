//! Watch channels (push notifications) in the database, and read requests they bring.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use phantom_domain::google::Secret;
use phantom_domain::google_changes::OpenChannel;
use phantom_domain::ids::UserId;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AnyConnection;
use super::events::mark_due;
use super::schema::{google_channels as ch, users};
use super::time::{from_db, to_db};

/// The form a channel token is kept in: its SHA-256, hex.
fn digest(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

type ChannelRow = (String, String, NaiveDateTime);

fn open_channel((id, resource_id, expires_at): ChannelRow) -> OpenChannel {
    OpenChannel {
        id,
        resource_id,
        expires_at: from_db(expires_at),
    }
}

/// The user's channels (not those handed to a revocation), soonest to expire first.
pub(super) fn of_user(c: &mut AnyConnection, user: UserId) -> QueryResult<Vec<OpenChannel>> {
    let rows: Vec<ChannelRow> = ch::table
        .filter(ch::user_id.eq(user.0))
        .filter(ch::revocation_id.is_null())
        .order((ch::expires_at, ch::id))
        .select((ch::id, ch::resource_id, ch::expires_at))
        .load(c)?;
    Ok(rows.into_iter().map(open_channel).collect())
}

/// The channels to stop before the revocation `revocation` (see [`hand_over`]).
pub(super) fn of_revocation(
    c: &mut AnyConnection,
    revocation: i64,
) -> QueryResult<Vec<OpenChannel>> {
    let rows: Vec<ChannelRow> = ch::table
        .filter(ch::revocation_id.eq(revocation))
        .order(ch::id)
        .select((ch::id, ch::resource_id, ch::expires_at))
        .load(c)?;
    Ok(rows.into_iter().map(open_channel).collect())
}

/// Hands the user's channels to the revocation of their token, which stops them before it
/// revokes the token; from now on their notifications count no more.
pub(super) fn hand_over(c: &mut AnyConnection, user: UserId, revocation: i64) -> QueryResult<()> {
    diesel::update(
        ch::table
            .filter(ch::user_id.eq(user.0))
            .filter(ch::revocation_id.is_null()),
    )
    .set(ch::revocation_id.eq(revocation))
    .execute(c)
    .map(drop)
}

/// Keeps a channel just opened, unless the user disconnected meanwhile (then `false`: the
/// channel must be stopped). Run in a transaction: the user's row stays locked until it ends
/// (on PostgreSQL; SQLite's one writer serialises writes anyway), so a disconnect either
/// happened before and is seen here, or waits and hands this channel over with the others.
pub(super) fn keep(
    c: &mut AnyConnection,
    user: UserId,
    channel: &OpenChannel,
    token: &Secret,
) -> QueryResult<bool> {
    let query = users::table
        .find(user.0)
        .select(users::google_calendar_token.is_not_null());
    let connected: Option<bool> = match c {
        AnyConnection::Postgresql(c) => query.for_update().first(c).optional()?,
        AnyConnection::Sqlite(c) => query.first(c).optional()?,
    };
    if connected != Some(true) {
        return Ok(false);
    }
    diesel::insert_into(ch::table)
        .values((
            ch::id.eq(&channel.id),
            ch::user_id.eq(user.0),
            ch::resource_id.eq(&channel.resource_id),
            ch::token_sha256.eq(digest(token.expose())),
            ch::expires_at.eq(to_db(channel.expires_at)),
            ch::created_at.eq(to_db(Utc::now())),
        ))
        .execute(c)?;
    Ok(true)
}

/// Forgets a channel.
pub(super) fn forget(c: &mut AnyConnection, id: &str) -> QueryResult<()> {
    diesel::delete(ch::table.find(id)).execute(c).map(drop)
}

/// The owner of the live channel `id` if `token` is its token. Unknown, expired and
/// handed-over channels and wrong tokens answer the same; the digest comparison runs in constant time.
pub(super) fn owner(
    c: &mut AnyConnection,
    id: &str,
    token: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<UserId>> {
    let row: Option<(i64, String)> = ch::table
        .find(id)
        .filter(ch::expires_at.gt(now))
        .filter(ch::revocation_id.is_null())
        .select((ch::user_id, ch::token_sha256))
        .first(c)
        .optional()?;
    let offered = digest(token);
    Ok(row.and_then(|(user, kept)| {
        bool::from(offered.as_bytes().ct_eq(kept.as_bytes())).then_some(UserId(user))
    }))
}

/// Asks for a read of the user's calendar now, and one more if a read is running: the due mark
/// always moves to `now`, so a running read, which ends by setting the next mark only where it
/// still finds the one it started from, leaves this one due (its page may have been made
/// before the change that was notified). One not yet started is still due, at `now`.
pub(super) fn request_read(
    c: &mut AnyConnection,
    user: UserId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        users::table
            .find(user.0)
            .filter(users::google_calendar_token.is_not_null()),
    )
    .set(users::google_read_due_at.eq(now))
    .execute(c)?;
    mark_due(c, user.0, now)
}
