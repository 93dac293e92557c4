package replicate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Block is one `replicate` block of the agent's configuration:
//
//	"replicate": {"prefixes": ["ts@dc1", "app/@dc1:copy/"], "excludes": ["ts/private/"],
//	              "wait": "1s:4s", "retry": "5s", "token": "..."}
//
// (or a list of such blocks). The agent runs each against its own HTTP API
// for as long as it runs.
type Block struct {
	Config
	// Token is the ACL token the replicator uses.
	Token string
}

type blockJSON struct {
	Prefixes []string `json:"prefixes"`
	Excludes []string `json:"excludes"`
	Wait     string   `json:"wait"`
	Retry    string   `json:"retry"`
	Token    string   `json:"token"`
}

// ParseConfig reads the `replicate` values of the agent's config sources;
// a bad block is one line naming it.
func ParseConfig(sources []json.RawMessage) ([]Block, error) {
	var out []Block
	for _, src := range sources {
		src = bytes.TrimSpace(src)
		if len(src) == 0 || string(src) == "null" {
			continue
		}
		var list []json.RawMessage
		if src[0] == '{' {
			list = []json.RawMessage{src}
		} else if err := json.Unmarshal(src, &list); err != nil {
			return nil, fmt.Errorf("config: replicate: want an object or a list of objects")
		}
		for _, raw := range list {
			b, err := parseBlock(raw)
			if err != nil {
				return nil, fmt.Errorf("config: replicate[%d]: %s", len(out), err)
			}
			out = append(out, b)
		}
	}
	return out, nil
}

func parseBlock(raw json.RawMessage) (Block, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var j blockJSON
	if err := dec.Decode(&j); err != nil {
		return Block{}, fmt.Errorf("%v", strings.TrimPrefix(err.Error(), "json: "))
	}
	if len(j.Prefixes) == 0 {
		return Block{}, fmt.Errorf("no prefixes")
	}
	b := Block{Token: j.Token, Config: Config{Excludes: j.Excludes}}
	for _, p := range j.Prefixes {
		pr, err := ParsePrefix(p)
		if err != nil {
			return Block{}, err
		}
		b.Prefixes = append(b.Prefixes, pr)
	}
	var err error
	if j.Retry != "" {
		if b.Retry, err = time.ParseDuration(j.Retry); err != nil || b.Retry <= 0 {
			return Block{}, fmt.Errorf("invalid retry %q", j.Retry)
		}
	}
	if j.Wait != "" {
		if b.WaitMin, b.WaitMax, err = ParseWait(j.Wait); err != nil {
			return Block{}, err
		}
	}
	return b, nil
}

// ParseWait reads a quiescence "MIN:MAX" (MAX defaults to 4×MIN).
func ParseWait(s string) (lo, hi time.Duration, err error) {
	a, b, hasMax := strings.Cut(s, ":")
	lo, err1 := time.ParseDuration(a)
	hi = 4 * lo
	var err2 error
	if hasMax {
		hi, err2 = time.ParseDuration(b)
	}
	if err1 != nil || err2 != nil || lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("invalid wait %q: want MIN:MAX durations, MIN <= MAX", s)
	}
	return lo, hi, nil
}
