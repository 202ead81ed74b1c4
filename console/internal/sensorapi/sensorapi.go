// Package sensorapi implements the SensorService the console serves to sensors and cloud
// connectors: enrolment with a one-time token, hello with node facts, scan state reports and
// the acknowledged result stream. Every call but Enrol acts for the node named in the caller's
// mTLS certificate, and only for that node.
package sensorapi

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/palisadehq/palisade/console/internal/api"
	"github.com/palisadehq/palisade/console/internal/scans"
	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/enrolment"
	"github.com/palisadehq/palisade/pkg/posture"
	"github.com/palisadehq/palisade/pkg/wire"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Authority signs node certificates.
type Authority interface {
	SignNode(csrDER []byte, nodeID string, ttl time.Duration) ([]byte, error)
	CACertPEM() []byte
}

// Bus holds the nodes' jobs.
type Bus interface {
	// RemoveNode deletes the jobs stored for a node.
	RemoveNode(ctx context.Context, nodeID string) error
	// PendingJobs returns the stored jobs of the node's scans among scanIDs, oldest first.
	PendingJobs(ctx context.Context, nodeID string, scanIDs []string) ([]*sensorv1.Job, error)
	URLs() []string
	// NodeCredentials returns the NATS credentials the node presents with its certificate
	// (valid until notAfter, the certificate's expiry), or "" when the certificate is enough.
	NodeCredentials(nodeID string, notAfter time.Time) (string, error)
}

// Config builds a Server.
type Config struct {
	Store     store.Store
	Scans     *scans.Manager
	Authority Authority
	Bus       Bus
	// ParseToken checks an enrolment token's form and returns the hash it is stored under.
	ParseToken func(token string) (hash []byte, err error)
	// NodeIDFromCert names the node a verified client certificate belongs to.
	NodeIDFromCert func(*x509.Certificate) (string, error)
	// CertTTL is the lifetime of node certificates.
	CertTTL time.Duration
	// DecodeBudget bounds the encoded bytes of the result batches being decoded, checked and
	// stored, across all streams; 0 means DefaultDecodeBudget. The server must use Codec.
	DecodeBudget int64
	Logger       *zap.Logger
	Now          func() time.Time
}

// Server implements sensorv1.SensorServiceServer.
type Server struct {
	sensorv1.UnimplementedSensorServiceServer
	cfg Config
	log *zap.Logger
	// enrolled is when this replica last found each node in the store, by node id
	// (time.Time): a running node calls every few seconds, and each call looking the node up
	// again would cost ten thousand nodes thousands of store reads a second.
	enrolled sync.Map
	// facts is what this replica last wrote of each node's facts, by node id (factsWrite).
	facts sync.Map
	// decoding holds the encoded size of each batch being decoded, checked and stored
	// (DecodeBudget in all); a stream waits for room before it decodes its next batch.
	decoding *semaphore.Weighted
}

// factsWrite is a node's facts as this replica last wrote them, and when.
type factsWrite struct {
	facts store.NodeFacts
	at    time.Time
}

// factsRewrite is how long facts a hello repeats go without being written again: a node says
// hello every 30 s with facts that seldom change, and another replica may have written other
// facts meanwhile.
const factsRewrite = 10 * time.Minute

// enrolledRecheck is how long a node found in the store is trusted without looking again.
// The store never deletes a node; the look-up guards against a certificate of this
// authority whose node is not in this store (a restored or replaced database), which ten
// minutes of trust does not make worse. Looked up every minute, a fleet of ten thousand
// sensors would cost a query per report for most of the reports of a start.
const enrolledRecheck = 10 * time.Minute

// New builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Scans == nil || cfg.Authority == nil || cfg.Bus == nil || cfg.ParseToken == nil || cfg.NodeIDFromCert == nil {
		return nil, errors.New("sensorapi: store, scans, authority, bus, ParseToken and NodeIDFromCert are required")
	}
	if cfg.CertTTL <= 0 {
		cfg.CertTTL = 365 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.DecodeBudget <= 0 {
		cfg.DecodeBudget = DefaultDecodeBudget
	}
	return &Server{cfg: cfg, log: cfg.Logger, decoding: semaphore.NewWeighted(cfg.DecodeBudget)}, nil
}

