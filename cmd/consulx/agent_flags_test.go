package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"consulx/node"
)

// runBuildConfig calls buildConfig with a cliEnv whose streams are buffers.
func runBuildConfig(t *testing.T, args ...string) (cfg *node.Config, headless bool, code int, ok bool, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cliEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	cfg, headless, code, ok = buildConfig(args, env)
	if out.Len() != 0 {
		t.Errorf("buildConfig wrote to stdout: %q", out.String())
	}
	return cfg, headless, code, ok, errb.String()
}

// writeAgentConf writes a config file under dir and returns its path.
func writeAgentConf(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildConfigFlags(t *testing.T) {
	dir := t.TempDir()
	fileA := writeAgentConf(t, dir, "a.json", `{"datacenter": "dc2", "node_name": "a", "data_dir": "/data-a", "retry_join": ["file-1"], "start_join": ["file-s"], "ports": {"http": 9500, "dns": 9600}}`)
	fileServer := writeAgentConf(t, dir, "server.json", `{"data_dir": "/d", "server": true, "bootstrap_expect": 3, "leave_on_terminate": true}`)
	confDir := filepath.Join(dir, "conf.d")
	writeAgentConf(t, dir, "conf.d/20-node.json", `{"node_name": "from-dir-20", "retry_join": ["dir-20"]}`)
	writeAgentConf(t, dir, "conf.d/10-base.json", `{"node_name": "from-dir-10", "datacenter": "dc3", "data_dir": "/dir", "retry_join": ["dir-10"]}`)
	writeAgentConf(t, dir, "conf.d/notes.txt", "this is not json")

	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, c *node.Config)
	}{
		{"flag overrides file, rest of file kept", []string{"-config-file", fileA, "-node", "b"}, func(t *testing.T, c *node.Config) {
			if c.NodeName != "b" || c.Datacenter != "dc2" || c.DataDir != "/data-a" {
				t.Errorf("node %q dc %q data_dir %q; want b dc2 /data-a", c.NodeName, c.Datacenter, c.DataDir)
			}
		}},
		{"flag before config-file still wins", []string{"-node", "b", "-config-file", fileA}, func(t *testing.T, c *node.Config) {
			if c.NodeName != "b" || c.Datacenter != "dc2" {
				t.Errorf("node %q dc %q; want b dc2", c.NodeName, c.Datacenter)
			}
		}},
		{"datacenter flag overrides file", []string{"-config-file", fileA, "-datacenter", "dc9"}, func(t *testing.T, c *node.Config) {
			if c.Datacenter != "dc9" || c.NodeName != "a" {
				t.Errorf("dc %q node %q; want dc9 a", c.Datacenter, c.NodeName)
			}
		}},
		{"port flags override file ports", []string{"-config-file", fileA, "-http-port", "18500", "-server-port", "18300"}, func(t *testing.T, c *node.Config) {
			want := node.Ports{HTTP: 18500, HTTPS: -1, DNS: 9600, SerfLAN: 8301, SerfWAN: 8302, Server: 18300, GRPC: -1, GRPCTLS: -1}
			if c.Ports != want {
				t.Errorf("ports %+v, want %+v", c.Ports, want)
			}
		}},
		{"all port flags", []string{"-dev", "-http-port", "1", "-dns-port", "2", "-serf-lan-port", "3", "-serf-wan-port", "4", "-server-port", "5"}, func(t *testing.T, c *node.Config) {
			want := node.Ports{HTTP: 1, HTTPS: -1, DNS: 2, SerfLAN: 3, SerfWAN: 4, Server: 5, GRPC: -1, GRPCTLS: -1}
			if c.Ports != want {
				t.Errorf("ports %+v, want %+v", c.Ports, want)
			}
		}},
		{"config-dir lexical order, flags win", []string{"-config-dir", confDir, "-retry-join", "flag-1"}, func(t *testing.T, c *node.Config) {
			if c.NodeName != "from-dir-20" || c.Datacenter != "dc3" || c.DataDir != "/dir" {
				t.Errorf("node %q dc %q data_dir %q; want from-dir-20 dc3 /dir", c.NodeName, c.Datacenter, c.DataDir)
			}
			if want := []string{"dir-10", "dir-20", "flag-1"}; !reflect.DeepEqual(c.RetryJoin, want) {
				t.Errorf("retry_join %v, want %v", c.RetryJoin, want)
			}
		}},
		{"config-file before config-dir", []string{"-config-dir", confDir, "-config-file", fileA}, func(t *testing.T, c *node.Config) {
			if c.NodeName != "from-dir-20" || c.Datacenter != "dc3" {
				t.Errorf("node %q dc %q; want the dir's values over the file's", c.NodeName, c.Datacenter)
			}
			if want := []string{"file-1", "dir-10", "dir-20"}; !reflect.DeepEqual(c.RetryJoin, want) {
				t.Errorf("retry_join %v, want %v", c.RetryJoin, want)
			}
		}},
		{"-join repeatable, appended to file", []string{"-config-file", fileA, "-join", "j1", "-join", "j2"}, func(t *testing.T, c *node.Config) {
			if want := []string{"file-s", "j1", "j2"}; !reflect.DeepEqual(c.StartJoin, want) {
				t.Errorf("start_join %v, want %v", c.StartJoin, want)
			}
		}},
		{"-retry-join repeatable, appended to file", []string{"-config-file", fileA, "-retry-join", "r1", "--retry-join=r2", "-retry-join", "r3"}, func(t *testing.T, c *node.Config) {
			if want := []string{"file-1", "r1", "r2", "r3"}; !reflect.DeepEqual(c.RetryJoin, want) {
				t.Errorf("retry_join %v, want %v", c.RetryJoin, want)
			}
		}},
		{"-join-wan and -retry-join-wan", []string{"-dev", "-join-wan", "w1", "-retry-join-wan", "w2", "-retry-join-wan", "w3"}, func(t *testing.T, c *node.Config) {
			if want := []string{"w1", "w2", "w3"}; !reflect.DeepEqual(c.RetryJoinWAN, want) {
				t.Errorf("retry_join_wan %v, want %v", c.RetryJoinWAN, want)
			}
		}},
		{"single-dash -server", []string{"-server", "-data-dir", "/d"}, func(t *testing.T, c *node.Config) {
			if !c.Server {
				t.Error("-server did not set server mode")
			}
		}},
		{"double-dash --server", []string{"--server", "--data-dir", "/d"}, func(t *testing.T, c *node.Config) {
			if !c.Server || c.DataDir != "/d" {
				t.Errorf("server %v data_dir %q; want true /d", c.Server, c.DataDir)
			}
		}},
		{"--flag=value form", []string{"--data-dir=/x", "--node=n2", "-datacenter=dc5", "--server=true"}, func(t *testing.T, c *node.Config) {
			if c.DataDir != "/x" || c.NodeName != "n2" || c.Datacenter != "dc5" || !c.Server {
				t.Errorf("got data_dir %q node %q dc %q server %v", c.DataDir, c.NodeName, c.Datacenter, c.Server)
			}
		}},
		{"-server=false overrides file", []string{"-config-file", fileServer, "-server=false", "-bootstrap-expect", "0"}, func(t *testing.T, c *node.Config) {
			if c.Server || c.BootstrapExpect != 0 {
				t.Errorf("server %v expect %d; want false 0", c.Server, c.BootstrapExpect)
			}
		}},
		{"file server with bootstrap_expect", []string{"-config-file", fileServer}, func(t *testing.T, c *node.Config) {
			if !c.Server || c.BootstrapExpect != 3 || !c.LeaveOnTerminate || !c.SkipLeaveOnInterrupt {
				t.Errorf("server %v expect %d leave %v skip %v; want true 3 true(file) true", c.Server, c.BootstrapExpect, c.LeaveOnTerminate, c.SkipLeaveOnInterrupt)
			}
		}},
		{"-bootstrap-expect", []string{"-server", "-bootstrap-expect", "5", "-data-dir", "/d"}, func(t *testing.T, c *node.Config) {
			if c.BootstrapExpect != 5 {
				t.Errorf("bootstrap_expect %d, want 5", c.BootstrapExpect)
			}
		}},
		{"-bootstrap means expect 1", []string{"-server", "-bootstrap", "-data-dir", "/d"}, func(t *testing.T, c *node.Config) {
			if c.BootstrapExpect != 1 {
				t.Errorf("bootstrap_expect %d, want 1", c.BootstrapExpect)
			}
		}},
		{"addresses and log level", []string{"-dev", "-bind", "10.0.0.1", "-advertise", "10.0.0.2", "-client", "0.0.0.0", "-log-level", "debug"}, func(t *testing.T, c *node.Config) {
			if c.BindAddr != "10.0.0.1" || c.AdvertiseAddr != "10.0.0.2" || c.ClientAddr != "0.0.0.0" || c.LogLevel != "debug" {
				t.Errorf("bind %q advertise %q client %q log %q", c.BindAddr, c.AdvertiseAddr, c.ClientAddr, c.LogLevel)
			}
		}},
		{"-retry-interval", []string{"-dev", "-retry-interval", "5s"}, func(t *testing.T, c *node.Config) {
			if c.RetryInterval != 5*time.Second {
				t.Errorf("retry_interval %v, want 5s", c.RetryInterval)
			}
		}},
		{"-dev defaults", []string{"-dev"}, func(t *testing.T, c *node.Config) {
			if !c.Dev || !c.Server || c.BootstrapExpect != 1 || c.BindAddr != "127.0.0.1" || c.DataDir != "" {
				t.Errorf("dev %v server %v expect %d bind %q data_dir %q", c.Dev, c.Server, c.BootstrapExpect, c.BindAddr, c.DataDir)
			}
			if c.LeaveOnTerminate || !c.SkipLeaveOnInterrupt {
				t.Errorf("dev server: leave %v skip %v, want false true", c.LeaveOnTerminate, c.SkipLeaveOnInterrupt)
			}
		}},
		{"client leave defaults", []string{"-data-dir", "/d"}, func(t *testing.T, c *node.Config) {
			if c.Server || !c.LeaveOnTerminate || c.SkipLeaveOnInterrupt {
				t.Errorf("server %v leave %v skip %v; want false true false", c.Server, c.LeaveOnTerminate, c.SkipLeaveOnInterrupt)
			}
		}},
		{"no flags: defaults except data_dir", []string{"-data-dir", "/d"}, func(t *testing.T, c *node.Config) {
			def := node.DefaultConfig()
			if c.Datacenter != def.Datacenter || c.NodeName != def.NodeName || c.Ports != def.Ports || c.RetryInterval != def.RetryInterval || c.LogLevel != def.LogLevel {
				t.Errorf("defaults changed without flags: %+v", c)
			}
			if len(c.RetryJoin) != 0 || len(c.StartJoin) != 0 || len(c.RetryJoinWAN) != 0 {
				t.Errorf("join lists not empty: %v %v %v", c.RetryJoin, c.StartJoin, c.RetryJoinWAN)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, code, ok, stderr := runBuildConfig(t, tc.args...)
			if !ok || code != 0 || cfg == nil {
				t.Fatalf("buildConfig(%q): ok %v code %d stderr %q", tc.args, ok, code, stderr)
			}
			if stderr != "" {
				t.Errorf("unexpected stderr: %q", stderr)
			}
			tc.check(t, cfg)
		})
	}
}

