package agent

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/poolctl/poolctl/api"
)

// The queries behind MariaDB detection. They answer name/value rows;
// "version" is added by the first.
var mariadbQueries = []string{
	"SELECT 'version', VERSION()",
	"SHOW GLOBAL VARIABLES WHERE Variable_name IN ('wsrep_on', 'wsrep_provider')",
	`SHOW GLOBAL STATUS LIKE 'wsrep\_%'`,
}

// mariadb detects MariaDB or MySQL, and Galera through its wsrep variables.
// The version comes from SQL when the server answers, otherwise from
// `mariadbd --version`. Galera is nil when SQL could not be asked.
//
// SQL goes through Config.MariaDBDSN when set. Otherwise, when a server
// process runs, the mariadb/mysql command-line client is tried: as root it
// uses socket authentication or ~/.my.cnf (as on cPanel servers).
func (d *detector) mariadb(ctx context.Context, ps procSet) (*api.Component, *api.Galera) {
	bin := d.lookPath("mariadbd", "mysqld")
	running := ps.running("mariadbd", "mysqld")
	var vars map[string]string
	var err error
	switch cli := d.lookPath("mariadb", "mysql"); {
	case d.dsn != "":
		vars, err = queryDSN(ctx, d.dsn, d.timeout)
	case running && cli != "":
		vars, err = queryCLI(ctx, cli, d.timeout)
	}
	if err != nil {
		d.log.Debug("query MariaDB", "err", err)
		vars = nil
	}
	if bin == "" && vars == nil {
		return &api.Component{}, nil
	}
	c := &api.Component{Detected: true, Running: running}
	if v := vars["version"]; v != "" {
		c.Version = v
		c.Running = true // it answered
	} else if bin != "" {
		c.Version = d.versionCmd(ctx, wordAfter("Ver "), bin, "--version")
	}
	switch {
	case strings.Contains(strings.ToLower(c.Version), "mariadb"),
		c.Version == "" && filepath.Base(bin) == "mariadbd":
		c.Flavor = "mariadb"
	case c.Version != "":
		c.Flavor = "mysql"
	}
	if vars == nil {
		return c, nil
	}
	return c, galeraFrom(vars)
}

// galeraFrom reads wsrep variables. A server is a Galera node when wsrep_on
// is ON with a provider loaded (MariaDB without Galera still shows wsrep_%
// variables, with wsrep_on OFF); Ready mirrors wsrep_ready. A healthy node
// is Enabled and Ready.
func galeraFrom(vars map[string]string) *api.Galera {
	g := &api.Galera{}
	provider, known := vars["wsrep_provider"]
	hasProvider := !known || (provider != "" && !strings.EqualFold(provider, "none"))
	g.Enabled = strings.EqualFold(vars["wsrep_on"], "ON") && hasProvider
	if !g.Enabled {
		return g
	}
	g.Ready = strings.EqualFold(vars["wsrep_ready"], "ON")
	g.ClusterSize, _ = strconv.Atoi(vars["wsrep_cluster_size"])
	g.State = vars["wsrep_local_state_comment"]
	return g
}

// queryDSN asks the server through the Go driver.
func queryDSN(ctx context.Context, dsn string, timeout time.Duration) (map[string]string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("MariaDB DSN: %w", err)
	}
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 5*time.Second, timeout, timeout
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("MariaDB DSN: %w", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	vars := map[string]string{}
	for _, q := range mariadbQueries {
		if err := queryPairs(ctx, db, q, vars); err != nil {
			return nil, err
		}
	}
	return vars, nil
}

func queryPairs(ctx context.Context, db *sql.DB, q string, into map[string]string) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("query MariaDB %q: %w", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v sql.NullString
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("query MariaDB %q: %w", q, err)
		}
		into[strings.ToLower(k.String)] = v.String
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query MariaDB %q: %w", q, err)
	}
	return nil
}

// queryCLI asks the server through the command-line client, in batch mode
// without column names: one "name<TAB>value" line per row.
func queryCLI(ctx context.Context, cli string, timeout time.Duration) (map[string]string, error) {
	res, err := run(ctx, timeout, cli, "--connect-timeout=5", "-N", "-B", "-e", strings.Join(mariadbQueries, "; "))
	if err != nil {
		return nil, err
	}
	if res.exit != 0 {
		return nil, fmt.Errorf("%s exited %d: %s", filepath.Base(cli), res.exit, strings.TrimSpace(res.stderr))
	}
	vars := map[string]string{}
	for l := range strings.Lines(res.stdout) {
		k, v, ok := strings.Cut(strings.TrimRight(l, "\r\n"), "\t")
		if ok {
			vars[strings.ToLower(k)] = v
		}
	}
	if vars["version"] == "" {
		return nil, fmt.Errorf("%s printed no version", filepath.Base(cli))
	}
	return vars, nil
}