// Enrol exchanges an enrolment token and a CSR for a node identity.
func (s *Server) Enrol(ctx context.Context, req *sensorv1.EnrolRequest) (*sensorv1.EnrolResponse, error) {
	if err := checkCapability(req.GetCapabilityVersion()); err != nil {
		return nil, err
	}
	hash, err := s.cfg.ParseToken(req.GetToken())
	if err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "enrolment token: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(req.GetCsrDer())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "certificate request: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "certificate request signature: %v", err)
	}
	facts, tt, err := factsFromProto(req.GetFacts())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	now := s.cfg.Now().UTC()
	nodeID, err := enrolment.NewNodeID()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "node id: %v", err)
	}
	node := store.Node{ID: nodeID, Name: facts.Hostname, TargetType: tt, Facts: facts, EnrolledAt: now, LastSeenAt: now}
	// Check the token before doing anything for the node, so that bad tokens create nothing.
	if err := s.checkToken(ctx, hash, now); err != nil {
		return nil, err
	}
	certPEM, err := s.cfg.Authority.SignNode(req.GetCsrDer(), node.ID, s.cfg.CertTTL)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "sign node certificate: %v", err)
	}
	if err := s.cfg.Store.EnrolNode(ctx, hash, node, now); err != nil {
		return nil, tokenError(err)
	}
	natsCreds, err := s.natsCredentials(node.ID, certPEM)
	if err != nil {
		return nil, err
	}
	_ = s.cfg.Store.AppendAudit(ctx, store.AuditEntry{At: now, Actor: "node:" + node.ID, Action: "node.enrol", Target: node.ID,
		Detail: fmt.Sprintf("hostname=%s type=%s", node.Name, tt)})
	s.log.Info("node enrolled", zap.String("node", node.ID), zap.String("hostname", node.Name))
	return &sensorv1.EnrolResponse{NodeId: node.ID, CertificatePem: certPEM, CaPem: s.cfg.Authority.CACertPEM(), NatsUrls: s.cfg.Bus.URLs(),
		NatsCredentials: natsCreds}, nil
}

// checkToken rejects an unknown, revoked, expired or used-up enrolment token without
// consuming it.
func (s *Server) checkToken(ctx context.Context, hash []byte, now time.Time) error {
	tokens, err := s.cfg.Store.ListEnrolTokens(ctx)
	if err != nil {
		return status.Errorf(codes.Internal, "enrol: %v", err)
	}
	for _, t := range tokens {
		if subtle.ConstantTimeCompare(t.Hash, hash) != 1 {
			continue
		}
		switch {
		case !t.RevokedAt.IsZero():
			return tokenError(store.ErrTokenRevoked)
		case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
			return tokenError(store.ErrTokenExpired)
		case t.Used >= t.Uses:
			return tokenError(store.ErrTokenUsedUp)
		}
		return nil
	}
	return tokenError(store.ErrNotFound)
}

// tokenError turns an enrolment failure into the status a sensor shows its operator.
func tokenError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.Unauthenticated, "unknown enrolment token; create one with `palisade-console token create`")
	case errors.Is(err, store.ErrTokenExpired):
		return status.Error(codes.Unauthenticated, "enrolment token expired; create a new one with `palisade-console token create`")
	case errors.Is(err, store.ErrTokenUsedUp):
		return status.Error(codes.Unauthenticated, "enrolment token has no uses left; create a new one with `palisade-console token create`")
	case errors.Is(err, store.ErrTokenRevoked):
		return status.Error(codes.Unauthenticated, "enrolment token was revoked")
	}
	return status.Errorf(codes.Internal, "enrol: %v", err)
}

