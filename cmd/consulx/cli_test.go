package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"consulx/api"
	"consulx/internal/testcluster"
	"consulx/node"
)

var update = flag.Bool("update", false, "rewrite golden files")

// runCLI runs a consulx command in-process against addr.
func runCLI(t *testing.T, addr, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cliEnv{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}
	full := append([]string{args[0]}, args[1:]...)
	if addr != "" {
		// Subcommand flags come after the subcommand (and after "get" etc.).
		n := 1
		if args[0] == "kv" || args[0] == "operator" || args[0] == "catalog" || args[0] == "snapshot" {
			n = 2
			if args[0] == "operator" {
				n = 3
			}
		}
		full = append(append(append([]string{}, args[:n]...), "-http-addr", addr), args[n:]...)
	}
	code = run(full, env)
	return out.String(), errb.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s mismatch\n--- want\n%s\n--- got\n%s", name, want, got)
	}
}

func TestCLIAgainstCluster(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 1)
	srv, cl := c.Servers[0], c.Clients[0]
	addr := cl.HTTPAddr()
	// Ports are random; give them fixed same-width names so columns line up
	// exactly as they would with real ports.
	norm := strings.NewReplacer(
		fmt.Sprintf(":%d", srv.Config.Ports.SerfLAN), ":LAN01",
		fmt.Sprintf(":%d", cl.Config.Ports.SerfLAN), ":LAN02",
		fmt.Sprintf(":%d", srv.Config.Ports.Server), ":RPC01",
		srv.Running.Agent.NodeID(), "SERVER-NODE-ID-000000000000000000000",
	)
	testcluster.Eventually(t, 5*time.Second, func() error {
		out, _, _ := runCLI(t, addr, "", "members")
		if strings.Count(out, "alive") != 2 {
			return fmt.Errorf("members:\n%s", out)
		}
		return nil
	})

	t.Run("members", func(t *testing.T) {
		out, errOut, code := runCLI(t, addr, "", "members")
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		golden(t, "members", norm.Replace(out))
	})
	t.Run("members status filter with no match exits 2", func(t *testing.T) {
		out, _, code := runCLI(t, addr, "", "members", "-status=failed")
		if code != 2 || out != "" {
			t.Fatalf("exit %d, out %q; want exit 2 and no output", code, out)
		}
		out, _, code = runCLI(t, addr, "", "members", "-status=alive")
		if code != 0 || strings.Count(out, "\n") != 3 {
			t.Fatalf("-status=alive: exit %d\n%s", code, out)
		}
	})
	t.Run("members -wan on a client exits 2", func(t *testing.T) {
		out, _, code := runCLI(t, addr, "", "members", "-wan")
		if code != 2 || out != "" {
			t.Fatalf("exit %d, out %q", code, out)
		}
	})
	t.Run("members -detailed", func(t *testing.T) {
		out, _, code := runCLI(t, addr, "", "members", "-detailed")
		if code != 0 || !strings.HasPrefix(out, "Node ") || !strings.Contains(out, "role=consul") || !strings.Contains(out, "role=node") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("maint", func(t *testing.T) {
		out, errOut, code := runCLI(t, addr, "", "maint")
		if code != 0 || out != "" || errOut != "" {
			t.Fatalf("maint with nothing in maintenance: exit %d out %q err %q (run scripts need silence)", code, out, errOut)
		}
		steps := []struct {
			args           []string
			stdout, stderr string
			code           int
		}{
			{[]string{"maint", "-enable", "-disable"}, "", "Only one of -enable or -disable may be provided\n", 1},
			{[]string{"maint", "-reason", "x"}, "", "Reason may only be provided with -enable\n", 1},
			{[]string{"maint", "-service", "web"}, "", "Service requires either -enable or -disable\n", 1},
			{[]string{"maint", "-enable", "-reason", "image bake"}, "Node maintenance is now enabled\n", "", 0},
			{[]string{"maint"}, "Node:\n  Name:   client-1\n  Reason: image bake\n\n", "", 0},
			{[]string{"maint", "-disable"}, "Node maintenance is now disabled\n", "", 0},
			{[]string{"maint"}, "", "", 0},
		}
		for _, s := range steps {
			out, errOut, code := runCLI(t, addr, "", s.args...)
			if out != s.stdout || errOut != s.stderr || code != s.code {
				t.Errorf("consulx %s\n got: exit %d stdout %q stderr %q\nwant: exit %d stdout %q stderr %q",
					strings.Join(s.args, " "), code, out, errOut, s.code, s.stdout, s.stderr)
			}
		}
		if err := cl.Running.Agent.RegisterService(&node.ServiceDefinition{ID: "web-1", Name: "web"}); err != nil {
			t.Fatal(err)
		}
		out, _, code = runCLI(t, addr, "", "maint", "-enable", "-service", "web-1")
		if code != 0 || out != "Service maintenance is now enabled for \"web-1\"\n" {
			t.Fatalf("service maint: %d %q", code, out)
		}
		out, _, _ = runCLI(t, addr, "", "maint")
		if out != "Service:\n  ID:     web-1\n  Reason: Maintenance mode is enabled for this service, but no reason was provided. This is a default message.\n\n" {
			t.Fatalf("maint list: %q", out)
		}
		runCLI(t, addr, "", "maint", "-disable", "-service", "web-1")
	})
	t.Run("catalog", func(t *testing.T) {
		testcluster.Eventually(t, 10*time.Second, func() error {
			out, _, code := runCLI(t, addr, "", "catalog", "services")
			if code != 0 || !strings.Contains(out, "consul\n") {
				return fmt.Errorf("catalog services: %d %q", code, out)
			}
			out, _, code = runCLI(t, addr, "", "catalog", "nodes", "-service", "consul")
			if code != 0 || !strings.HasPrefix(out, "Node ") || !strings.Contains(out, "server-1") || strings.Contains(out, "client-1") {
				return fmt.Errorf("catalog nodes -service consul: %d %q", code, out)
			}
			return nil
		})
	})
	t.Run("hosts", func(t *testing.T) {
		out, _, code := runCLI(t, addr, "", "hosts")
		if code != 0 || out != "client-1\nserver-1\n" {
			t.Fatalf("hosts: exit %d\n%q", code, out)
		}
		out, _, code = runCLI(t, addr, "", "hosts", "-status", "failed")
		if code != 0 || out != "" {
			t.Fatalf("hosts -status failed: exit %d %q", code, out)
		}
		testcluster.Eventually(t, 10*time.Second, func() error {
			out, _, code = runCLI(t, addr, "", "hosts", "-service", "consul")
			if code != 0 || out != "server-1\n" {
				return fmt.Errorf("hosts -service consul: exit %d %q", code, out)
			}
			return nil
		})
	})
	t.Run("completion", func(t *testing.T) {
		for _, sh := range []string{"bash", "zsh"} {
			out, _, code := runCLI(t, "", "", "completion", sh)
			if code != 0 || !strings.Contains(out, "consulx hosts") || !strings.Contains(out, "kv") {
				t.Fatalf("completion %s: exit %d\n%s", sh, code, out)
			}
			if sh == "bash" {
				if b, err := exec.Command("bash", "-n", "-c", out).CombinedOutput(); err != nil {
					t.Fatalf("bash completion does not parse: %v\n%s", err, b)
				}
			}
		}
		if _, _, code := runCLI(t, "", "", "completion", "fish"); code != 1 {
			t.Fatal("unsupported shell accepted")
		}
	})
	t.Run("list-peers", func(t *testing.T) {
		out, _, code := runCLI(t, addr, "", "operator", "raft", "list-peers")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		golden(t, "list-peers", norm.Replace(out))
	})
	t.Run("kv", func(t *testing.T) {
		steps := []struct {
			args   []string
			stdin  string
			stdout string
			stderr string
			code   int
		}{
			{[]string{"kv", "put", "web/a", "alpha"}, "", "Success! Data written to: web/a\n", "", 0},
			{[]string{"kv", "put", "-flags", "7", "web/b", "-"}, "from stdin", "Success! Data written to: web/b\n", "", 0},
			{[]string{"kv", "put", "-base64", "web/sub/c", "Z2FtbWE="}, "", "Success! Data written to: web/sub/c\n", "", 0},
			{[]string{"kv", "get", "web/a"}, "", "alpha\n", "", 0},
			{[]string{"kv", "get", "web/b"}, "", "from stdin\n", "", 0},
			{[]string{"kv", "get", "-recurse", "web/"}, "", "web/a:alpha\nweb/b:from stdin\nweb/sub/c:gamma\n", "", 0},
			{[]string{"kv", "get", "-keys", "web/"}, "", "web/a\nweb/b\nweb/sub/\n", "", 0},
			{[]string{"kv", "get", "-keys", "-separator=", "web/"}, "", "web/a\nweb/b\nweb/sub/c\n", "", 0},
			{[]string{"kv", "get", "-base64", "web/a"}, "", "YWxwaGE=\n", "", 0},
			{[]string{"kv", "get", "nope"}, "", "", "Error! No key exists at: nope\n", 1},
			{[]string{"kv", "get"}, "", "", "Error! Missing KEY argument\n", 1},
			{[]string{"kv", "get", "-recurse", "absent/"}, "", "", "", 0},
			{[]string{"kv", "put", "-cas", "-modify-index", "1", "web/a", "x"}, "", "", "Error! Did not write to web/a: CAS failed\n", 1},
			{[]string{"kv", "put", "-modify-index", "1", "web/a", "x"}, "", "", "Cannot specify -modify-index without -cas!\n", 1},
			{[]string{"kv", "delete", "-cas", "-recurse", "web/"}, "", "", "Cannot specify both -cas and -recurse!\n", 1},
			{[]string{"kv", "delete", "web/a"}, "", "Success! Deleted key: web/a\n", "", 0},
			{[]string{"kv", "delete", "-recurse", "web/"}, "", "Success! Deleted keys with prefix: web/\n", "", 0},
			{[]string{"kv", "get", "-recurse", "web/"}, "", "", "", 0},
		}
		for _, s := range steps {
			out, errOut, code := runCLI(t, addr, s.stdin, s.args...)
			if out != s.stdout || errOut != s.stderr || code != s.code {
				t.Errorf("consulx %s\n got: exit %d stdout %q stderr %q\nwant: exit %d stdout %q stderr %q",
					strings.Join(s.args, " "), code, out, errOut, s.code, s.stdout, s.stderr)
			}
		}
	})
	t.Run("kv put -acquire and -release", func(t *testing.T) {
		id, err := cl.Client().SessionCreate(context.Background(), &api.SessionEntry{Name: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			args           []string
			stdout, stderr string
			code           int
		}{
			{[]string{"kv", "put", "-acquire", "locks/a", "v"}, "", "Error! Missing -session (required with -acquire and -release)\n", 1},
			{[]string{"kv", "put", "-acquire", "-session", id, "locks/a", "held"}, "Success! Lock acquired on: locks/a\n", "", 0},
			{[]string{"kv", "get", "-detailed", "locks/a"}, "", "", 0},
			{[]string{"kv", "put", "-release", "-session", "00000000-0000-0000-0000-000000000000", "locks/a"}, "", "Error! Did not release lock\n", 1},
			{[]string{"kv", "put", "-release", "-session", id, "locks/a", "free"}, "Success! Lock released on: locks/a\n", "", 0},
		}
		for _, s := range steps {
			out, errOut, code := runCLI(t, addr, "", s.args...)
			if s.args[1] == "get" {
				if code != 0 || !strings.Contains(out, "Session          "+id) || !strings.Contains(out, "LockIndex        1") {
					t.Errorf("kv get -detailed of a held lock:\n%s", out)
				}
				continue
			}
			if out != s.stdout || errOut != s.stderr || code != s.code {
				t.Errorf("consulx %s\n got: exit %d stdout %q stderr %q\nwant: exit %d stdout %q stderr %q",
					strings.Join(s.args, " "), code, out, errOut, s.code, s.stdout, s.stderr)
			}
		}
	})
	t.Run("kv get -detailed", func(t *testing.T) {
		runCLI(t, addr, "", "kv", "put", "-flags", "42", "detail/key", "value")
		p, _, err := cl.Client().KVGet(context.Background(), "detail/key", nil)
		if err != nil || p == nil {
			t.Fatal(err)
		}
		out, _, code := runCLI(t, addr, "", "kv", "get", "-detailed", "detail/key")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		out = strings.ReplaceAll(out, fmt.Sprint(p.ModifyIndex), "IDX")
		golden(t, "kv-get-detailed", out)
	})
	t.Run("info", func(t *testing.T) {
		out, _, code := runCLI(t, srv.HTTPAddr(), "", "info")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, sec := range []string{"agent:\n", "build:\n", "consul:\n", "raft:\n", "runtime:\n", "serf_lan:\n", "serf_wan:\n", "\tstate = Leader\n", "\tleader = true\n"} {
			if !strings.Contains(out, sec) {
				t.Errorf("info lacks %q:\n%s", sec, out)
			}
		}
	})
	t.Run("join, force-leave and leave errors", func(t *testing.T) {
		_, errOut, code := runCLI(t, addr, "", "join", "127.0.0.1:1")
		if code != 1 || !strings.Contains(errOut, "Error joining address '127.0.0.1:1'") || !strings.Contains(errOut, "Failed to join any nodes.") {
			t.Fatalf("join bad addr: exit %d stderr %q", code, errOut)
		}
		out, _, code := runCLI(t, addr, "", "join", srv.SerfAddr())
		if code != 0 || out != "Successfully joined cluster by contacting 1 nodes.\n" {
			t.Fatalf("join: exit %d out %q", code, out)
		}
		_, errOut, code = runCLI(t, addr, "", "force-leave")
		if code != 1 || errOut != "A single node name must be specified to force leave.\n" {
			t.Fatalf("force-leave no args: %d %q", code, errOut)
		}
		_, errOut, code = runCLI(t, addr, "", "force-leave", "ghost")
		if code != 1 || !strings.HasPrefix(errOut, "Error force leaving: ") {
			t.Fatalf("force-leave ghost: %d %q", code, errOut)
		}
	})
	t.Run("agent unreachable", func(t *testing.T) {
		_, errOut, code := runCLI(t, "127.0.0.1:1", "", "members")
		if code != 1 || !strings.HasPrefix(errOut, "Error connecting to Consul agent: ") {
			t.Fatalf("exit %d stderr %q", code, errOut)
		}
	})
	t.Run("bad flag", func(t *testing.T) {
		_, errOut, code := runCLI(t, addr, "", "members", "-bogus")
		if code != 1 || !strings.Contains(errOut, "flag provided but not defined: -bogus") {
			t.Fatalf("exit %d stderr %q", code, errOut)
		}
	})
	t.Run("leave", func(t *testing.T) {
		out, _, code := runCLI(t, addr, "", "leave")
		if code != 0 || out != "Graceful leave complete\n" {
			t.Fatalf("leave: %d %q", code, out)
		}
		select {
		case <-cl.Running.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("agent did not stop after leave")
		}
	})
}

func TestCLIEnvAddress(t *testing.T) {
	for _, k := range []string{"CONSUL_HTTP_ADDR", "CONSULX_HTTP_ADDR"} {
		t.Run(k, func(t *testing.T) {
			t.Setenv("CONSUL_HTTP_ADDR", "")
			t.Setenv("CONSULX_HTTP_ADDR", "")
			t.Setenv(k, "127.0.0.1:1")
			_, errOut, code := runCLI(t, "", "", "members")
			if code != 1 || !strings.Contains(errOut, "127.0.0.1:1") {
				t.Fatalf("%s not honoured: exit %d stderr %q", k, code, errOut)
			}
		})
	}
}

// TestBenchModesInHelp: `consulx -h` and `consulx bench` name every mode
// bench runs, and each named mode really runs (its own flag help).
func TestBenchModesInHelp(t *testing.T) {
	_, help, code := runCLI(t, "", "", "-h")
	if code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	var synopsis string
	for _, line := range strings.Split(help, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "bench" {
			synopsis = line
		}
	}
	_, usage, code := runCLI(t, "", "", "bench")
	if code != 1 {
		t.Fatalf("bench without a mode: exit %d", code)
	}
	// The modes bench.go implements (kv-put/kv-get, runBenchWatch,
	// runBenchLoad, runBenchSnapshot, runBenchDNS, runBenchExec).
	want := []string{"kv-put", "kv-get", "watch", "load", "snapshot", "dns", "exec"}
	if got := benchModeNames(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("bench modes %v, want %v", got, want)
	}
	if !strings.Contains(synopsis, "("+strings.Join(want, ", ")+")") {
		t.Errorf("consulx -h bench line %q does not list %v", synopsis, want)
	}
	if !strings.Contains(usage, "<"+strings.Join(want, "|")+">") {
		t.Errorf("bench usage %q does not list %v", usage, want)
	}
	for _, m := range benchModeNames() {
		_, out, code := runCLI(t, "", "", "bench", m, "-h")
		if code != 0 || !strings.HasPrefix(out, "Usage of bench "+m+":") {
			t.Errorf("bench %s -h: exit %d %q", m, code, out)
		}
	}
	if _, out, code := runCLI(t, "", "", "bench", "kv-del"); code != 1 || !strings.HasPrefix(out, "Usage: consulx bench <") {
		t.Errorf("unknown mode: exit %d %q", code, out)
	}
}

// toolsRequired: where CI or CONSULX_REQUIRE_TOOLS is set (.ci/run installs
// the tools), a test part that needs an external tool must run, not skip.
func toolsRequired() bool {
	for _, v := range []string{"CONSULX_REQUIRE_TOOLS", "CI"} {
		if val := os.Getenv(v); val != "" && val != "0" && !strings.EqualFold(val, "false") {
			return true
		}
	}
	return false
}

// completeDriver sources bash-completion (before or after consulx's script,
// or not at all), then completes $2 the way readline would: it calls the
// function `complete -p` registers for the command and prints COMPREPLY.
const completeDriver = `order=$1 line=$2 script=$3
bc=/usr/share/bash-completion/bash_completion
[ "$order" = before ] && source "$bc"
source "$script"
[ "$order" = twice ] && source "$bc" && source "$script"
[ "$order" = after ] && source "$bc"
read -ra COMP_WORDS <<<"$line"
[[ $line == *' ' ]] && COMP_WORDS+=("")
COMP_LINE=$line COMP_POINT=${#line} COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
cmd=${COMP_WORDS[0]}
[[ $(complete -p "$cmd") =~ " -F "([^ ]+)" " ]] || { echo "no completion function for $cmd"; exit 1; }
"${BASH_REMATCH[1]}" "$cmd" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" 2>/dev/null
printf 'reply:%s\n' "${COMPREPLY[@]}"
complete -p scp | sed 's/^/spec:/'
`

// TestCompletionKeepsSSHCompletion: `consulx completion bash` adds the alive
// members to ssh/scp/sftp completion without replacing the system's
// (bash-completion: hosts from ~/.ssh/config, options, remote paths).
func TestCompletionKeepsSSHCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	_, statErr := os.Stat("/usr/share/bash-completion/bash_completion")
	haveBC := statErr == nil
	if !haveBC && toolsRequired() {
		t.Fatal("bash-completion is required here (CI or CONSULX_REQUIRE_TOOLS is set) but /usr/share/bash-completion/bash_completion is missing: install bash-completion")
	}
	dir, home, bin, write := completionFixture(t, "member-1", "member-2")
	script, _, code := runCLI(t, "", "", "completion", "bash")
	if code != 0 {
		t.Fatalf("completion bash: exit %d", code)
	}
	scriptPath := filepath.Join(dir, "consulx.bash")
	write(scriptPath, script, 0o644)
	driver := filepath.Join(dir, "drive.sh")
	write(driver, completeDriver, 0o644)

	complete := func(t *testing.T, order, line string) (reply []string, scpSpec string) {
		t.Helper()
		cmd := exec.Command(bash, driver, order, line, scriptPath)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + home, "PATH=" + bin + ":/usr/bin:/bin", "COMP_KNOWN_HOSTS_WITH_HOSTFILE="}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s completing %q: %v\n%s", order, line, err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if r, ok := strings.CutPrefix(l, "reply:"); ok && r != "" {
				reply = append(reply, r)
			}
			if s, ok := strings.CutPrefix(l, "spec:"); ok {
				scpSpec = s
			}
		}
		return reply, scpSpec
	}
	has := func(reply []string, w string) bool {
		for _, r := range reply {
			if r == w {
				return true
			}
		}
		return false
	}
	type want struct {
		line    string
		in, out []string
		nospace bool // scp's completion keeps the system's -o nospace
	}
	cases := map[string][]want{
		// bash-completion loaded first, as /etc/bash.bashrc does.
		"before": {
			{line: "ssh ", in: []string{"from-ssh-config", "member-1", "member-2"}},
			{line: "ssh mem", in: []string{"member-1", "member-2"}, out: []string{"from-ssh-config"}},
			{line: "sftp ", in: []string{"from-ssh-config", "member-1"}},
			{line: "ssh -J ", in: []string{"from-ssh-config", "member-1"}},
			{line: "scp mem", in: []string{"member-1:", "member-2:"}, nospace: true},
			{line: "scp from", in: []string{"from-ssh-config:"}, out: []string{"member-1:"}, nospace: true},
			// Where no host goes, no members: an option's argument, the
			// remote command after the destination.
			{line: "ssh -i ", out: []string{"member-1"}},
			{line: "ssh -p 22 from-ssh-config ", out: []string{"member-1"}},
			{line: "scp ./", out: []string{"member-1:"}},
		},
		// consulx's script first: the system completion is wrapped on first
		// use, scp's too (it comes in the same bash-completion file).
		"after": {
			{line: "ssh ", in: []string{"from-ssh-config", "member-1"}, nospace: true},
			{line: "scp mem", in: []string{"member-1:", "member-2:"}, nospace: true},
		},
		// Evaluated twice (a re-sourced .bashrc): no loop, nothing lost.
		"twice": {
			{line: "ssh ", in: []string{"from-ssh-config", "member-1"}},
		},
		// No bash-completion at all: the members alone, files as before.
		"none": {
			{line: "ssh ", in: []string{"member-1", "member-2"}},
			{line: "ssh -i ", out: []string{"member-1"}},
		},
	}
	for _, order := range []string{"before", "after", "twice", "none"} {
		if order != "none" && !haveBC {
			t.Logf("bash-completion is not installed: skipping the %q cases (CI installs it)", order)
			continue
		}
		for _, w := range cases[order] {
			t.Run(order+"/"+w.line, func(t *testing.T) {
				reply, spec := complete(t, order, w.line)
				for _, x := range w.in {
					if !has(reply, x) {
						t.Errorf("offers %q, want %q among them", reply, x)
					}
				}
				for _, x := range w.out {
					if has(reply, x) {
						t.Errorf("offers %q, want no %q", reply, x)
					}
				}
				if w.nospace && !strings.Contains(spec, "-o nospace") {
					t.Errorf("scp completion %q lost the system's nospace option", spec)
				}
			})
		}
	}
}

