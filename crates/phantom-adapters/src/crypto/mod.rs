//! Encryption of secrets at rest, and signing of the OAuth state.

mod state_signer;
mod token_cipher;

pub use state_signer::HmacStateCodec;
pub use token_cipher::{CipherError, TokenCipher};
