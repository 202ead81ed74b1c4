package bus

import (
	"net"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"

	"github.com/palisadehq/palisade/console/internal/pki"
	"github.com/palisadehq/palisade/pkg/jobs"
)

// authenticator admits clients by the certificate the TLS handshake verified against the
// console CA and gives each the permissions of the identity it names.
type authenticator struct {
	log       *zap.Logger
	allowNode func(nodeID string) bool
}

// Check implements server.Authentication.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	remote := ""
	if addr := c.RemoteAddress(); addr != nil {
		remote = addr.String()
	}
	if c.Kind() != server.CLIENT {
		a.log.Warn("refusing non-client NATS connection", zap.String(logFieldRemote, remote))
		return false
	}
	if inProcess(c.RemoteAddress()) {
		// Only code in this process can open such a connection (Server.InProcessConn):
		// it is the console's own.
		c.RegisterUser(&server.User{Username: consoleName})
		return true
	}
	st := c.GetTLSConnectionState()
	if st == nil || len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		a.log.Warn("refusing NATS connection without a verified client certificate", zap.String(logFieldRemote, remote))
		return false
	}
	cert := st.PeerCertificates[0]
	id, err := pki.IdentityFromCert(cert)
	if err != nil {
		a.log.Warn("refusing NATS connection", zap.String(logFieldRemote, remote), zap.Error(err))
		return false
	}
	switch id.Role {
	case pki.RoleConsole:
		// nil permissions: everything is allowed.
		c.RegisterUser(&server.User{Username: consoleName})
		return true
	case pki.RoleNode:
		if a.allowNode != nil && !a.allowNode(id.NodeID) {
			a.log.Warn("refusing NATS connection of a node that is not allowed", zap.String(logFieldNode, id.NodeID), zap.String(logFieldRemote, remote))
			return false
		}
		c.RegisterUser(&server.User{
			Username:           nodeUserPrefix + id.NodeID,
			Permissions:        nodePermissions(id.NodeID),
			ConnectionDeadline: cert.NotAfter,
		})
		return true
	default:
		return false
	}
}

// inProcess reports whether a client's remote address is the in-process pipe the console
// connects through, rather than a network socket.
func inProcess(addr net.Addr) bool {
	return addr != nil && addr.Network() == "pipe"
}

// nodePermissions lets a node receive its own jobs and commands and nothing else: it publishes
// nothing (no JetStream API, no replies, no other node's subjects).
func nodePermissions(nodeID string) *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Deny: []string{">"},
		},
		Subscribe: &server.SubjectPermission{
			Allow: []string{jobs.JobSubject(nodeID), jobs.ControlSubject(nodeID)},
		},
	}
}

// serverLogger sends the embedded server's logs to zap. Notices are debug-level chatter; a
// fatal error is logged, never turned into an exit.
type serverLogger struct {
	log *zap.SugaredLogger
}

func (l *serverLogger) Noticef(format string, v ...any) { l.log.Debugf(format, v...) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.log.Warnf(format, v...) }
func (l *serverLogger) Fatalf(format string, v ...any)  { l.log.Errorf(format, v...) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.log.Errorf(format, v...) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.log.Debugf(format, v...) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.log.Debugf(format, v...) }
