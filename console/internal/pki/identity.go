package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/palisadehq/palisade/pkg/enrolment"
)

// ErrConsoleIdentity is returned by NodeIDFromCert for the console's own certificate, which
// must never be accepted where a node is expected.
var ErrConsoleIdentity = errors.New("the console's own certificate cannot act as a node")

// Role is what a certificate identity may do.
type Role string

// The roles.
const (
	RoleNode    Role = "node"
	RoleConsole Role = "console"
)

// Identity is who a client certificate names.
type Identity struct {
	Role Role
	// NodeID is set for RoleNode.
	NodeID string
}

func nodeURI(nodeID string) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: uriNodeHost, Path: "/" + nodeID}
}

func consoleURI() *url.URL {
	return &url.URL{Scheme: uriScheme, Host: uriConsole}
}

// IdentityFromCert reads the identity from a client certificate's palisade:// URI SAN. The
// certificate must already be verified against the CA (the TLS handshake does that); this only
// interprets it. A certificate with no palisade URI, or more than one, is rejected.
func IdentityFromCert(cert *x509.Certificate) (Identity, error) {
	if cert == nil {
		return Identity{}, fmt.Errorf("no client certificate")
	}
	var found []*url.URL
	for _, u := range cert.URIs {
		if u.Scheme == uriScheme {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return Identity{}, fmt.Errorf("client certificate %q names no Palisade identity (no palisade:// URI SAN)", cert.Subject.CommonName)
	case 1:
	default:
		return Identity{}, fmt.Errorf("client certificate %q names %d Palisade identities, want exactly one", cert.Subject.CommonName, len(found))
	}
	u := found[0]
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return Identity{}, fmt.Errorf("client certificate identity %q is malformed", u.String())
	}
	switch {
	case u.Host == uriConsole && u.Path == "":
		return Identity{Role: RoleConsole}, nil
	case u.Host == uriNodeHost:
		id, ok := strings.CutPrefix(u.Path, "/")
		if !ok {
			return Identity{}, fmt.Errorf("client certificate identity %q has no node id", u.String())
		}
		if err := enrolment.ValidateNodeID(id); err != nil {
			return Identity{}, fmt.Errorf("client certificate identity %q: %w", u.String(), err)
		}
		return Identity{Role: RoleNode, NodeID: id}, nil
	default:
		return Identity{}, fmt.Errorf("client certificate identity %q is not a node or the console", u.String())
	}
}

// NodeIDFromCert returns the node id a verified client certificate names. It fails for the
// console's own certificate (ErrConsoleIdentity) and for certificates naming no node.
func NodeIDFromCert(cert *x509.Certificate) (string, error) {
	id, err := IdentityFromCert(cert)
	if err != nil {
		return "", err
	}
	if id.Role != RoleNode {
		return "", ErrConsoleIdentity
	}
	return id.NodeID, nil
}
