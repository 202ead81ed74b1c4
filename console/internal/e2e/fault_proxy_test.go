package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// faultProxy is a TCP proxy on a loopback port that fault tests put in front of a console
// replica or of PostgreSQL. It can switch its target, cut every relayed connection at once and
// refuse new connections for a while: what a crashed, moved or restarting server looks like to
// its clients.
type faultProxy struct {
	ln net.Listener
	// relay copies the client's bytes to the server; io.Copy when nil. The PostgreSQL test
	// sets one that frames the protocol's messages to cut mid-transaction.
	relay func(dst io.Writer, src io.Reader) error
	wg    sync.WaitGroup

	// mu guards target, down and conns.
	mu     sync.Mutex
	target string
	down   bool
	conns  map[net.Conn]struct{}
}

// newFaultProxy listens on a free loopback port and relays to target (which may be set later
// with retarget). It stops when the test ends.
func newFaultProxy(t testing.TB, target string, relay func(dst io.Writer, src io.Reader) error) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, relay: relay, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// addr is where clients connect.
func (p *faultProxy) addr() string { return p.ln.Addr().String() }

// dial opens a connection to the proxy; it fits the sensor's Dialer, which then ignores the
// console address it was given.
func (p *faultProxy) dial(ctx context.Context, _ string) (net.Conn, error) {
	return (&net.Dialer{}).DialContext(ctx, "tcp", p.addr())
}

// retarget sends new connections to target; established ones stay where they are.
func (p *faultProxy) retarget(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
}

// cut closes every relayed connection on both sides, as a crash or a network failure would.
func (p *faultProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// outage cuts every connection and resets new ones for d, then accepts again and closes
// restored. It returns at once.
func (p *faultProxy) outage(d time.Duration, restored chan<- struct{}) {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.cut()
	time.AfterFunc(d, func() {
		p.mu.Lock()
		p.down = false
		p.mu.Unlock()
		close(restored)
	})
}

// isDown reports whether the proxy is refusing connections.
func (p *faultProxy) isDown() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down, target := p.down, p.target
		p.mu.Unlock()
		if down {
			// A reset, as from a host whose server is not listening.
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, up) {
			continue
		}
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			if p.relay != nil {
				_ = p.relay(up, c)
			} else {
				_, _ = io.Copy(up, c)
			}
			up.Close()
		}()
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(c, up)
			c.Close()
		}()
	}
}

// track registers a relayed pair; it closes both and reports false when an outage began
// while the upstream connection was being opened.
func (p *faultProxy) track(c, up net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		c.Close()
		up.Close()
		return false
	}
	p.conns[c] = struct{}{}
	p.conns[up] = struct{}{}
	return true
}

// relayPostgresFrontend copies a PostgreSQL client's messages to the server whole, one at a
// time, calling seen with each typed message's type byte before forwarding it. The first
// message of a connection (startup or cancel request) has no type byte. The client must not
// negotiate TLS (sslmode=disable): encrypted bytes cannot be framed.
func relayPostgresFrontend(seen func(typ byte)) func(dst io.Writer, src io.Reader) error {
	return func(dst io.Writer, src io.Reader) error {
		r := bufio.NewReader(src)
		var hdr [5]byte
		first := true
		for {
			var msg []byte
			if first {
				if _, err := io.ReadFull(r, hdr[:4]); err != nil {
					return err
				}
				n := binary.BigEndian.Uint32(hdr[:4])
				if n < 8 {
					return fmt.Errorf("postgres proxy: startup message of %d bytes", n)
				}
				msg = make([]byte, n)
				copy(msg, hdr[:4])
				if _, err := io.ReadFull(r, msg[4:]); err != nil {
					return err
				}
				if code := binary.BigEndian.Uint32(msg[4:8]); code == sslRequestCode || code == gssEncRequestCode {
					return errors.New("postgres proxy: the client asked for encryption; use sslmode=disable")
				}
				first = false
			} else {
				if _, err := io.ReadFull(r, hdr[:]); err != nil {
					return err
				}
				n := binary.BigEndian.Uint32(hdr[1:])
				if n < 4 {
					return fmt.Errorf("postgres proxy: message %q of %d bytes", hdr[0], n)
				}
				msg = make([]byte, 1+n)
				copy(msg, hdr[:])
				if _, err := io.ReadFull(r, msg[5:]); err != nil {
					return err
				}
				seen(hdr[0])
			}
			if _, err := dst.Write(msg); err != nil {
				return err
			}
		}
	}
}

// Request codes of the PostgreSQL startup packets that ask for encryption.
const (
	sslRequestCode    = 80877103
	gssEncRequestCode = 80877104
)

// pgCopyData is the type byte of a frontend CopyData message: rows of a COPY ... FROM STDIN,
// sent only inside the transaction that stores a result batch.
const pgCopyData = 'd'
