package cli

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/internal/release"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/tlsutil"
)

// newReleaseCmd is `poolctl release`: the operator's offline release key.
func newReleaseCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Sign agent binaries with an offline release key (the server then holds only the public key)",
		Long: `By default a poolctl server signs the agent binaries it offers with its own ed25519 release key,
kept in its database sealed with its master key. With an offline key the private half never
reaches the server: create it with 'release keygen', sign every binary with 'release sign'
(BINARY.sig next to it), and start the server with --release-public-key KEY.pub; it then offers
only binaries whose signature verifies. Agents pin the key at enrolment.`,
		Example: `  poolctl release keygen --out /secure/poolctl-release.key
  poolctl release sign --key /secure/poolctl-release.key /usr/local/bin/poolctl
  poolctl server --data /var/lib/poolctl --release-public-key /secure/poolctl-release.key.pub`,
	}
	cmd.AddCommand(releaseKeygenCmd(g), releaseSignCmd(g), releaseVerifyCmd(g))
	return cmd
}

func releaseKeygenCmd(g *globals) *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Create an ed25519 release key: FILE (private, 0600) and FILE.pub",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				if _, err := os.Stat(out); err == nil {
					return fmt.Errorf("%s exists; agents pinned to it would refuse binaries signed with a new key (use --force to replace it anyway)", out)
				}
			}
			pub, priv, err := release.GenerateKey()
			if err != nil {
				return err
			}
			if err := tlsutil.WriteFileAtomic(out, release.MarshalPrivateKeyPEM(priv), 0o600); err != nil {
				return fmt.Errorf("write private key: %w", err)
			}
			if err := tlsutil.WriteFileAtomic(out+".pub", release.MarshalPublicKeyPEM(pub), 0o644); err != nil {
				return fmt.Errorf("write public key: %w", err)
			}
			fmt.Fprintf(g.stdout, "private key: %s (keep it offline)\npublic key:  %s\nkey:         %s\nstart the server with: poolctl server --release-public-key %s ...\n",
				out, out+".pub", release.EncodePublicKey(pub), out+".pub")
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "private key file to create (the public key goes to FILE.pub)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing key")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// binaryRelease tells what a binary is: version, os and arch from flags, a
// BINARY.version file, or its Go build information; and its SHA-256.
func binaryRelease(path, version, goos, goarch string) (v, o, a, sum string, err error) {
	bv, bo, ba, err := release.BinaryInfo(path)
	if err != nil {
		return "", "", "", "", fmt.Errorf("%w (give --version, --os and --arch for a file that is not a Go binary)", err)
	}
	if version == "" {
		if b, err := os.ReadFile(path + ".version"); err == nil {
			version = firstLine(string(b))
		}
	}
	v, o, a = cmp.Or(version, bv), cmp.Or(goos, bo), cmp.Or(goarch, ba)
	if v == "" {
		return "", "", "", "", fmt.Errorf("cannot tell the version of %s (it was built without -ldflags \"-X %s=...\"); give --version", path, release.VersionVar)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", "", "", "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", "", "", "", err
	}
	return v, o, a, hex.EncodeToString(h.Sum(nil)), nil
}

func releaseSignCmd(g *globals) *cobra.Command {
	var keyFile, version, goos, goarch string
	cmd := &cobra.Command{
		Use:   "sign --key FILE BINARY",
		Short: "Sign an agent binary: writes BINARY.sig (version, os and arch are read from the binary)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(keyFile)
			if err != nil {
				return err
			}
			priv, err := release.ParsePrivateKeyPEM(b)
			if err != nil {
				return err
			}
			v, o, a, sum, err := binaryRelease(args[0], version, goos, goarch)
			if err != nil {
				return err
			}
			sig := release.Sign(priv, v, o, a, sum)
			if err := tlsutil.WriteFileAtomic(release.SigFile(args[0]), []byte(sig+"\n"), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "signed poolctl %s %s/%s sha256 %s\nsignature: %s\nkey:       %s\n",
				v, o, a, sum, release.SigFile(args[0]), release.EncodePublicKey(priv.Public().(ed25519.PublicKey)))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyFile, "key", "", "private release key (from release keygen)")
	f.StringVar(&version, "version", "", "version to sign for (default: BINARY.version, or the binary's -X version ldflag)")
	f.StringVar(&goos, "os", "", "GOOS (default: from the binary)")
	f.StringVar(&goarch, "arch", "", "GOARCH (default: from the binary)")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

func releaseVerifyCmd(g *globals) *cobra.Command {
	var keyFile, version, goos, goarch string
	cmd := &cobra.Command{
		Use:   "verify --public-key FILE BINARY",
		Short: "Check BINARY.sig against a release public key, as an agent does",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(keyFile)
			if err != nil {
				return err
			}
			pub, err := release.ParsePublicKey(b)
			if err != nil {
				return err
			}
			v, o, a, sum, err := binaryRelease(args[0], version, goos, goarch)
			if err != nil {
				return err
			}
			sig, err := release.ReadSigFile(args[0])
			if err != nil {
				return err
			}
			if err := release.Verify(pub, v, o, a, sum, sig); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "good signature: poolctl %s %s/%s sha256 %s by %s\n", v, o, a, sum, release.EncodePublicKey(pub))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyFile, "public-key", "", "release public key (FILE.pub from release keygen, or ed25519:BASE64 in a file)")
	f.StringVar(&version, "version", "", "version (default: BINARY.version, or the binary's -X version ldflag)")
	f.StringVar(&goos, "os", "", "GOOS (default: from the binary)")
	f.StringVar(&goarch, "arch", "", "GOARCH (default: from the binary)")
	_ = cmd.MarkFlagRequired("public-key")
	return cmd
}

// releaseSigning sets up how the server signs the agent binaries it offers:
// with --release-public-key, only binaries whose BINARY.sig verifies with
// that key (the private key stays offline); otherwise with the server's own
// key, generated on first start and kept in the database sealed with the
// master key. It returns the catalogue's signer and the public key agents pin.
func releaseSigning(ctx context.Context, o ServerOptions, st *store.Store, log *slog.Logger) (release.Signer, string, error) {
	if o.ReleasePublicKey != "" {
		b, err := os.ReadFile(o.ReleasePublicKey)
		if err != nil {
			return nil, "", fmt.Errorf("--release-public-key: %w", err)
		}
		pub, err := release.ParsePublicKey(b)
		if err != nil {
			return nil, "", fmt.Errorf("--release-public-key %s: %w", o.ReleasePublicKey, err)
		}
		log.Info("agent releases: offline key; only binaries with a valid .sig are offered", "release_key", release.EncodePublicKey(pub))
		return release.SigFileSigner(pub), release.EncodePublicKey(pub), nil
	}
	priv, err := release.LoadOrCreateKey(ctx, st, o.master, time.Now())
	if errors.Is(err, release.ErrMasterKeyMismatch) {
		// The rest of the server works: start, but offer no update.
		log.Error("agent releases are NOT signed on this server, so agents cannot be updated through it: "+err.Error()+"; give every replica the same --master-key-file", "master_key", masterKeyPath(o))
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("release key: %w", err)
	}
	pub := release.EncodePublicKey(priv.Public().(ed25519.PublicKey))
	log.Info("agent releases: signed with the server's release key", "release_key", pub)
	return release.KeySigner(priv), pub, nil
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' || c == '\r' {
			return s[:i]
		}
	}
	return s
}
