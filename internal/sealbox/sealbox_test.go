package sealbox

import (
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	var k1, k2 [32]byte
	k2[0] = 1
	b := New(k1)
	s, err := b.Seal([]byte("secret"), "row 1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Open(s, "row 1"); err != nil || string(got) != "secret" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := b.Open(s, "row 2"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("moved to another row: %v", err)
	}
	if _, err := New(k2).Open(s, "row 1"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("another key: %v", err)
	}
	for _, bad := range []string{"", "!!", "AAAA"} {
		if _, err := b.Open(bad, "row 1"); !errors.Is(err, ErrMalformed) {
			t.Fatalf("open %q: %v", bad, err)
		}
	}
	again, _ := b.Seal([]byte("secret"), "row 1")
	if again == s {
		t.Fatal("two seals of the same secret are equal: the nonce is not random")
	}
}