// Hello records the node's facts after a (re)connect.
func (s *Server) Hello(ctx context.Context, req *sensorv1.HelloRequest) (*sensorv1.HelloResponse, error) {
	nodeID, err := s.node(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkCapability(req.GetCapabilityVersion()); err != nil {
		return nil, err
	}
	facts, _, err := factsFromProto(req.GetFacts())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	now := s.cfg.Now().UTC()
	if last, ok := s.facts.Load(nodeID); ok && last.(factsWrite).facts == facts && now.Sub(last.(factsWrite).at) < factsRewrite {
		// Nothing new but the sighting, written through the bookkeeping path at most every
		// 30 s.
		s.cfg.Scans.Touch(ctx, nodeID, now)
	} else {
		if err := s.cfg.Store.UpdateNodeFacts(ctx, nodeID, facts, now); err != nil {
			return nil, api.ToStatus(err)
		}
		s.facts.Store(nodeID, factsWrite{facts: facts, at: now})
		s.cfg.Scans.Seen(nodeID, now)
	}
	var notAfter time.Time
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.VerifiedChains) > 0 && len(info.State.VerifiedChains[0]) > 0 {
			notAfter = info.State.VerifiedChains[0][0].NotAfter
		}
	}
	natsCreds, err := s.cfg.Bus.NodeCredentials(nodeID, notAfter)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "issue NATS credentials: %v", err)
	}
	return &sensorv1.HelloResponse{
		NodeId: nodeID, NatsUrls: s.cfg.Bus.URLs(), CapabilityVersion: wire.CapabilityVersion,
		HeartbeatSeconds: uint32(max(1, s.cfg.Scans.HeartbeatInterval()/time.Second)),
		NatsCredentials:  natsCreds,
		PendingJobs:      s.pendingJobs(ctx, nodeID),
	}, nil
}

// pendingJobs returns the stored jobs of the node's scans that still wait for it. They are
// the node's way to jobs published while it was not subscribed; when they cannot be read now
// the hello goes on without them and the node gets them at its next hello.
func (s *Server) pendingJobs(ctx context.Context, nodeID string) []*sensorv1.Job {
	ids, err := s.cfg.Scans.Waiting(ctx, nodeID)
	if err != nil {
		s.log.Warn("could not list the scans waiting for a node; its next hello tries again", zap.String("node", nodeID), zap.Error(err))
		return nil
	}
	if len(ids) == 0 {
		return nil
	}
	pending, err := s.cfg.Bus.PendingJobs(ctx, nodeID, ids)
	if err != nil {
		s.log.Warn("could not read a node's waiting jobs; its next hello tries again", zap.String("node", nodeID), zap.Error(err))
		return nil
	}
	return pending
}

// UpdateScan records a scan's state, progress or heartbeat.
func (s *Server) UpdateScan(ctx context.Context, req *sensorv1.UpdateScanRequest) (*sensorv1.UpdateScanResponse, error) {
	nodeID, err := s.node(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.cfg.Scans.Update(ctx, nodeID, req)
	if err != nil {
		return nil, api.ToStatus(err)
	}
	return &sensorv1.UpdateScanResponse{State: wire.StateToProto(st)}, nil
}

// StreamResults stores result batches and acknowledges each after its commit.
//
// Each batch is received still encoded and decoded only when the decode budget has room for
// it: when thousands of sensors send at once, each waits holding the bytes it sent (which
// flow control bounds) rather than the four times larger decoded batch, and no more than
// the budget's worth is decoded at any moment however many stream.
func (s *Server) StreamResults(stream sensorv1.SensorService_StreamResultsServer) error {
	ctx := stream.Context()
	nodeID, err := s.node(ctx)
	if err != nil {
		return err
	}
	for {
		var raw rawBatch
		err := stream.RecvMsg(&raw)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		ack, err := s.ingest(ctx, nodeID, &raw)
		if err != nil {
			return err
		}
		if err := stream.Send(ack); err != nil {
			return err
		}
	}
}

// ingest decodes and stores one encoded batch within the decode budget and returns its
// acknowledgement, or the status that ends the stream. It frees raw.
func (s *Server) ingest(ctx context.Context, nodeID string, raw *rawBatch) (*sensorv1.BatchAck, error) {
	defer raw.free()
	weight := min(int64(raw.len()), s.cfg.DecodeBudget)
	if err := s.decoding.Acquire(ctx, weight); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	defer s.decoding.Release(weight)
	b, err := decodeBatch(raw.bytes())
	raw.free()
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "the result batch could not be decoded: %v", err)
	}
	ack, err := s.cfg.Scans.Ingest(ctx, nodeID, b)
	if err != nil {
		s.log.Warn("ingest failed", zap.String("node", nodeID), zap.String("scan", b.GetScanId()), zap.Error(err))
		return nil, api.ToStatus(err)
	}
	if ack.GetError() != "" {
		s.log.Warn("batch rejected", zap.String("node", nodeID), zap.String("scan", b.GetScanId()),
			zap.Uint64("seq", b.GetSeq()), zap.String("reason", ack.GetError()))
	}
	return ack, nil
}

