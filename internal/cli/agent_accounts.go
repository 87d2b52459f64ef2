package cli

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/go-sql-driver/mysql"

	"github.com/poolctl/poolctl/internal/accounts"
)

// accountOptions choose the agent's account provider.
type accountOptions struct {
	provider string // auto, linux, cpanel or off
	root     string // linux: where account home directories are
}

// provider builds the account provider the options name; nil when off.
// MariaDB credentials come from the agent's --mariadb-dsn; without one the
// command-line tools use ~/.my.cnf or socket authentication.
func (o accountOptions) build(dsn string, log *slog.Logger) (accounts.Provider, error) {
	db, err := mariaDBConfig(dsn)
	if err != nil {
		return nil, err
	}
	lin := accounts.LinuxConfig{Root: o.root, MariaDB: db, Logger: log}
	switch o.provider {
	case "off":
		return nil, nil
	case "", "auto":
		return accounts.Detect(accounts.Config{Linux: lin, CPanel: accounts.CPanelConfig{Logger: log}, Logger: log})
	case "linux":
		return accounts.NewLinux(lin)
	case "cpanel":
		return accounts.NewCPanel(accounts.CPanelConfig{Logger: log})
	}
	return nil, fmt.Errorf("--accounts %q: want auto, linux, cpanel or off", o.provider)
}

// mariaDBConfig reads a go-sql-driver DSN such as root:pw@tcp(127.0.0.1:3306)/
// or root@unix(/run/mysqld/mysqld.sock)/.
func mariaDBConfig(dsn string) (accounts.MariaDBConfig, error) {
	if dsn == "" {
		return accounts.MariaDBConfig{}, nil
	}
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return accounts.MariaDBConfig{}, fmt.Errorf("--mariadb-dsn: %w", err)
	}
	out := accounts.MariaDBConfig{User: c.User, Password: c.Passwd}
	switch c.Net {
	case "unix":
		out.Socket = c.Addr
	default:
		host, port, err := net.SplitHostPort(c.Addr)
		if err != nil {
			return out, fmt.Errorf("--mariadb-dsn address %q: %w", c.Addr, err)
		}
		out.Host = host
		if out.Port, err = strconv.Atoi(port); err != nil {
			return out, fmt.Errorf("--mariadb-dsn port %q: %w", port, err)
		}
	}
	return out, nil
}
