use std::sync::Arc;

use crate::error::{AccountError, RepoError};
use crate::ids::UserId;
use crate::ports::{
    CategoryRepository, Clock, PasswordHasher, RefreshTokenBlacklist, TokenClaims, TokenCodec,
    TokenKind, TokenPair, UserRepository,
};
use crate::user::{NewUser, Preferences, PreferencesPatch, Registration, User};
use crate::validation::FieldErrors;

/// Registration, login, JWT refresh/verify/logout, and preferences.
#[derive(Clone)]
pub struct AccountService {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenCodec>,
    blacklist: Arc<dyn RefreshTokenBlacklist>,
    categories: Arc<dyn CategoryRepository>,
    clock: Arc<dyn Clock>,
}

impl AccountService {
    /// Wires the service to its ports.
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenCodec>,
        blacklist: Arc<dyn RefreshTokenBlacklist>,
        categories: Arc<dyn CategoryRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            hasher,
            tokens,
            blacklist,
            categories,
            clock,
        }
    }

    /// Validates and stores a new user; the password is kept only as a hash.
    pub async fn register(&self, registration: Registration) -> Result<User, AccountError> {
        let valid = registration.validate()?;
        let taken = || FieldErrors::single("username", "A user with that username already exists.");
        // Answer a taken name before paying for a hash; the unique index still settles races.
        if self
            .users
            .find_credentials(&valid.username)
            .await?
            .is_some()
        {
            return Err(taken().into());
        }
        let password_hash = self
            .hasher
            .hash(valid.password)
            .await
            .map_err(AccountError::Internal)?;
        let new_user = NewUser {
            username: valid.username,
            email: valid.email,
            name: valid.name,
            preferences: valid.preferences,
            password_hash,
            created_at: self.clock.now(),
        };
        match self.users.create(new_user).await {
            Err(RepoError::Conflict(_)) => Err(taken().into()),
            other => Ok(other?),
        }
    }

    /// Checks the credentials and issues an access and a refresh token.
    ///
    /// An unknown username costs the same hashing work as a wrong password.
    pub async fn login(&self, username: &str, password: &str) -> Result<TokenPair, AccountError> {
        let credentials = self.users.find_credentials(username).await?;
        let hash = credentials.as_ref().map(|c| c.password_hash.clone());
        let matches = self
            .hasher
            .verify(password.to_owned(), hash)
            .await
            .map_err(AccountError::Internal)?;
        match credentials {
            Some(c) if matches => self.issue_pair(c.user.id),
            _ => Err(AccountError::InvalidCredentials),
        }
    }

    /// A new access token for a valid, not blacklisted refresh token.
    pub async fn refresh(&self, refresh: &str) -> Result<String, AccountError> {
        let claims = self.live_refresh(refresh).await?;
        self.tokens
            .issue(claims.user_id, TokenKind::Access)
            .map_err(AccountError::Internal)
    }

    /// Succeeds for any valid token, access or refresh (a blacklisted refresh token fails).
    pub async fn verify(&self, token: &str) -> Result<(), AccountError> {
        let claims = self
            .tokens
            .decode(token, None)
            .ok_or(AccountError::InvalidToken)?;
        if claims.kind == TokenKind::Refresh && self.blacklist.is_blacklisted(&claims.jti).await? {
            return Err(AccountError::InvalidToken);
        }
        Ok(())
    }

    /// Blacklists `refresh`, which must be a valid refresh token of `user` and not yet
    /// blacklisted (as simplejwt, a second logout with it is refused).
    pub async fn logout(&self, user: UserId, refresh: &str) -> Result<(), AccountError> {
        let claims = self.live_refresh(refresh).await?;
        if claims.user_id != user {
            return Err(AccountError::InvalidToken);
        }
        self.blacklist
            .blacklist(&claims.jti, user, claims.expires_at)
            .await?;
        Ok(())
    }

    /// The claims of `refresh`, a valid refresh token that is not blacklisted.
    async fn live_refresh(&self, refresh: &str) -> Result<TokenClaims, AccountError> {
        let claims = self
            .tokens
            .decode(refresh, Some(TokenKind::Refresh))
            .ok_or(AccountError::InvalidToken)?;
        if self.blacklist.is_blacklisted(&claims.jti).await? {
            return Err(AccountError::InvalidToken);
        }
        Ok(claims)
    }

    /// The user an access token belongs to.
    pub fn authenticate(&self, access: &str) -> Result<UserId, AccountError> {
        self.tokens
            .decode(access, Some(TokenKind::Access))
            .map(|c| c.user_id)
            .ok_or(AccountError::InvalidToken)
    }

    /// The user with this id.
    pub async fn user(&self, id: UserId) -> Result<User, AccountError> {
        self.users.find(id).await?.ok_or(AccountError::UserNotFound)
    }

    /// Validates and applies a preferences change.
    pub async fn update_preferences(
        &self,
        id: UserId,
        patch: PreferencesPatch,
    ) -> Result<Preferences, AccountError> {
        let current = self.user(id).await?.preferences;
        let checked = patch.apply_to(current);
        let mut errors = checked.as_ref().err().cloned().unwrap_or_default();
        if let Some(Some(category)) = patch.google_import_category
            && self.categories.find_visible(id, category).await?.is_none()
        {
            errors.add(
                "google_import_category",
                format!("Invalid pk \"{category}\" - object does not exist."),
            );
        }
        errors.into_result()?;
        let next = checked?;
        let user = self
            .users
            .update_preferences(id, next)
            .await?
            .ok_or(AccountError::UserNotFound)?;
        Ok(user.preferences)
    }

    fn issue_pair(&self, user: UserId) -> Result<TokenPair, AccountError> {
        let issue = |kind| {
            self.tokens
                .issue(user, kind)
                .map_err(AccountError::Internal)
        };
        Ok(TokenPair {
            access: issue(TokenKind::Access)?,
            refresh: issue(TokenKind::Refresh)?,
        })
    }
}
