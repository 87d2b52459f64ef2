// Package replication is the account-protection engine: it turns a directory
// tree into content-defined chunks (FastCDC), names each chunk by a keyed
// BLAKE3 hash of its plaintext, stores chunks compressed (zstd) and encrypted
// (AES-256-GCM) in a ChunkStore, describes the tree in a versioned Manifest,
// and restores a Manifest into place atomically through a staging directory.
//
// The package knows nothing of HTTP, the database or the object-store
// backends: callers adapt their storage to the small ChunkStore interface.
package replication
