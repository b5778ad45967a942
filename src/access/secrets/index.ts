// Public surface of Strata's secrets crypto core: a versioned master keyring and envelope
// AES-256-GCM (NIST SP 800-38D) for per-project secret values. No storage, no HTTP: the secrets
// service stores `SealedValue`s and calls `seal` / `open` / `rewrap`. The raw GCM primitive
// (gcm.ts) is deliberately not exported: only the envelope chooses IVs.
export {
  Keyring,
  KEYRING_FORMAT,
  MASTER_KEY_BYTES,
  MASTER_KEY_ENV,
  MASTER_KEY_FILE_ENV,
  MASTER_KEY_FILENAME,
  loadKeyring,
  masterKeyPath,
  persistKeyring,
  rotate,
  setMinDecryptionVersion,
} from './keyring.ts';
export type { KeyringSource, LoadKeyringOptions, LoadedKeyring } from './keyring.ts';
export { UNDECRYPTABLE_MESSAGE, open, rewrap, seal } from './envelope.ts';
export type { SealedInput, SealedValue, SecretContext } from './envelope.ts';
