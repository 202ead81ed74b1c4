package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Files a running console leaves in its data directory for the CLI on the same machine.
const (
	// ConsoleInfoFile (JSON, see ConsoleInfo) names the addresses the console listens on.
	ConsoleInfoFile = "console.json"
	// TokenFile holds an API token for the CLI, nothing else (surrounding space is ignored).
	TokenFile = "cli.token"
	// CAFile is the console's CA certificate (PEM), relative to the data directory.
	CAFile = "pki/ca.pem"
)

// TokenEnv is the environment variable the CLI reads the API token from.
const TokenEnv = "PALISADE_TOKEN"

// ConsoleInfo is the content of <data-dir>/console.json, written by the running console.
type ConsoleInfo struct {
	GRPCAddr string `json:"grpc_addr"`
	HTTPAddr string `json:"http_addr"`
}

// ConnOptions says how to reach a console. Empty fields are resolved from DataDir:
//
//   - Addr empty: the grpc_addr of <DataDir>/console.json, and the CA <DataDir>/pki/ca.pem.
//   - Addr set: the CA from CAFile, else <DataDir>/pki/ca.pem when it exists, else an error.
//   - Token empty: <DataDir>/cli.token, else an error.
//
// Reading the TokenEnv variable is the caller's job (the commands do it), so Dial only
// depends on what it is given.
type ConnOptions struct {
	// Addr is the console's gRPC address, host:port.
	Addr string
	// Token is the API token sent as "authorization: Bearer <token>" with every call.
	Token string
	// CAFile is a PEM file of the CA that signed the console's certificate.
	CAFile string
	// DataDir is the console's data directory (default "./data" when empty).
	DataDir string
}

// DefaultDataDir is the data directory used when none is given.
const DefaultDataDir = "./data"

// Dial resolves opts and returns a TLS client connection to the console whose every call
// carries the API token. The connection is made lazily, on the first call; close it when done.
func Dial(ctx context.Context, opts ConnOptions) (*grpc.ClientConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := resolve(opts)
	if err != nil {
		return nil, err
	}
	pemBytes, err := os.ReadFile(r.caFile)
	if err != nil {
		return nil, fmt.Errorf("read the console CA: %w; pass --ca-file with the console's CA certificate", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("no PEM certificate in %s; pass --ca-file with the console's CA certificate", r.caFile)
	}
	tlsCreds := credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	conn, err := grpc.NewClient(r.addr,
		grpc.WithTransportCredentials(tlsCreds),
		grpc.WithPerRPCCredentials(bearerToken(r.token)))
	if err != nil {
		return nil, fmt.Errorf("connect to the console at %s: %w", r.addr, err)
	}
	return conn, nil
}

// resolved is ConnOptions with every field decided.
type resolved struct {
	addr, token, caFile string
}

// resolve fills in what opts leaves empty from the data directory.
func resolve(opts ConnOptions) (resolved, error) {
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = DefaultDataDir
	}
	var r resolved
	if opts.Addr == "" {
		infoPath := filepath.Join(dataDir, ConsoleInfoFile)
		b, err := os.ReadFile(infoPath)
		if errors.Is(err, fs.ErrNotExist) {
			return r, fmt.Errorf("no console address: pass --addr host:port, or --data-dir with the data directory of a running console (%s does not exist)", infoPath)
		}
		if err != nil {
			return r, fmt.Errorf("read the console address: %w", err)
		}
		var info ConsoleInfo
		if err := json.Unmarshal(b, &info); err != nil {
			return r, fmt.Errorf("%s is not valid JSON: %w; restart the console or pass --addr", infoPath, err)
		}
		if info.GRPCAddr == "" {
			return r, fmt.Errorf("%s has no grpc_addr; restart the console or pass --addr", infoPath)
		}
		r.addr = dialAddr(info.GRPCAddr)
		r.caFile = opts.CAFile
		if r.caFile == "" {
			r.caFile = filepath.Join(dataDir, CAFile)
		}
	} else {
		if _, _, err := net.SplitHostPort(opts.Addr); err != nil {
			return r, fmt.Errorf("--addr %q is not host:port: %w", opts.Addr, err)
		}
		r.addr = dialAddr(opts.Addr)
		r.caFile = opts.CAFile
		if r.caFile == "" {
			candidate := filepath.Join(dataDir, CAFile)
			if _, err := os.Stat(candidate); err != nil {
				return r, fmt.Errorf("no CA to verify the console at %s: pass --ca-file with the console's CA certificate (%s is not there)", opts.Addr, candidate)
			}
			r.caFile = candidate
		}
	}
	r.token = strings.TrimSpace(opts.Token)
	if r.token == "" {
		tokenPath := filepath.Join(dataDir, TokenFile)
		b, err := os.ReadFile(tokenPath)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return r, fmt.Errorf("read the API token: %w", err)
		}
		r.token = strings.TrimSpace(string(b))
		if r.token == "" {
			return r, fmt.Errorf("no API token: pass --token, set %s, or use --data-dir with a console data directory that has %s", TokenEnv, TokenFile)
		}
	}
	return r, nil
}

// dialAddr turns a listen address into one to dial: a wildcard or empty host (the console
// listening on every interface) is reached on the loopback address.
func dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0", "::":
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// bearerToken sends the API token with every call, and only over TLS.
type bearerToken string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: a token never travels
// over plain text.
func (bearerToken) RequireTransportSecurity() bool { return true }
