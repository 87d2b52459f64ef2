// Package smtptest runs an in-process SMTP server (github.com/emersion/go-smtp)
// on loopback for tests and benchmarks: implicit TLS, STARTTLS or plain,
// AUTH PLAIN and LOGIN with one user, and every message it accepts kept in
// memory with its arrival time.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configure a server.
type Options struct {
	TLS            string // implicit, starttls or "" (plain, STARTTLS not offered)
	User, Password string // AUTH required when User is set
}

// Message is an accepted message.
type Message struct {
	From     string
	To       []string
	Data     []byte
	Header   mail.Header
	Received time.Time
	AuthMech string
	TLS      bool
}

// Server is a running test SMTP server.
type Server struct {
	Addr    string         // 127.0.0.1:PORT
	RootCAs *x509.CertPool // trusts its certificate
	srv     *smtp.Server
	opts    Options

	mu       sync.Mutex
	msgs     []Message
	arrived  chan struct{}
	failNext int
}

// Start listens on 127.0.0.1:0.
func Start(o Options) (*Server, error) {
	cert, pool, err := selfSigned()
	if err != nil {
		return nil, err
	}
	s := &Server{RootCAs: pool, opts: o, arrived: make(chan struct{}, 1<<16)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &session{s: s, tls: isTLS}, nil
	}))
	srv.Domain = "127.0.0.1"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.AllowInsecureAuth = o.TLS == ""
	tcfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	var l net.Listener
	switch o.TLS {
	case "implicit":
		l, err = tls.Listen("tcp", "127.0.0.1:0", tcfg)
	case "starttls":
		srv.TLSConfig = tcfg
		l, err = net.Listen("tcp", "127.0.0.1:0")
	default:
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, err
	}
	s.Addr, s.srv = l.Addr().String(), srv
	go func() { _ = srv.Serve(l) }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// FailNext makes the next n messages fail with a temporary 451.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

// Messages returns the accepted messages.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Arrived receives a value per accepted message.
func (s *Server) Arrived() <-chan struct{} { return s.arrived }

type session struct {
	s      *Server
	tls    bool
	authed bool
	mech   string
	from   string
	to     []string
}

func (se *session) AuthMechanisms() []string {
	if se.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != se.s.opts.User || pass != se.s.opts.Password {
			return errors.New("invalid credentials")
		}
		se.authed, se.mech = true, mech
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnsupported
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.opts.User != "" && !se.authed {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	se.s.mu.Lock()
	defer se.s.mu.Unlock()
	if se.s.failNext > 0 {
		se.s.failNext--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later (test)"}
	}
	m := Message{From: se.from, To: se.to, Data: b, Received: time.Now(), AuthMech: se.mech, TLS: se.tls}
	if pm, err := mail.ReadMessage(strings.NewReader(string(b))); err == nil {
		m.Header = pm.Header
	}
	se.s.msgs = append(se.s.msgs, m)
	select {
	case se.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN (go-sasl has the client only).
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(resp) > 0 { // initial response: the user name
			l.user, l.step = string(resp), 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
