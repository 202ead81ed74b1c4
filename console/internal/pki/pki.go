// Package pki is the console's certificate authority. On first start it creates an ECDSA
// P-256 CA and a server certificate in the data directory (or uses files it is given), signs
// node client certificates from enrolment requests, issues the console's own client
// certificate for its NATS connection, and maps a verified client certificate back to the
// identity it names.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/palisadehq/palisade/pkg/atomicfile"
	"github.com/palisadehq/palisade/pkg/enrolment"
)

// Validity periods and the renewal margin of the certificates the authority makes.
const (
	CAValidity          = 10 * 365 * 24 * time.Hour
	ServerCertValidity  = 365 * 24 * time.Hour
	RenewBefore         = 30 * 24 * time.Hour
	DefaultNodeCertTTL  = 365 * 24 * time.Hour
	ConsoleCertValidity = 5 * 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so that peers with slightly slow clocks accept new
	// certificates.
	clockSkew = 5 * time.Minute
)

// File names inside Config.Dir.
const (
	CAFileName      = "ca.pem"
	CAKeyFileName   = "ca-key.pem"
	CertFileName    = "server.pem"
	CertKeyFileName = "server-key.pem"
)

// ConsoleCommonName is the common name of the console's own client certificate.
const ConsoleCommonName = "palisade-console"

// URI SANs naming identities: palisade://node/<node-id> and palisade://console.
const (
	uriScheme   = "palisade"
	uriNodeHost = "node"
	uriConsole  = "console"
)

// Log field names.
const (
	logFieldPath     = "path"
	logFieldHosts    = "hosts"
	logFieldNotAfter = "not_after"
	logFieldReason   = "reason"
)

// Config says where the authority keeps its files.
type Config struct {
	// Dir holds ca.pem, ca-key.pem (0600), server.pem and server-key.pem (0600). It is
	// created (0700) when missing. Required unless CAFile, CAKeyFile, CertFile and KeyFile
	// are all given.
	Dir string
	// Hosts are the DNS names and IP addresses the server certificate is valid for. The
	// loopback names localhost, 127.0.0.1 and ::1 are always included; when Hosts is empty,
	// the machine's host name is added too.
	Hosts []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CAFile and CAKeyFile name an existing CA to use instead of the one in Dir. The key is
	// needed: the console signs node certificates with it.
	CAFile    string
	CAKeyFile string
	// CertFile and KeyFile name an existing server certificate (signed by the CA) to use as
	// is; the operator then renews it. They need CAFile.
	CertFile string
	KeyFile  string
	// Logger reports certificates created and renewed; nil discards.
	Logger *zap.Logger
}

// Authority is the console's CA. It is safe for concurrent use.
type Authority struct {
	now    func() time.Time
	log    *zap.Logger
	dir    string
	hosts  []string
	caCert *x509.Certificate
	caPEM  []byte
	caKey  crypto.Signer
	pool   *x509.CertPool
	// givenServer is true when the server certificate came from Config.CertFile: it is
	// then never renewed here.
	givenServer bool

	mu     sync.Mutex // guards server
	server *tls.Certificate
}

