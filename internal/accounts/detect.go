package accounts

import (
	"log/slog"
	"os"
	"path/filepath"
)

// Config configures the provider Detect returns.
type Config struct {
	// Root is where the server's file system is; default "/". Tests point
	// it at a directory of their own.
	Root   string
	Linux  LinuxConfig
	CPanel CPanelConfig
	// Logger is used by the provider when its own config has none.
	Logger *slog.Logger
}

// Detect returns the cpanel provider when ROOT/usr/local/cpanel/cpanel
// exists, else the linux provider.
func Detect(cfg Config) (Provider, error) {
	if cfg.Root == "" {
		cfg.Root = "/"
	}
	if st, err := os.Stat(filepath.Join(cfg.Root, cpanelMarker)); err == nil && !st.IsDir() {
		if cfg.CPanel.Root == "" {
			cfg.CPanel.Root = cfg.Root
		}
		if cfg.CPanel.Logger == nil {
			cfg.CPanel.Logger = cfg.Logger
		}
		return NewCPanel(cfg.CPanel)
	}
	if cfg.Linux.Logger == nil {
		cfg.Linux.Logger = cfg.Logger
	}
	return NewLinux(cfg.Linux)
}
