//! The credit ledger: entries only ever appended (a trigger refuses updates and
//! deletes), each against one lot (a paid purchase). A balance is the sum of entries.

use fitsync_events::{CloudEvent, CreditChanged, Topic, CREDIT_CHANGED_V1};
use fitsync_platform::{outbox, ApiError};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::SOURCE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    Purchase,
    Consume,
    Refund,
    Forfeit,
    Expire,
}

impl Entry {
    fn as_str(self) -> &'static str {
        match self {
            Entry::Purchase => "purchase",
            Entry::Consume => "consume",
            Entry::Refund => "refund",
            Entry::Forfeit => "forfeit",
            Entry::Expire => "expire",
        }
    }
}

/// A client's balance with an owner: the sum of the ledger.
pub(crate) async fn balance(
    db: impl sqlx::PgExecutor<'_>,
    client: Uuid,
    owner: Uuid,
) -> Result<i64, ApiError> {
    Ok(sqlx::query_scalar!(
        r#"select coalesce(sum(amount), 0)::bigint as "n!" from credit_ledger
           where client_id = $1 and owner_id = $2"#,
        client,
        owner
    )
    .fetch_one(db)
    .await?)
}

/// Appends an entry against a lot, and its event with the balance it leaves.
pub(crate) async fn append(
    conn: &mut PgConnection,
    client: Uuid,
    owner: Uuid,
    lot: Uuid,
    booking: Option<Uuid>,
    kind: Entry,
    amount: i32,
) -> Result<(), ApiError> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "insert into credit_ledger (id, client_id, owner_id, purchase_id, booking_id, kind, amount)
         values ($1, $2, $3, $4, $5, $6, $7)",
        id,
        client,
        owner,
        lot,
        booking,
        kind.as_str(),
        amount
    )
    .execute(&mut *conn)
    .await?;
    let balance = balance(&mut *conn, client, owner).await?;
    let event = CloudEvent::new(
        SOURCE,
        CREDIT_CHANGED_V1,
        client.to_string(),
        CreditChanged {
            entry_id: id,
            client_id: client,
            owner_id: owner,
            purchase_id: lot,
            booking_id: booking,
            kind: kind.as_str().to_owned(),
            amount,
            balance,
        },
    );
    outbox::enqueue(conn, Topic::Schedule, &event).await?;
    Ok(())
}

/// Pays for a booking from the client's lots with the owner: the one expiring first that
/// holds enough. The lots are locked, so two bookings never spend one credit twice.
pub(crate) async fn consume(
    conn: &mut PgConnection,
    client: Uuid,
    owner: Uuid,
    credits: i32,
    booking: Uuid,
) -> Result<Uuid, ApiError> {
    let lots = sqlx::query_scalar!(
        "select id from purchases
         where client_id = $1 and owner_id = $2 and status = 'paid' and expires_at > now()
         order by expires_at, id for update",
        client,
        owner
    )
    .fetch_all(&mut *conn)
    .await?;
    let remaining = sqlx::query!(
        r#"select purchase_id, sum(amount)::bigint as "remaining!" from credit_ledger
           where purchase_id = any($1) group by purchase_id"#,
        &lots
    )
    .fetch_all(&mut *conn)
    .await?;
    let lot = lots.into_iter().find(|lot| {
        remaining
            .iter()
            .any(|r| r.purchase_id == *lot && r.remaining >= i64::from(credits))
    });
    let Some(lot) = lot else {
        return Err(ApiError::Conflict(format!(
            "not enough credits: this session costs {credits}; buy a package"
        )));
    };
    append(
        conn,
        client,
        owner,
        lot,
        Some(booking),
        Entry::Consume,
        -credits,
    )
    .await?;
    sqlx::query!(
        "update bookings set charged_purchase_id = $2, charged_credits = $3 where id = $1",
        booking,
        lot,
        credits
    )
    .execute(&mut *conn)
    .await?;
    Ok(lot)
}

/// Settles what a booking was charged when it ends without the session: given back
/// (`refund`), or kept (`forfeit`, a late cancel or a no-show).
pub(crate) async fn settle(
    conn: &mut PgConnection,
    booking: Uuid,
    refund: bool,
) -> Result<(), ApiError> {
    let charged = sqlx::query!(
        "select b.client_id, p.owner_id, b.charged_purchase_id as \"lot!\", b.charged_credits
         from bookings b join purchases p on p.id = b.charged_purchase_id
         where b.id = $1 and b.charged_credits > 0",
        booking
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(c) = charged {
        let (kind, amount) = if refund {
            (Entry::Refund, c.charged_credits)
        } else {
            (Entry::Forfeit, 0)
        };
        append(
            conn,
            c.client_id,
            c.owner_id,
            c.lot,
            Some(booking),
            kind,
            amount,
        )
        .await?;
    }
    Ok(())
}
