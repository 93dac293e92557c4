package remote

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
)

// MaxChunk is the largest output chunk a frame carries.
const MaxChunk = 32 << 10

// maxFrame bounds a frame's payload: a chunk plus a node name, or a spec
// (a command read from a script file may be long).
const maxFrame = 64 << 10

// Frame types. Targets send ack, output, heartbeat, exit and refused; the
// relay forwards them to the initiator tagged with the node's name, and
// adds lost when a target's stream ends without an exit.
const (
	frameHello     byte = 'H' // first frame of every stream: a hello
	frameSpec      byte = 'S' // relay → target: the job's spec
	frameError     byte = 'E' // relay → target or initiator: a refusal, then close
	frameAck       byte = 'A'
	frameOutput    byte = 'O'
	frameHeartbeat byte = 'B'
	frameExit      byte = 'X'
	frameRefused   byte = 'R'
	frameLost      byte = 'L'
	frameReady     byte = 'Y' // relay → initiator: the job is registered
)

// hello opens a stream to the relay.
type hello struct {
	Role string // "initiator" or "target"
	Job  string
	Node string `json:",omitempty"` // target
	Spec *Spec  `json:",omitempty"` // initiator
	// Datacenter (initiator) is where the job runs; a relay of another
	// datacenter passes the stream on to a relay there.
	Datacenter string `json:",omitempty"`
	// Announce (initiator) asks the relay to announce the job in its
	// datacenter itself, with Filters (a job from another datacenter,
	// whose initiator is not in this LAN pool).
	Announce bool     `json:",omitempty"`
	Filters  *Filters `json:",omitempty"`
}

// ready is the relay's answer to an initiator: the job is registered,
// and, when the relay announced it, the nodes it expects to answer.
type ready struct {
	Announced bool     `json:",omitempty"`
	Expected  []string `json:",omitempty"`
}

// exitStatus is how a target's command ended.
type exitStatus struct {
	Code      int
	TimedOut  bool `json:",omitempty"`
	Truncated bool `json:",omitempty"`
}

// frameWriter writes frames; callers serialise their writes.
type frameWriter struct{ w io.Writer }

func (fw frameWriter) write(typ byte, payload ...[]byte) error {
	n := 0
	for _, p := range payload {
		n += len(p)
	}
	if n > maxFrame {
		return fmt.Errorf("remote exec: frame of %d bytes exceeds %d", n, maxFrame)
	}
	hdr := make([]byte, 5)
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(n))
	// One writev on a TCP connection, not a write per piece.
	bufs := append(net.Buffers{hdr}, payload...)
	_, err := bufs.WriteTo(fw.w)
	return err
}

func (fw frameWriter) writeJSON(typ byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return fw.write(typ, b)
}

// frameReader reads frames into a buffer it reuses: a payload is valid
// until the next read.
type frameReader struct {
	r   *bufio.Reader
	buf []byte
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 4<<10)}
}

var errFrameTooLarge = errors.New("remote exec: frame too large")

func (fr *frameReader) read() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, errFrameTooLarge
	}
	if cap(fr.buf) < int(n) {
		fr.buf = make([]byte, n)
	}
	p := fr.buf[:n]
	if _, err := io.ReadFull(fr.r, p); err != nil {
		return 0, nil, err
	}
	return hdr[0], p, nil
}

// tag prefixes a forwarded payload with the node it came from.
func tag(node string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(node)))
	return append(b, node...)
}

// untag splits a forwarded payload into node and body.
func untag(p []byte) (string, []byte, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || uint64(len(p)-k) < n {
		return "", nil, errors.New("remote exec: bad node tag")
	}
	return string(p[k : k+int(n)]), p[k+int(n):], nil
}
