package redact

import "testing"

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://panel.example.com:8443", "https://panel.example.com:8443"},
		{"https://alice:s3cret@panel.example.com:8443/x", "https://alice:xxxxx@panel.example.com:8443/x"},
		{"https://alice@panel.example.com/", "https://alice@panel.example.com/"},
		{"s3://ACCESS:SECRET@127.0.0.1:7070/bucket/prefix?tls=true&region=eu", "s3://ACCESS:xxxxx@127.0.0.1:7070/bucket/prefix?tls=true&region=eu"},
		{"postgres://poolctl:pw@db/poolctl?sslmode=disable&password=pw2", "postgres://poolctl:xxxxx@db/poolctl?password=xxxxx&sslmode=disable"},
		{"https://hooks.example.com/h?token=abc&api_key=def&X-Amz-Signature=ghi&page=1", "https://hooks.example.com/h?X-Amz-Signature=xxxxx&api_key=xxxxx&page=1&token=xxxxx"},
		// url.Parse refuses these; they are masked by their shape.
		{"s3://ACCESS:SECRET@bad host:port/bucket", "s3://ACCESS:xxxxx@bad host:port/bucket"},
		{"https://u:p%zz@host/", "https://u:xxxxx@host/"},
		{"https://host:99999999999/x?token=%zz", "https://host:99999999999/x?xxxxx"},
		{"root:pw@tcp(127.0.0.1:3306)/", "root:xxxxx@tcp(127.0.0.1:3306)/"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"root@unix(/run/mysqld/mysqld.sock)/", "root@unix(/run/mysqld/mysqld.sock)/"},
		{"root:pw@tcp(127.0.0.1:3306)/", "root:xxxxx@tcp(127.0.0.1:3306)/"},
		{"root:p@ss/w:rd@tcp(127.0.0.1:3306)/db", "root:xxxxx@tcp(127.0.0.1:3306)/db"},
		{"root:pw@tcp(127.0.0.1:3306)", "root:xxxxx@tcp(127.0.0.1:3306)"},
		{"postgres://u:pw@db:5432/x", "postgres://u:xxxxx@db:5432/x"},
		{"/var/lib/poolctl/poolctl.db", "/var/lib/poolctl/poolctl.db"},
	}
	for _, tt := range tests {
		if got := DSN(tt.in); got != tt.want {
			t.Errorf("DSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
