package enrolment

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/palisadehq/palisade/pkg/atomicfile"
	"io/fs"
	"os"
	"path/filepath"
)

// File names inside a sensor's state directory.
const (
	KeyFile   = "node.key"
	CertFile  = "node.pem"
	CAFile    = "ca.pem"
	StateFile = "node.json"
)

// ErrNoState is returned by LoadState when the directory holds no enrolment (the sensor has
// not enrolled yet).
var ErrNoState = errors.New("node is not enrolled")

// State is what a sensor keeps after enrolment.
type State struct {
	NodeID string
	// ConsoleAddr is the console's gRPC address (host:port) used at enrolment.
	ConsoleAddr string
	// NATSURLs are the job bus URLs the console gave at enrolment; Hello may update them.
	NATSURLs []string
	Key      *ecdsa.PrivateKey
	// CertPEM is the node's client certificate; CAPEM the console CA that issued it.
	CertPEM []byte
	CAPEM   []byte
}

// stateJSON is the layout of node.json.
type stateJSON struct {
	NodeID      string   `json:"node_id"`
	ConsoleAddr string   `json:"console_addr"`
	NATSURLs    []string `json:"nats_urls,omitempty"`
}

// SaveState writes st into dir (created with mode 0700 if missing): node.key (mode 0600),
// node.pem, ca.pem and node.json. Each file is replaced atomically, node.json last, so an
// interrupted save never leaves a state that LoadState accepts half-written.
func SaveState(dir string, st State) error {
	if err := ValidateNodeID(st.NodeID); err != nil {
		return fmt.Errorf("save node state: %w", err)
	}
	if st.Key == nil || len(st.CertPEM) == 0 || len(st.CAPEM) == 0 {
		return fmt.Errorf("save node state: key, certificate and CA certificate are all required")
	}
	if _, err := st.keyPair(); err != nil {
		return fmt.Errorf("save node state: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(st.Key)
	if err != nil {
		return fmt.Errorf("save node state: encode key: %w", err)
	}
	meta, err := json.MarshalIndent(stateJSON{NodeID: st.NodeID, ConsoleAddr: st.ConsoleAddr, NATSURLs: st.NATSURLs}, "", "  ")
	if err != nil {
		return fmt.Errorf("save node state: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	files := []struct {
		name string
		data []byte
		mode fs.FileMode
	}{
		{KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600},
		{CertFile, st.CertPEM, 0o644},
		{CAFile, st.CAPEM, 0o644},
		{StateFile, append(meta, '\n'), 0o644},
	}
	for _, f := range files {
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return fmt.Errorf("save node state: %w", err)
		}
	}
	return nil
}

// LoadState reads the state SaveState wrote. It returns an error wrapping ErrNoState when dir
// has no node.json, and an error naming the file when the state is incomplete or corrupt.
func LoadState(dir string) (State, error) {
	meta, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, fmt.Errorf("%w: no %s in %s", ErrNoState, StateFile, dir)
	}
	if err != nil {
		return State{}, fmt.Errorf("load node state: %w", err)
	}
	var sj stateJSON
	if err := json.Unmarshal(meta, &sj); err != nil {
		return State{}, fmt.Errorf("load node state: %s is corrupt (%w); remove %s and enrol again", StateFile, err, dir)
	}
	if err := ValidateNodeID(sj.NodeID); err != nil {
		return State{}, fmt.Errorf("load node state: %s: %w", StateFile, err)
	}
	st := State{NodeID: sj.NodeID, ConsoleAddr: sj.ConsoleAddr, NATSURLs: sj.NATSURLs}
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("load node state: %w; the state in %s is incomplete, remove it and enrol again", err, dir)
		}
		return b, nil
	}
	keyPEM, err := read(KeyFile)
	if err != nil {
		return State{}, err
	}
	if st.Key, err = parseECKey(keyPEM); err != nil {
		return State{}, fmt.Errorf("load node state: %s: %w", KeyFile, err)
	}
	if st.CertPEM, err = read(CertFile); err != nil {
		return State{}, err
	}
	if st.CAPEM, err = read(CAFile); err != nil {
		return State{}, err
	}
	if _, err := st.keyPair(); err != nil {
		return State{}, fmt.Errorf("load node state: %w", err)
	}
	return st, nil
}

// Certificate returns the node's parsed client certificate.
func (st State) Certificate() (*x509.Certificate, error) {
	kp, err := st.keyPair()
	if err != nil {
		return nil, err
	}
	return kp.Leaf, nil
}

// ClientTLSConfig returns the mTLS configuration for every call after enrolment: the node
// certificate as client certificate and the console CA as the only trusted root. serverName
// may be empty to let the dialer use the host it dials.
func (st State) ClientTLSConfig(serverName string) (*tls.Config, error) {
	kp, err := st.keyPair()
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(st.CAPEM) {
		return nil, fmt.Errorf("node state: the CA certificate holds no PEM certificate")
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ServerName:   serverName,
		Certificates: []tls.Certificate{kp},
		RootCAs:      roots,
	}, nil
}

func (st State) keyPair() (tls.Certificate, error) {
	if st.Key == nil {
		return tls.Certificate{}, fmt.Errorf("node state has no key")
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(st.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("encode node key: %w", err)
	}
	kp, err := tls.X509KeyPair(st.CertPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("node certificate and key do not form a pair: %w", err)
	}
	return kp, nil
}

func parseECKey(b []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("no PEM block found")
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse key: %w", err)
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("key is %T, want an ECDSA key", k)
		}
		return ec, nil
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse key: %w", err)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("unexpected PEM block %q, want PRIVATE KEY", block.Type)
	}
}
