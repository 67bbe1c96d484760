//! Credentials: Argon2id password hashing and HS256 JWTs.

mod jwt;
mod password;

pub use jwt::JwtCodec;
pub use password::Argon2Hasher;