// LoadOrCreate loads the CA and server certificate, creating whatever is missing in
// Config.Dir. A server certificate in Dir is renewed when it has less than 30 days left, names
// other hosts than Config.Hosts, or was not signed by the CA.
func LoadOrCreate(cfg Config) (*Authority, error) {
	a := &Authority{now: cfg.Now, log: cfg.Logger, dir: cfg.Dir}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	hosts, err := normaliseHosts(cfg.Hosts)
	if err != nil {
		return nil, err
	}
	a.hosts = hosts
	if cfg.Dir == "" && (cfg.CAFile == "" || cfg.CertFile == "") {
		return nil, fmt.Errorf("pki: a directory for the CA files is required unless both the CA and the server certificate are given")
	}
	if err := a.loadOrCreateCA(cfg); err != nil {
		return nil, err
	}
	if err := a.loadOrCreateServer(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Authority) loadOrCreateCA(cfg Config) error {
	certPath, keyPath := cfg.CAFile, cfg.CAKeyFile
	given := certPath != "" || keyPath != ""
	if given && (certPath == "" || keyPath == "") {
		return fmt.Errorf("pki: the CA certificate and the CA key must be given together (the console signs node certificates with the key)")
	}
	if !given {
		certPath, keyPath = filepath.Join(cfg.Dir, CAFileName), filepath.Join(cfg.Dir, CAKeyFileName)
		certOK, keyOK := exists(certPath), exists(keyPath)
		switch {
		case !certOK && !keyOK:
			return a.createCA(certPath, keyPath)
		case certOK != keyOK:
			return fmt.Errorf("pki: found only one of %s and %s in %s; restore the missing file, or move both away to create a new CA (every node must then enrol again)", CAFileName, CAKeyFileName, cfg.Dir)
		}
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return fmt.Errorf("pki: read CA certificate: %w", err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return fmt.Errorf("pki: CA certificate %s: %w", certPath, err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return fmt.Errorf("pki: read CA key: %w", err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return fmt.Errorf("pki: CA key %s: %w", keyPath, err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return fmt.Errorf("pki: %s is not a CA certificate (basic constraints CA:TRUE missing)", certPath)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return fmt.Errorf("pki: the CA key %s does not belong to the CA certificate %s", keyPath, certPath)
	}
	if now := a.now(); now.After(cert.NotAfter) {
		return fmt.Errorf("pki: the CA certificate %s expired on %s; replace it (every node must then enrol again)", certPath, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	a.setCA(cert, key)
	return nil
}

func (a *Authority) createCA(certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("pki: generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return err
	}
	now := a.now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Palisade CA", Organization: []string{"Palisade"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("pki: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("pki: parse new CA certificate: %w", err)
	}
	if err := writeKeyAndCert(certPath, keyPath, der, key); err != nil {
		return err
	}
	a.log.Info("created console CA", zap.String(logFieldPath, certPath), zap.Time(logFieldNotAfter, cert.NotAfter))
	a.setCA(cert, key)
	return nil
}

func (a *Authority) setCA(cert *x509.Certificate, key crypto.Signer) {
	a.caCert = cert
	a.caKey = key
	a.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	a.pool = x509.NewCertPool()
	a.pool.AddCert(cert)
}

func (a *Authority) loadOrCreateServer(cfg Config) error {
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		if cfg.CertFile == "" || cfg.KeyFile == "" {
			return fmt.Errorf("pki: the server certificate and its key must be given together")
		}
		if cfg.CAFile == "" {
			return fmt.Errorf("pki: a given server certificate needs the CA that signed it to be given too")
		}
		kp, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return fmt.Errorf("pki: load server certificate: %w", err)
		}
		if err := a.checkServerCert(kp.Leaf); err != nil {
			return fmt.Errorf("pki: server certificate %s: %w", cfg.CertFile, err)
		}
		a.server = a.withCAChain(kp)
		a.givenServer = true
		return nil
	}
	certPath, keyPath := filepath.Join(cfg.Dir, CertFileName), filepath.Join(cfg.Dir, CertKeyFileName)
	if kp, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		reason := a.renewReason(kp.Leaf)
		if reason == "" {
			a.server = a.withCAChain(kp)
			return nil
		}
		a.log.Info("renewing server certificate", zap.String(logFieldReason, reason), zap.String(logFieldPath, certPath))
	} else if exists(certPath) || exists(keyPath) {
		a.log.Warn("replacing unreadable server certificate", zap.String(logFieldPath, certPath), zap.Error(err))
	}
	kp, err := a.issueServer()
	if err != nil {
		return err
	}
	a.server = kp
	return nil
}

// checkServerCert reports why leaf cannot serve as the console's server certificate.
func (a *Authority) checkServerCert(leaf *x509.Certificate) error {
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:       a.pool,
		CurrentTime: a.now(),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("not valid under the CA for server authentication: %w", err)
	}
	return nil
}

// renewReason says why a server certificate found in Dir must be replaced, or "" when it can
// be kept.
func (a *Authority) renewReason(leaf *x509.Certificate) string {
	if err := a.checkServerCert(leaf); err != nil {
		return err.Error()
	}
	if a.now().Add(RenewBefore).After(leaf.NotAfter) {
		return "expires within 30 days"
	}
	if !slices.Equal(certHosts(leaf), a.hosts) {
		return "host names changed"
	}
	return ""
}

// issueServer makes a new server certificate for a.hosts and writes it into the directory.
func (a *Authority) issueServer() (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate server key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: ConsoleCommonName, Organization: []string{"Palisade"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range a.hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := a.sign(tmpl, key.Public(), ServerCertValidity)
	if err != nil {
		return nil, fmt.Errorf("pki: sign server certificate: %w", err)
	}
	certPath, keyPath := filepath.Join(a.dir, CertFileName), filepath.Join(a.dir, CertKeyFileName)
	if err := writeKeyAndCert(certPath, keyPath, der, key); err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse new server certificate: %w", err)
	}
	a.log.Info("issued server certificate", zap.String(logFieldPath, certPath), zap.Strings(logFieldHosts, a.hosts), zap.Time(logFieldNotAfter, leaf.NotAfter))
	return a.withCAChain(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}), nil
}

// withCAChain appends the CA certificate to kp's chain unless it is there already: enrolling
// sensors pin the CA and must find it in the chain.
func (a *Authority) withCAChain(kp tls.Certificate) *tls.Certificate {
	for _, c := range kp.Certificate[1:] {
		if string(c) == string(a.caCert.Raw) {
			return &kp
		}
	}
	kp.Certificate = append(kp.Certificate[:len(kp.Certificate):len(kp.Certificate)], a.caCert.Raw)
	return &kp
}

// sign issues a certificate from tmpl for pub, valid from now (backdated by the clock skew)
// for ttl but never past the CA's own expiry.
func (a *Authority) sign(tmpl *x509.Certificate, pub crypto.PublicKey, ttl time.Duration) ([]byte, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := a.now()
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-clockSkew)
	tmpl.NotAfter = now.Add(ttl)
	if tmpl.NotAfter.After(a.caCert.NotAfter) {
		tmpl.NotAfter = a.caCert.NotAfter
	}
	tmpl.BasicConstraintsValid = true
	return x509.CreateCertificate(rand.Reader, tmpl, a.caCert, pub, a.caKey)
}