// zshDriver runs compinit and $1 (which sources the completion script) in
// an interactive zsh, then completes each further argument with one TAB,
// printing the screen after each; "print DONE-n", typed after the TAB,
// marks when the completion has finished.
const zshDriver = `setup=$1; shift
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='ZP> '; autoload -Uz compinit; compinit -u -D; $setup; setopt nobeep; print RE''ADY"
# Type only at a prompt: keys typed while a command runs meet the tty's
# line editing, which would eat the TAB's effect.
zpty -r -m z out '*READY*ZP> *' || exit 1
local i=0 line
for line in "$@"; do
  (( i++ ))
  zpty -w -n z "$line"$'\t'
  # ^A^K (not ^U, which the tty itself would act on) clears the line.
  zpty -w z $'\x01\x0b'"print DO''NE-$i"
  zpty -r -m z out "*DONE-$i*ZP> *" || exit 1
  print -r -- "CASE-$i $out"
done
zpty -d z
`

// TestZshCompletionKeepsSSHCompletion: in zsh too the members join the
// hosts zsh's own ssh/scp completion offers (~/.ssh/config, user@host,
// scp's "host:"), and only where a host goes.
func TestZshCompletionKeepsSSHCompletion(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		if toolsRequired() {
			t.Fatal("zsh is required here (CI or CONSULX_REQUIRE_TOOLS is set) but not installed: install zsh")
		}
		t.Skip("zsh is not installed (CI installs it)")
	}
	dir, home, bin, write := completionFixture(t, "alpha-member", "beta-member")
	script, _, code := runCLI(t, "", "", "completion", "zsh")
	if code != 0 {
		t.Fatalf("completion zsh: exit %d", code)
	}
	write(filepath.Join(dir, "consulx.zsh"), script, 0o644)
	write(filepath.Join(dir, "drive.zsh"), zshDriver, 0o644)
	type zcase struct{ line, want, never string }
	all := []zcase{
		{"ssh fro", "ssh from-ssh-config", ""},
		{"ssh alp", "ssh alpha-member", ""},
		{"scp bet", "scp beta-member:", ""},
		{"ssh root@alp", "ssh root@alpha-member", ""},
		{"ssh -i alp", "", "alpha-member"},
	}
	src := "source " + filepath.Join(dir, "consulx.zsh")
	for _, sc := range []struct {
		name, setup string
		cases       []zcase
	}{
		{"after compinit", src, all},
		// _ssh_hosts already used in this shell, or the script sourced
		// twice (a re-read .zshrc): still both, no loop.
		{"ssh completion loaded first", "autoload -Uz +X _ssh_hosts; " + src, all[:2]},
		{"sourced twice", src + "; " + src, all[:2]},
	} {
		t.Run(sc.name, func(t *testing.T) {
			args := []string{"-f", filepath.Join(dir, "drive.zsh"), sc.setup}
			for _, c := range sc.cases {
				args = append(args, c.line)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, zsh, args...)
			cmd.Dir = dir
			cmd.Env = []string{"HOME=" + home, "PATH=" + bin + ":/usr/bin:/bin", "TERM=xterm"}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("zsh driver: %v\n%q", err, out)
			}
			screen := regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]|\b").ReplaceAllString(string(out), "")
			for i, c := range sc.cases {
				_, after, _ := strings.Cut(screen, fmt.Sprintf("CASE-%d ", i+1))
				got, _, _ := strings.Cut(after, fmt.Sprintf("DONE-%d", i+1))
				if c.want != "" && !strings.Contains(got, c.want) {
					t.Errorf("%q completed to %q, want %q", c.line, got, c.want)
				}
				if c.never != "" && strings.Contains(got, c.never) {
					t.Errorf("%q offered %q: %q", c.line, c.never, got)
				}
			}
		})
	}
}

