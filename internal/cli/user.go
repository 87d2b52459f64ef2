package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/web"
)

// userStore names the server's database; the user commands run on the
// server machine and open it directly, as the server does.
type userStore struct {
	data, database string
}

func (u *userStore) flags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&u.data, "data", "", "the server's data directory (required unless --database names PostgreSQL)")
	cmd.PersistentFlags().StringVar(&u.database, "database", "", "postgres:// URL; default SQLite at DATA/poolctl.db")
}

func (u *userStore) open(ctx context.Context) (*store.Store, error) {
	dsn := u.database
	if dsn == "" {
		if u.data == "" {
			return nil, errors.New("--data is required: the server's data directory")
		}
		dsn = filepath.Join(u.data, "poolctl.db")
		if _, err := os.Stat(dsn); err != nil {
			return nil, fmt.Errorf("no database at %s (is --data the server's data directory?): %w", dsn, err)
		}
	}
	return store.Open(ctx, dsn)
}

func newUserCmd(g *globals) *cobra.Command {
	us := &userStore{}
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage dashboard users (run on the server machine)",
		Long: `Manage the users who sign in to the dashboard. These commands open the server's
database directly, so run them on the server machine with the server's --data
(or --database). The first start of the server creates the administrator
"admin" and writes its password to DATA/admin.password.`,
	}
	us.flags(cmd)
	cmd.AddCommand(userAddCmd(g, us), userPasswdCmd(g, us), userListCmd(g, us), userRemoveCmd(g, us), userLogoutAllCmd(g, us))
	return cmd
}

// readPassword prompts without echo when stdin is a terminal; otherwise it
// reads the first line of stdin (for scripts: echo "$PW" | poolctl user add).
// with wraps a command body that needs the store: opened for the call,
// closed after it.
func (us *userStore) with(fn func(cmd *cobra.Command, args []string, st *store.Store) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		st, err := us.open(cmd.Context())
		if err != nil {
			return err
		}
		defer st.Close()
		return fn(cmd, args, st)
	}
}

func readPassword(g *globals) (string, error) {
	if f, ok := g.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(g.stderr, "Password: ")
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if err := web.ValidatePassword(string(pw)); err != nil {
			return "", err
		}
		fmt.Fprint(g.stderr, "Repeat password: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(pw) != string(again) {
			return "", errors.New("the passwords differ")
		}
		return string(pw), nil
	}
	line, err := bufio.NewReader(io.LimitReader(g.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on stdin: pipe one in, or run in a terminal to be prompted")
	}
	return pw, nil
}

func userAddCmd(g *globals, us *userStore) *cobra.Command {
	var readOnly bool
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a dashboard user; the password is prompted for, or read from stdin",
		Example: `  poolctl user add alice --data /var/lib/poolctl
  printf '%s\n' "$PASSWORD" | poolctl user add ci --read-only --data /var/lib/poolctl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := web.ValidateUserName(args[0]); err != nil {
				return err
			}
			st, err := us.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			pw, err := readPassword(g)
			if err != nil {
				return err
			}
			u, err := web.AddUser(cmd.Context(), st, args[0], pw, !readOnly, time.Now())
			if err != nil {
				return err
			}
			return g.emit(userJSON(u), func(w *tabwriter.Writer) {
				row(w, "added user", u.Name, role(u))
			})
		},
	}
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "the user may look but not change anything")
	return cmd
}

func userPasswdCmd(g *globals, us *userStore) *cobra.Command {
	return &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password (prompted, or read from stdin) and end its sessions",
		Args:  cobra.ExactArgs(1),
		RunE: us.with(func(cmd *cobra.Command, args []string, st *store.Store) error {
			if _, err := st.GetUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			pw, err := readPassword(g)
			if err != nil {
				return err
			}
			if err := web.SetUserPassword(cmd.Context(), st, args[0], pw, time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "password of %s changed; its sessions were ended\n", args[0])
			return nil
		}),
	}
}

type userOut struct {
	Name      string    `json:"name"`
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"created_at"`
}

func userJSON(u store.User) userOut {
	return userOut{Name: u.Name, Admin: u.IsAdmin, CreatedAt: u.CreatedAt}
}

func role(u store.User) string {
	if u.IsAdmin {
		return "administrator"
	}
	return "read-only"
}

func userListCmd(g *globals, us *userStore) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List dashboard users",
		Args:  cobra.NoArgs,
		RunE: us.with(func(cmd *cobra.Command, args []string, st *store.Store) error {
			users, err := st.ListUsers(cmd.Context())
			if err != nil {
				return err
			}
			out := make([]userOut, 0, len(users))
			for _, u := range users {
				out = append(out, userJSON(u))
			}
			return g.emit(map[string]any{"items": out}, func(w *tabwriter.Writer) {
				row(w, "NAME", "ROLE", "CREATED")
				for _, u := range users {
					row(w, u.Name, role(u), u.CreatedAt.Local().Format("2006-01-02 15:04"))
				}
			})
		}),
	}
}

func userRemoveCmd(g *globals, us *userStore) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a dashboard user and end its sessions",
		Args:  cobra.ExactArgs(1),
		RunE: us.with(func(cmd *cobra.Command, args []string, st *store.Store) error {
			if err := st.DeleteUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "removed user %s\n", args[0])
			return nil
		}),
	}
}

func userLogoutAllCmd(g *globals, us *userStore) *cobra.Command {
	return &cobra.Command{
		Use:   "logout-all NAME",
		Short: "End every dashboard session of a user",
		Args:  cobra.ExactArgs(1),
		RunE: us.with(func(cmd *cobra.Command, args []string, st *store.Store) error {
			u, err := st.GetUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			n, err := st.DeleteUserSessions(cmd.Context(), u.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "ended %d session(s) of %s\n", n, u.Name)
			return nil
		}),
	}
}
