//! An officer (or admin) confirming a citizen's identity: `standard` becomes `confirmed`.

use domain::access::{authorize, Action, Resource};
use domain::account::{AccountLevel, ConfirmationRefused};
use domain::ids::AccountId;
use domain::notice::Notice;
use domain::time::Instant;
use persistence::{accounts, DbConnection};
use serde_json::json;

use super::load;
use crate::error::ApiError;
use crate::usecases::Acting;
use crate::usecases::{Effects, Outcome};

pub fn confirm(
    tx: &mut DbConnection,
    who: &Acting,
    target: AccountId,
    now: Instant,
) -> Result<Outcome<AccountLevel>, ApiError> {
    authorize(
        &who.subject,
        Action::AccountsConfirmIdentity,
        &Resource::Account(target),
        now,
    )?;
    let account = load(tx, target)?;
    let level = account.level.confirm().map_err(|refused| match refused {
        ConfirmationRefused::AlreadyConfirmed => {
            ApiError::conflict("already_confirmed", "This identity is confirmed already.")
        }
        ConfirmationRefused::DocumentsMissing => ApiError::conflict(
            "documents_missing",
            "The account needs a passport and SNILS (level standard) before confirmation.",
        ),
    })?;
    accounts::set_level(tx, target, level, now)?;
    // The SNILS it claimed becomes its login now that an officer saw the person; anyone
    // else who typed that SNILS into an unconfirmed account loses the claim.
    let mut released = Effects::none();
    if let Some(index) = account.snils_claim.as_deref() {
        let key = domain::login::snils_key(index);
        let Some(others) = accounts::prove_snils(tx, target, index, &key, now)? else {
            return Err(ApiError::conflict(
                "snils_taken",
                "This SNILS belongs to another confirmed account; the identity cannot be confirmed with it.",
            ));
        };
        released = super::proofs::released(&others, "СНИЛС");
    }
    let notice = Notice {
        recipient: target,
        kind: "account.confirmed".into(),
        title: "Личность подтверждена".into(),
        body:
            "Ваша учётная запись подтверждена: теперь вы можете подавать заявления и выдавать доверенности."
                .into(),
        data: json!({}),
        important: false,
    };
    let entry = who.audit("account.confirm_identity", "account").target(target);
    Ok(Outcome::new(
        level,
        Effects::none().notice(notice).audit(entry).and(released),
    ))
}
