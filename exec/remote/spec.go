package remote

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Defaults, as consul exec's where it has them.
const (
	// DefaultWait is how long nodes have to acknowledge (consul exec -wait).
	DefaultWait = 2 * time.Second
	// DefaultMaxOutput caps each node's output.
	DefaultMaxOutput = 1 << 20
	// maxSpec bounds an encoded spec (it travels in one frame).
	maxSpec = maxFrame - 1024
)

// Spec is what a job runs. It travels from the initiator to the relay and
// from the relay to each target, never through gossip.
type Spec struct {
	// Command runs with the target's shell; Args, when set instead, runs
	// directly.
	Command string   `json:",omitempty"`
	Args    []string `json:",omitempty"`
	// Wait is how long targets have to acknowledge; a running target sends
	// a heartbeat at least every Wait/2 (and every second at most).
	Wait time.Duration
	// Timeout kills the command's process group after this long (0: none).
	Timeout time.Duration `json:",omitempty"`
	// MaxOutput caps a node's output in bytes.
	MaxOutput int
	// Origin is the initiating agent, "node@datacenter", for the targets'
	// logs.
	Origin string
	// Token is the caller's ACL token, for the targets' authorization.
	Token string `json:",omitempty"`
}

// Filters select the targets, as a user event's filters do.
type Filters struct {
	Node    string `json:",omitempty"`
	Service string `json:",omitempty"`
	Tag     string `json:",omitempty"`
}

// Validate checks a spec and its filters before a job starts, with the
// messages consul exec gives.
func Validate(s *Spec, f Filters) error {
	switch {
	case s.Command == "" && len(s.Args) == 0:
		return errors.New("Must specify a command to execute")
	case s.Command != "" && len(s.Args) > 0:
		return errors.New("Cannot give both a command and arguments")
	case f.Tag != "" && f.Service == "":
		return errors.New("Cannot provide tag filter without service filter.")
	case s.Wait < 0 || s.Timeout < 0 || s.MaxOutput < 0:
		return errors.New("wait, timeout and max output cannot be negative")
	}
	for what, re := range map[string]string{"node": f.Node, "service": f.Service, "tag": f.Tag} {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("Failed to compile %s filter regexp: %v", what, err)
		}
	}
	return nil
}

// withDefaults fills Wait and MaxOutput.
func (s Spec) withDefaults() Spec {
	if s.Wait <= 0 {
		s.Wait = DefaultWait
	}
	if s.MaxOutput <= 0 {
		s.MaxOutput = DefaultMaxOutput
	}
	return s
}

// heartbeatEvery is how often a quiet running target says it is alive.
func (s *Spec) heartbeatEvery() time.Duration {
	return max(min(s.Wait/2, time.Second), 20*time.Millisecond)
}

// Announcement is what gossip carries to every node: enough to find the
// job, nothing secret.
type Announcement struct {
	Job     string
	Relay   string // the relay server's RPC address
	Origin  string
	Filters Filters
}

// Event is one thing that happened in a job, as the initiator reports it.
// Its JSON is api.ExecEvent's.
type Event struct {
	Type      string
	Node      string   `json:",omitempty"`
	Job       string   `json:",omitempty"`
	Expected  []string `json:",omitempty"`
	Data      []byte   `json:",omitempty"`
	Code      int      `json:",omitempty"`
	TimedOut  bool     `json:",omitempty"`
	Truncated bool     `json:",omitempty"`
	Reason    string   `json:",omitempty"`
	Acks      int      `json:",omitempty"`
	Exits     int      `json:",omitempty"`
}

// Event types (api.ExecEvent's).
const (
	EventStart     = "start"
	EventAck       = "ack"
	EventOutput    = "output"
	EventHeartbeat = "heartbeat"
	EventExit      = "exit"
	EventRefused   = "refused"
	EventLost      = "lost"
	EventNoAck     = "noack"
	EventDone      = "done"
)

// ReasonDisabled is what a node with remote exec off answers.
const ReasonDisabled = "remote exec disabled"
