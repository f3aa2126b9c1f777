"""Encryption at rest for credentials (access and refresh tokens, API keys).

Layer: infrastructure. `MultiFernet` over `ENCRYPTION_KEYS`: the first key encrypts, every key
decrypts, so keys rotate by prepending a new one (`kizuna keys rotate` re-encrypts). Plaintext
tokens exist only in memory; they are never logged.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class TokenCipher:
    def __init__(self, keys: tuple[str, ...]) -> None:
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken as error:
            raise ValueError(
                "stored credential cannot be decrypted with ENCRYPTION_KEYS"
            ) from error

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt under the first key."""
        try:
            return self._fernet.rotate(ciphertext)
        except InvalidToken as error:
            raise ValueError(
                "stored credential cannot be decrypted with ENCRYPTION_KEYS"
            ) from error