// serverCertificate returns the current server certificate, renewing one the authority made
// itself when it is within 30 days of expiry. A failed renewal keeps the old certificate
// (and is logged) so that serving goes on.
func (a *Authority) serverCertificate() *tls.Certificate {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.givenServer || !a.now().Add(RenewBefore).After(a.server.Leaf.NotAfter) {
		return a.server
	}
	kp, err := a.issueServer()
	if err != nil {
		a.log.Error("renewing server certificate failed; serving the old one", zap.Error(err))
		return a.server
	}
	a.server = kp
	return a.server
}

// CACertPEM returns the CA certificate in PEM form.
func (a *Authority) CACertPEM() []byte { return slices.Clone(a.caPEM) }

// CACert returns the parsed CA certificate.
func (a *Authority) CACert() *x509.Certificate { return a.caCert }

// CAPool returns a new pool holding only the CA certificate.
func (a *Authority) CAPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.caCert)
	return p
}

// CAFingerprint returns the lowercase hex SHA-256 of the CA certificate's DER bytes, the pin
// carried by enrolment tokens.
func (a *Authority) CAFingerprint() string { return enrolment.Fingerprint(a.caCert.Raw) }

// ServerCertificate returns the current server certificate (its chain ends with the CA).
func (a *Authority) ServerCertificate() tls.Certificate { return *a.serverCertificate() }

