package tlsutil

import (
	"bytes"
	"testing"
)

// A re-issued server certificate (new names) keeps the server's key, so a
// pin of the public key stays valid; a restart re-issues nothing.
func TestReissueKeepsKey(t *testing.T) {
	dir := t.TempDir()
	spki := func(m *Material) []byte { return m.Config.Certificates[0].Leaf.RawSubjectPublicKeyInfo }
	first, err := LoadOrCreate(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreate(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Config.Certificates[0].Leaf.Raw, first.Config.Certificates[0].Leaf.Raw) {
		t.Error("restart: got a new certificate, want the same")
	}
	renamed, err := LoadOrCreate(dir, []string{"panel.example.com", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	leaf := renamed.Config.Certificates[0].Leaf
	if leaf.VerifyHostname("panel.example.com") != nil {
		t.Fatalf("new name: got a certificate for %v, want panel.example.com in it", leaf.DNSNames)
	}
	if !bytes.Equal(spki(renamed), spki(first)) {
		t.Error("re-issued certificate: got a new public key, want the server's key kept")
	}
	if renamed.Fingerprint != first.Fingerprint {
		t.Error("re-issued certificate: got a new CA, want the same")
	}
}