// TestAgentWarnsAboutUnsupportedConfig: a config ported from Consul starts
// the agent (retry_interval_wan used to stop it; it is honoured now, so
// nothing is said of it), and each key consulx does not honour yet is
// announced at start, on stderr and in the log the console's Log pane
// shows (/v1/agent/monitor).
func TestAgentWarnsAboutUnsupportedConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	conf := filepath.Join(t.TempDir(), "ported.json")
	if err := os.WriteFile(conf, []byte(`{
		"tls": {"grpc": {"verify_incoming": true}},
		"acl": {"role_ttl": "30s"},
		"retry_interval_wan": "30s",
		"translate_wan_addrs": true,
		"ui_config": {"enabled": true}
	}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newProc(t, "ported", true, 1, "")
	p.args = append(p.args, "-config-file", conf)
	startProc(t, p)
	want := []string{
		`[WARN]  config: "tls.grpc" is not supported yet: there is no gRPC listener: file=` + conf,
		`[WARN]  config: "acl.role_ttl" is not supported yet: there are no ACL roles`,
		`[WARN]  config: "translate_wan_addrs" is not supported yet: addresses are not translated for other datacenters`,
		`[WARN]  config: "ui_config" has no effect in consulx:`,
	}
	testcluster.Eventually(t, 20*time.Second, func() error {
		if out, code := cli(t, p.http, "members"); code != 0 {
			return fmt.Errorf("members: exit %d %s", code, out)
		}
		return nil
	})
	log, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(string(log), w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	if strings.Contains(string(log), `"retry_interval_wan"`) {
		t.Errorf("retry_interval_wan is honoured, yet the log mentions it")
	}

	// The Log pane reads /v1/agent/monitor, which starts with the history.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var monitored strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = api.NewClient(p.http).Monitor(ctx, "warn", func(line string) {
			mu.Lock()
			monitored.WriteString(line + "\n")
			mu.Unlock()
		})
	}()
	testcluster.Eventually(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, w := range want {
			if !strings.Contains(monitored.String(), w) {
				return fmt.Errorf("monitor lacks %q:\n%s", w, monitored.String())
			}
		}
		return nil
	})
	cancel()
	<-done
}

// completionFixture makes a home with an ~/.ssh/config host
// (from-ssh-config) and a bin dir whose fake `consulx hosts` answers the
// given members, as an agent would; write adds more files.
func completionFixture(t *testing.T, members ...string) (dir, home, bin string, write func(path, body string, mode os.FileMode)) {
	t.Helper()
	dir = t.TempDir()
	home = filepath.Join(dir, "home")
	bin = filepath.Join(dir, "bin")
	for _, d := range []string{filepath.Join(home, ".ssh"), bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write = func(path, body string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(home, ".ssh", "config"), "Host from-ssh-config\n  HostName 192.0.2.9\n", 0o600)
	write(filepath.Join(bin, "consulx"), "#!/bin/sh\n[ \"$1\" = hosts ] && printf '"+strings.Join(members, "\\n")+"\\n'\n", 0o755)
	return dir, home, bin, write
}