// ServerTLSConfig returns a new TLS configuration for the console's listeners: the server
// certificate with the CA in its chain, TLS 1.2 or later, and client certificates verified
// against the CA when the client sends one (enrolment calls come without). Callers that
// require a client certificate set ClientAuth to tls.RequireAndVerifyClientCert.
func (a *Authority) ServerTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return a.serverCertificate(), nil
		},
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  a.CAPool(),
	}
}

// SignNode checks the PKCS#10 request csrDER and issues a client certificate for the node:
// common name nodeID, URI SAN palisade://node/<nodeID>, client authentication only. A ttl of 0
// means DefaultNodeCertTTL; the certificate never outlives the CA.
func (a *Authority) SignNode(csrDER []byte, nodeID string, ttl time.Duration) ([]byte, error) {
	if err := enrolment.ValidateNodeID(nodeID); err != nil {
		return nil, fmt.Errorf("sign node certificate: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("sign node certificate: the certificate request is not valid DER PKCS#10: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("sign node certificate: the certificate request's signature does not verify: %w", err)
	}
	if err := checkNodeKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("sign node certificate: %w", err)
	}
	if ttl <= 0 {
		ttl = DefaultNodeCertTTL
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: nodeID, Organization: []string{"Palisade"}, OrganizationalUnit: []string{"node"}},
		URIs:        []*url.URL{nodeURI(nodeID)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := a.sign(tmpl, csr.PublicKey, ttl)
	if err != nil {
		return nil, fmt.Errorf("sign node certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// IssueConsoleClient makes a fresh key and a client certificate naming the console itself
// (common name palisade-console, URI SAN palisade://console). The console presents it to NATS
// servers that verify clients against the console CA (--nats-tls, and a console's embedded
// server), which give it full permissions. The key never leaves memory.
func (a *Authority) IssueConsoleClient() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: generate console client key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: ConsoleCommonName, Organization: []string{"Palisade"}, OrganizationalUnit: []string{"console"}},
		URIs:        []*url.URL{consoleURI()},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := a.sign(tmpl, key.Public(), ConsoleCertValidity)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: sign console client certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: parse console client certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, a.caCert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// checkNodeKey accepts the key types and sizes a node may use.
func checkNodeKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("ECDSA key on curve %s is not accepted; use P-256 or P-384", k.Curve.Params().Name)
		}
		return nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits is too small; use at least 2048", k.N.BitLen())
		}
		return nil
	case ed25519.PublicKey:
		return nil
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
}

// normaliseHosts returns the sorted, de-duplicated host list for the server certificate.
func normaliseHosts(hosts []string) ([]string, error) {
	out := []string{"localhost", "127.0.0.1", "::1"}
	if len(hosts) == 0 {
		if h, err := os.Hostname(); err == nil && h != "" {
			hosts = []string{h}
		}
	}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			out = append(out, ip.String())
			continue
		}
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if strings.ContainsAny(h, " /:@") {
			return nil, fmt.Errorf("pki: %q is neither a host name nor an IP address; give bare names without ports or schemes", h)
		}
		out = append(out, h)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// certHosts lists a certificate's DNS and IP SANs in the form normaliseHosts uses.
func certHosts(c *x509.Certificate) []string {
	var out []string
	for _, d := range c.DNSNames {
		out = append(out, strings.ToLower(d))
	}
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: random serial number: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("no PEM CERTIFICATE block found")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

func parseKeyPEM(b []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("no PEM private key block found")
		}
		var (
			k   any
			err error
		)
		switch block.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", block.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("key type %T cannot sign", k)
		}
		return s, nil
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// writeKeyAndCert writes the key (0600) and then the certificate (0644), each atomically,
// creating the directory (0700) when needed.
func writeKeyAndCert(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("pki: encode key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(certPath), 0o700); err != nil {
		return fmt.Errorf("pki: create directory: %w", err)
	}
	if err := atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("pki: write %s: %w", keyPath, err)
	}
	if err := atomicfile.Write(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("pki: write %s: %w", certPath, err)
	}
	return nil
}
