package cachekey

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Schema is the version of the key schema: the set of inputs and their
// canonical form. It changes whenever the same files would hash differently,
// and it is part of every key's prefix, so keys of different schemas never
// compare equal.
const Schema = 1

// Prefix starts the string form of every key of this schema.
const Prefix = "ck1-"

// keyLen is the number of bytes of the SHA-256 digest that a key keeps:
// 128 bits, short enough for an image tag and far from any collision.
const keyLen = 16

// Key is a dependency cache key. The zero Key is not a valid key.
// Keys are comparable with ==.
type Key struct {
	sum [keyLen]byte
}

// keyOf returns the key of the canonical input text.
func keyOf(canonical []byte) Key {
	full := sha256.Sum256(canonical)
	var k Key
	copy(k.sum[:], full[:keyLen])
	return k
}

// Parse parses the string form of a key, as returned by [Key.String].
func Parse(s string) (Key, error) {
	hexPart, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return Key{}, fmt.Errorf("parsing key %q: want prefix %q", s, Prefix)
	}
	if len(hexPart) != 2*keyLen {
		return Key{}, fmt.Errorf("parsing key %q: want %d hex digits after %q, have %d", s, 2*keyLen, Prefix, len(hexPart))
	}
	if strings.ToLower(hexPart) != hexPart {
		return Key{}, fmt.Errorf("parsing key %q: hex digits must be lower case", s)
	}
	var k Key
	if _, err := hex.Decode(k.sum[:], []byte(hexPart)); err != nil {
		return Key{}, fmt.Errorf("parsing key %q: %w", s, err)
	}
	return k, nil
}

// String returns the key as Prefix followed by 32 lower-case hex digits,
// a form that is valid as an OCI image tag.
func (k Key) String() string {
	return Prefix + hex.EncodeToString(k.sum[:])
}

// IsZero reports whether k is the zero Key.
func (k Key) IsZero() bool { return k == Key{} }

// MarshalText implements [encoding.TextMarshaler].
func (k Key) MarshalText() ([]byte, error) {
	if k.IsZero() {
		return nil, fmt.Errorf("marshalling the zero cache key")
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler].
func (k *Key) UnmarshalText(text []byte) error {
	parsed, err := Parse(string(text))
	if err != nil {
		return err
	}
	*k = parsed
	return nil
}