func TestBuildConfigHeadless(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"-dev"}, false},
		{[]string{"-dev", "-headless"}, true},
		{[]string{"--headless", "-dev"}, true},
	} {
		_, headless, code, ok, stderr := runBuildConfig(t, tc.args...)
		if !ok || code != 0 {
			t.Fatalf("%q: ok %v code %d stderr %q", tc.args, ok, code, stderr)
		}
		if headless != tc.want {
			t.Errorf("%q: headless %v, want %v", tc.args, headless, tc.want)
		}
	}
}

func TestBuildConfigErrors(t *testing.T) {
	dir := t.TempDir()
	badKey := writeAgentConf(t, dir, "bad-key.json", `{"datacenter": "dc1", "ports": {"htp": 1}}`)
	badType := writeAgentConf(t, dir, "bad-type.json", `{"server": "yes"}`)
	badJSON := writeAgentConf(t, dir, "bad-json.json", `{"server": true,,}`)
	empty := writeAgentConf(t, dir, "empty.json", ``)
	yaml := writeAgentConf(t, dir, "agent.yaml", `server: true`)
	badHCL := writeAgentConf(t, dir, "bad.hcl", "ports {\n  htp = 1\n}\n")
	badDir := filepath.Join(dir, "bad.d")
	writeAgentConf(t, dir, "bad.d/a.json", `{"data_dir": "/d"}`)
	badInDir := writeAgentConf(t, dir, "bad.d/b.json", `{"bogus": true}`)
	missing := filepath.Join(dir, "missing.json")

	tests := []struct {
		name       string
		args       []string
		code       int
		singleLine bool     // stderr must be exactly one line
		want       []string // substrings of stderr
	}{
		// Flag errors: the flag package prints the reason and usage.
		{"unknown flag", []string{"-dev", "-no-such-flag"}, 1, false, []string{"no-such-flag"}},
		{"unknown double-dash flag", []string{"--bogus=1"}, 1, false, []string{"bogus"}},
		{"bad int value", []string{"-dev", "-bootstrap-expect", "three"}, 1, false, []string{"bootstrap-expect", "three"}},
		{"bad port value", []string{"-dev", "-http-port", "http"}, 1, false, []string{"http-port"}},
		{"bad bool value", []string{"-server=maybe"}, 1, false, []string{"server", "maybe"}},
		{"duration without unit", []string{"-dev", "-retry-interval", "30"}, 1, false, []string{"retry-interval"}},
		{"missing flag value", []string{"-dev", "-node"}, 1, false, []string{"node"}},

		// Config file errors: one line naming the file.
		{"unknown nested key in file", []string{"-dev", "-config-file", badKey}, 1, true, []string{badKey, "htp"}},
		{"wrong type in file", []string{"-dev", "-config-file", badType}, 1, true, []string{badType, "server"}},
		{"invalid JSON file", []string{"-dev", "-config-file", badJSON}, 1, true, []string{badJSON}},
		{"empty file", []string{"-dev", "-config-file", empty}, 1, true, []string{empty}},
		{"missing file", []string{"-dev", "-config-file", missing}, 1, true, []string{missing}},
		{"neither json nor hcl", []string{"-dev", "-config-file", yaml}, 1, true, []string{yaml, ".json or .hcl"}},
		{"unknown key in an HCL file", []string{"-dev", "-config-file", badHCL}, 1, true, []string{badHCL, "ports.htp"}},
		{"bad file in config-dir", []string{"-dev", "-config-dir", badDir}, 1, true, []string{badInDir, "bogus"}},
		{"missing config-dir", []string{"-dev", "-config-dir", filepath.Join(dir, "nope.d")}, 1, true, []string{filepath.Join(dir, "nope.d")}},

		// Finalize errors: one line too.
		{"no data_dir", []string{"-node", "n"}, 1, true, []string{"data_dir"}},
		{"bootstrap-expect without server", []string{"-data-dir", "/d", "-bootstrap-expect", "3"}, 1, true, []string{"bootstrap_expect"}},
		{"bad datacenter flag", []string{"-dev", "-datacenter", "DC1"}, 1, true, []string{"DC1"}},
		{"bad log level flag", []string{"-dev", "-log-level", "chatty"}, 1, true, []string{"chatty"}},

		// Positional arguments are refused.
		{"positional argument", []string{"foo"}, 1, true, []string{`"foo"`}},
		{"positional after flags", []string{"-dev", "extra"}, 1, true, []string{`"extra"`}},
		{"positional after bool flag", []string{"-server", "true", "-data-dir", "/d"}, 1, true, []string{`"true"`}},
		{"arguments after --", []string{"-dev", "--", "-server"}, 1, true, []string{`"-server"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, code, ok, stderr := runBuildConfig(t, tc.args...)
			if ok || cfg != nil {
				t.Fatalf("buildConfig(%q) succeeded, want failure", tc.args)
			}
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if strings.TrimSpace(stderr) == "" {
				t.Fatal("no message on stderr")
			}
			if tc.singleLine && (strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n")) {
				t.Errorf("stderr is not a single line: %q", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not mention %q", stderr, w)
				}
			}
		})
	}
}

func TestBuildConfigHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		cfg, _, code, ok, stderr := runBuildConfig(t, arg)
		if ok || cfg != nil {
			t.Errorf("%s: buildConfig succeeded, want it to stop after usage", arg)
		}
		if code != 0 {
			t.Errorf("%s: exit code %d, want 0", arg, code)
		}
		if !strings.Contains(stderr, "-retry-join") || !strings.Contains(stderr, "-config-dir") {
			t.Errorf("%s: usage on stderr does not list the flags: %q", arg, stderr)
		}
	}
}
