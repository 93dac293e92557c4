package dns

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Config is dns_config plus domain and recursors.
type Config struct {
	Domain         string
	Datacenter     string
	NodeName       string
	AllowStale     bool
	MaxStale       time.Duration
	NodeTTL        time.Duration
	ServiceTTL     map[string]time.Duration
	UDPAnswerLimit int
	OnlyPassing    bool
	EnableTruncate bool
	Recursors      []string
	RecursorTTL    time.Duration
}

// DefaultConfig is Consul's defaults.
func DefaultConfig() Config {
	return Config{Domain: "consul.", AllowStale: true, MaxStale: 87600 * time.Hour, UDPAnswerLimit: 3, RecursorTTL: 2 * time.Second}
}

type rawDNSConfig struct {
	AllowStale     *bool             `json:"allow_stale"`
	MaxStale       string            `json:"max_stale"`
	NodeTTL        string            `json:"node_ttl"`
	ServiceTTL     map[string]string `json:"service_ttl"`
	UDPAnswerLimit *int              `json:"udp_answer_limit"`
	OnlyPassing    *bool             `json:"only_passing"`
	EnableTruncate *bool             `json:"enable_truncate"`
	RecursorTimout string            `json:"recursor_timeout"`
	ARecordLimit   *int              `json:"a_record_limit"`
	SOA            json.RawMessage   `json:"soa"`
	UseCache       *bool             `json:"use_cache"`
}

// Apply reads the raw config values (later ones override earlier ones).
func (c *Config) Apply(dnsConfig, domain, recursors []json.RawMessage) error {
	for _, raw := range domain {
		var d string
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("config: domain: want a string")
		}
		c.Domain = strings.ToLower(strings.TrimSuffix(d, ".")) + "."
	}
	for _, raw := range recursors {
		var rs []string
		if err := json.Unmarshal(raw, &rs); err != nil {
			return fmt.Errorf("config: recursors: want a list of addresses")
		}
		c.Recursors = append(c.Recursors, rs...)
	}
	dur := func(name, v string, dst *time.Duration) error {
		if v == "" {
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("config: dns_config.%s: invalid duration %q", name, v)
		}
		*dst = d
		return nil
	}
	for _, raw := range dnsConfig {
		var r rawDNSConfig
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("config: dns_config: %v", strings.TrimPrefix(err.Error(), "json: "))
		}
		if r.AllowStale != nil {
			c.AllowStale = *r.AllowStale
		}
		if r.UDPAnswerLimit != nil {
			c.UDPAnswerLimit = *r.UDPAnswerLimit
		}
		if r.OnlyPassing != nil {
			c.OnlyPassing = *r.OnlyPassing
		}
		if r.EnableTruncate != nil {
			c.EnableTruncate = *r.EnableTruncate
		}
		if err := dur("max_stale", r.MaxStale, &c.MaxStale); err != nil {
			return err
		}
		if err := dur("node_ttl", r.NodeTTL, &c.NodeTTL); err != nil {
			return err
		}
		if err := dur("recursor_timeout", r.RecursorTimout, &c.RecursorTTL); err != nil {
			return err
		}
		for k, v := range r.ServiceTTL {
			var d time.Duration
			if err := dur("service_ttl."+k, v, &d); err != nil {
				return err
			}
			if c.ServiceTTL == nil {
				c.ServiceTTL = map[string]time.Duration{}
			}
			c.ServiceTTL[k] = d
		}
	}
	return nil
}

// serviceTTL picks the TTL for a service: exact name, then the longest
// "prefix*" match, then "*".
func (c *Config) serviceTTL(name string) time.Duration {
	if d, ok := c.ServiceTTL[name]; ok {
		return d
	}
	best, bestLen := time.Duration(0), -1
	for k, d := range c.ServiceTTL {
		if strings.HasSuffix(k, "*") {
			p := strings.TrimSuffix(k, "*")
			if strings.HasPrefix(name, p) && len(p) > bestLen {
				best, bestLen = d, len(p)
			}
		}
	}
	return best
}