// node authenticates the calling node from its verified client certificate.
func (s *Server) node(ctx context.Context) (string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", status.Error(codes.Unauthenticated, "no peer information")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return "", status.Error(codes.Unauthenticated, "a node certificate is required; enrol the sensor first")
	}
	id, err := s.cfg.NodeIDFromCert(info.State.VerifiedChains[0][0])
	if err != nil {
		return "", status.Errorf(codes.Unauthenticated, "node certificate: %v", err)
	}
	now := time.Now()
	if at, ok := s.enrolled.Load(id); ok && now.Sub(at.(time.Time)) < enrolledRecheck {
		return id, nil
	}
	if _, err := s.cfg.Store.GetNode(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.enrolled.Delete(id)
			return "", status.Errorf(codes.PermissionDenied, "node %s is not enrolled here", id)
		}
		return "", api.ToStatus(err)
	}
	s.enrolled.Store(id, now)
	return id, nil
}

// natsCredentials issues the NATS credentials of a newly enrolled node, bounded by the
// certificate just signed.
func (s *Server) natsCredentials(nodeID string, certPEM []byte) (string, error) {
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		return "", status.Error(codes.Internal, "issue NATS credentials: the signed certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return "", status.Errorf(codes.Internal, "issue NATS credentials: %v", err)
	}
	creds, err := s.cfg.Bus.NodeCredentials(nodeID, cert.NotAfter)
	if err != nil {
		return "", status.Errorf(codes.Internal, "issue NATS credentials: %v", err)
	}
	return creds, nil
}

func checkCapability(v uint32) error {
	if v < wire.MinCapabilityVersion || v > wire.CapabilityVersion {
		return status.Errorf(codes.FailedPrecondition, "sensor speaks protocol version %d; this console supports %d to %d: upgrade the older side",
			v, wire.MinCapabilityVersion, wire.CapabilityVersion)
	}
	return nil
}

const maxFactLen = 256

func factsFromProto(f *sensorv1.NodeFacts) (store.NodeFacts, posture.TargetType, error) {
	if f == nil {
		return store.NodeFacts{}, "", errors.New("node facts are required")
	}
	tt := posture.Linux
	if f.GetTargetType() != "" {
		var err error
		if tt, err = posture.ParseTargetType(f.GetTargetType()); err != nil {
			return store.NodeFacts{}, "", err
		}
	}
	out := store.NodeFacts{
		Hostname: strings.TrimSpace(f.GetHostname()), OSID: f.GetOsId(), OSVersion: f.GetOsVersion(), OSName: f.GetOsName(),
		Kernel: f.GetKernel(), Arch: f.GetArch(), MachineID: f.GetMachineId(), SensorVersion: f.GetSensorVersion(),
		CatalogVersion: f.GetCatalogVersion(),
	}
	if out.Hostname == "" {
		return store.NodeFacts{}, "", errors.New("node facts: hostname is required")
	}
	for name, v := range map[string]string{"hostname": out.Hostname, "os_id": out.OSID, "os_version": out.OSVersion, "os_name": out.OSName,
		"kernel": out.Kernel, "arch": out.Arch, "machine_id": out.MachineID, "sensor_version": out.SensorVersion, "catalog_version": out.CatalogVersion} {
		if len(v) > maxFactLen {
			return store.NodeFacts{}, "", fmt.Errorf("node facts: %s is longer than %d bytes", name, maxFactLen)
		}
	}
	return out, tt, nil
}
