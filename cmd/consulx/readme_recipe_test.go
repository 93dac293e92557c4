package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"consulx/internal/testcluster"
)

// readmeBlock returns the first ```sh block of README.md after the line
// containing anchor, so a test runs what the README shows.
func readmeBlock(t *testing.T, anchor string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, anchor)
	if i < 0 {
		t.Fatalf("README.md has no %q", anchor)
	}
	s = s[i:]
	start := strings.Index(s, "\n```sh\n")
	if start < 0 {
		t.Fatalf("README.md has no sh block after %q", anchor)
	}
	s = s[start+len("\n```sh\n"):]
	end := strings.Index(s, "\n```\n")
	if end < 0 {
		t.Fatalf("unterminated sh block after %q", anchor)
	}
	return s[:end+1]
}

// portToken matches what looks like a literal port left in a recipe: a
// number starting with 8 and three more digits, or a shell-built one
// such as 850$i or 83${i}1.
var portToken = regexp.MustCompile(`\b8[0-9]{3}\b|\b8[0-9]{1,2}\$`)

// recipe is a README block made runnable in a test: its ports moved to free
// ones (each README spelling mapped to a bash expression over arrays the
// test defines), /tmp/cx moved into a temp dir and ./consulx pointed at the
// built binary. Everything else is pasted as written.
func prepareRecipe(t *testing.T, block string, ports [][2]string, tmp string) string {
	t.Helper()
	for _, p := range ports {
		if !strings.Contains(block, p[0]) {
			t.Fatalf("the README recipe no longer contains %q; update the port map of this test:\n%s", p[0], block)
		}
		block = strings.ReplaceAll(block, p[0], p[1])
	}
	if left := portToken.FindAllString(block, -1); len(left) > 0 {
		t.Fatalf("the README recipe has ports this test does not map to free ones: %q\n%s", left, block)
	}
	block = strings.ReplaceAll(block, "/tmp/cx", tmp)
	return strings.ReplaceAll(block, "./consulx", consulxBinary(t))
}

// pasteRecipe pastes the recipe into an interactive bash on a pty, as an
// operator would, and returns what the terminal showed up to the recipe's
// last exit code (which must be 0). prelude, typed first, defines the
// port arrays the recipe's ports were mapped to (may be empty).
func pasteRecipe(t *testing.T, sh *ptyShell, prelude, recipe string, timeout time.Duration, expected ...string) string {
	t.Helper()
	sh.send(prelude + "\nprintf 'prelude-ok:%d\\n' $?\n")
	sh.wait(10*time.Second, regexp.MustCompile(`prelude-ok:0`))
	sh.paste(recipe + "printf 'recipe-exit:%d\\n' $?\n")
	m := sh.wait(timeout, regexp.MustCompile(`(?s)(.*)recipe-exit:(\d+)`))
	// Colours (jq's) and terminal queries (every consulx command's) would
	// split the words the checks look for.
	out := ansiEscape.ReplaceAllString(m[1], "")
	if m[2] != "0" {
		t.Fatalf("the recipe's last command exited %s; terminal:\n%s", m[2], out)
	}
	// Anything a pasted line could not do shows up as one of these (a
	// recipe's own expected failures, such as a key not yet replicated,
	// are named by the caller).
	checked := out
	for _, e := range expected {
		checked = strings.ReplaceAll(checked, e, "")
	}
	for _, bad := range []string{"command not found", "No such file", "Stopped", "Error", "syntax error", "usage:"} {
		if strings.Contains(checked, bad) {
			t.Fatalf("the recipe printed %q; terminal:\n%s", bad, out)
		}
	}
	return out
}

// ansiEscape matches CSI sequences (colours, cursor) and OSC sequences.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x1b\x07]*(\x1b\\|\x07)`)

func bashArray(name string, vals ...int) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = strconv.Itoa(v)
	}
	// Index 0 is unused: the README numbers agents from 1.
	return fmt.Sprintf("%s=(0 %s)", name, strings.Join(s, " "))
}

// TestReadmeClusterRecipe pastes README's "three servers plus a client"
// recipe into an interactive shell and checks the cluster it builds: four
// alive members and a working KV, all of it started with `&` from a
// terminal.
func TestReadmeClusterRecipe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tmp := t.TempDir()
	t.Cleanup(func() { killAll([]byte(tmp)) })
	block := readmeBlock(t, "A three-server cluster plus a client")
	p := testcluster.FreePorts(t, 20) // HTTP, DNS, LAN, WAN, server port: four each
	recipe := prepareRecipe(t, block, [][2]string{
		{"850$i", "${HTTP[$i]}"}, {"860$i", "${DNS[$i]}"},
		{"83${i}0", "${SRV[$i]}"}, {"83${i}1", "${LAN[$i]}"}, {"83${i}2", "${WAN[$i]}"},
		{"127.0.0.1:8311", fmt.Sprintf("127.0.0.1:%d", p[8])},
		{"-http-port 8500", fmt.Sprint("-http-port ", p[3])}, {"-dns-port 8600", fmt.Sprint("-dns-port ", p[7])},
		{"-serf-lan-port 8341", fmt.Sprint("-serf-lan-port ", p[11])},
	}, tmp)
	prelude := strings.Join([]string{
		bashArray("HTTP", p[0:4]...), bashArray("DNS", p[4:8]...), bashArray("LAN", p[8:12]...),
		bashArray("WAN", p[12:16]...), bashArray("SRV", p[16:20]...),
	}, "; ")
	clientHTTP := fmt.Sprintf("127.0.0.1:%d", p[3])
	// The recipe's bare `./consulx members` means the default address,
	// 127.0.0.1:8500, which is the client's; here that is a free port.
	sh := startShell(t, tmp, "CONSUL_HTTP_ADDR="+clientHTTP)
	out := pasteRecipe(t, sh, prelude, recipe, 60*time.Second)
	// Its members answered (how many have joined after its sleep depends
	// on the machine; the wait below does not).
	if !regexp.MustCompile(`\nNode +Address +Status`).MatchString(out) {
		t.Fatalf("the recipe's members printed no member table; terminal:\n%s", out)
	}

	testcluster.Eventually(t, 30*time.Second, func() error {
		out, code := cli(t, clientHTTP, "members")
		if code != 0 || strings.Count(out, "alive") != 4 {
			return fmt.Errorf("members (exit %d):\n%s", code, out)
		}
		return nil
	})
	testcluster.Eventually(t, 20*time.Second, func() error {
		if out, code := cli(t, clientHTTP, "kv", "put", "readme/recipe", "works"); code != 0 {
			return fmt.Errorf("kv put (exit %d): %s", code, out)
		}
		return nil
	})
	for i := 0; i < 3; i++ { // every server reads it, through its own API
		addr := fmt.Sprintf("127.0.0.1:%d", p[i])
		if out, code := cli(t, addr, "kv", "get", "readme/recipe"); code != 0 || out != "works\n" {
			t.Fatalf("kv get on s%d (exit %d): %q", i+1, code, out)
		}
	}

	// The PIDs in the lock files are the shell's jobs, as the README says.
	sh.send(fmt.Sprintf("jobs -p > %s/jobs; printf 'jobs-saved:%%d\\n' $?\n", tmp))
	sh.wait(10*time.Second, regexp.MustCompile(`jobs-saved:0`))
	jobs, _ := os.ReadFile(filepath.Join(tmp, "jobs"))
	isJob := map[string]bool{}
	for _, j := range strings.Fields(string(jobs)) {
		isJob[j] = true
	}
	for _, n := range []string{"s1", "s2", "s3", "c1"} {
		pid, _ := os.ReadFile(filepath.Join(tmp, n, "consulx.lock"))
		if !isJob[strings.TrimSpace(string(pid))] {
			t.Fatalf("%s/consulx.lock holds %q, not one of the shell's jobs %q", n, pid, jobs)
		}
	}
}

// TestReadmeTryIt pastes the README's "Try it" block: a dev agent started
// in the background of an interactive shell, the CLI and curl against it,
// and `leave`, which must stop the agent.
func TestReadmeTryIt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tmp := t.TempDir()
	block := readmeBlock(t, "## Try it")
	// The test binary is built the way this line builds it.
	const build = "go build -o consulx ./cmd/consulx\n"
	if !strings.HasPrefix(block, build) {
		t.Fatalf("Try it no longer starts with %q:\n%s", build, block)
	}
	block = strings.TrimPrefix(block, build)
	p := testcluster.FreePorts(t, 5)
	recipe := prepareRecipe(t, block, [][2]string{
		{"agent -dev", fmt.Sprintf("agent -dev -http-port %d -dns-port %d -serf-lan-port %d -serf-wan-port %d -server-port %d", p[0], p[1], p[2], p[3], p[4])},
		{"localhost:8500", fmt.Sprintf("localhost:%d", p[0])},
	}, tmp)
	// The dev agent's command line names none of tmp; its HTTP port
	// argument is what identifies it for the final clean-up.
	marker := []byte(fmt.Sprintf("\x00-http-port\x00%d\x00", p[0]))
	t.Cleanup(func() { killAll(marker) })
	if _, err := exec.LookPath("jq"); err != nil {
		// Only the pretty-printing is jq's; the recipe is still checked.
		t.Logf("jq is not installed: the recipe's jq is replaced by cat")
		recipe = strings.ReplaceAll(recipe, "| jq .", "| cat")
	}
	sh := startShell(t, tmp, fmt.Sprintf("CONSUL_HTTP_ADDR=127.0.0.1:%d", p[0]))
	out := pasteRecipe(t, sh, "", recipe, 60*time.Second)
	for _, want := range []string{
		"alive",                                // members
		"Success! Data written to: app/config", // kv put
		`{"replicas": 3}`,                      // kv get -detailed
		`"Key":`,                               // curl
		"leader",                               // list-peers
		"raft:",                                // info
		"Graceful leave complete",              // leave
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("Try it printed no %q; terminal:\n%s", want, out)
		}
	}
	// leave stops the background agent.
	testcluster.Eventually(t, 10*time.Second, func() error {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && strings.Contains(string(b), string(marker)) {
				if procState(atoi(e.Name())) != "Z" {
					return fmt.Errorf("the dev agent (pid %s) still runs after leave", e.Name())
				}
			}
		}
		return nil
	})
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// TestReadmeExecRecipe pastes the README's remote exec recipe, the seed's
// server and clients, and checks `consulx exec hostname` prints what the
// seed shows for every node.
func TestReadmeExecRecipe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tmp := t.TempDir()
	t.Cleanup(func() { killAll([]byte(tmp)) })
	block := readmeBlock(t, "## Remote exec")
	p := testcluster.FreePorts(t, 9)
	recipe := prepareRecipe(t, block, [][2]string{
		{"-http-port 8500", fmt.Sprint("-http-port ", p[0])}, {"-dns-port 8600", fmt.Sprint("-dns-port ", p[1])},
		{"-serf-lan-port 8301", fmt.Sprint("-serf-lan-port ", p[2])}, {"-serf-wan-port 8302", fmt.Sprint("-serf-wan-port ", p[3])},
		{"-server-port 8300", fmt.Sprint("-server-port ", p[4])}, {"127.0.0.1:8301", fmt.Sprint("127.0.0.1:", p[2])},
		{"851$n", "${HTTP[$n]}"}, {"861$n", "${DNS[$n]}"}, {"83${n}1", "${LAN[$n]}"},
	}, tmp)
	prelude := strings.Join([]string{bashArray("HTTP", p[5], p[6]), bashArray("DNS", p[7], p[8])}, "; ")
	lan := testcluster.FreePorts(t, 2)
	prelude += "; " + bashArray("LAN", lan...)
	// The recipe's bare `./consulx exec` talks to 127.0.0.1:8500, the server.
	sh := startShell(t, tmp, fmt.Sprintf("CONSUL_HTTP_ADDR=127.0.0.1:%d", p[0]))
	out := strings.ReplaceAll(pasteRecipe(t, sh, prelude, recipe, 60*time.Second), "\r", "")
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"dc1server", "dc1client1", "dc1client2"} {
		want := fmt.Sprintf("\n    %s: %s\n    %s:\n==> %s: finished with exit code 0\n", n, host, n, n)
		if !strings.Contains(out, want) {
			t.Fatalf("exec printed no\n%s\nterminal:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "3 / 3 node(s) completed / acknowledged") {
		t.Fatalf("no summary for three nodes; terminal:\n%s", out)
	}
}

// TestReadmeDatacentersRecipe pastes the README's two-datacenter recipe
// (the seed's dc1 and dc2, a server and a client each) and checks what
// the seed shows: members per datacenter, every server in members -wan,
// and exec in the other datacenter from a server and from a client.
func TestReadmeDatacentersRecipe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tmp := t.TempDir()
	t.Cleanup(func() { killAll([]byte(tmp)) })
	block := readmeBlock(t, "## Several datacenters")
	p := testcluster.FreePorts(t, 18)
	var pairs [][2]string
	for i, lit := range []string{
		"-http-port 8500", "-dns-port 8600", "-serf-lan-port 8301", "-serf-wan-port 8302", "-server-port 8300",
		"-http-port 8510", "-dns-port 8610", "-serf-lan-port 8311",
		"-http-port 8520", "-dns-port 8620", "-serf-lan-port 8321", "-serf-wan-port 8322", "-server-port 8320",
		"-http-port 8530", "-dns-port 8630", "-serf-lan-port 8331",
	} {
		flag, _, _ := strings.Cut(lit, " ")
		pairs = append(pairs, [2]string{lit, fmt.Sprintf("%s %d", flag, p[i])})
	}
	pairs = append(pairs,
		[2]string{"127.0.0.1:8301", fmt.Sprintf("127.0.0.1:%d", p[2])},
		[2]string{"127.0.0.1:8302", fmt.Sprintf("127.0.0.1:%d", p[3])},
		[2]string{"127.0.0.1:8321", fmt.Sprintf("127.0.0.1:%d", p[10])},
		[2]string{"127.0.0.1:8510", fmt.Sprintf("127.0.0.1:%d", p[5])})
	recipe := prepareRecipe(t, block, pairs, tmp)
	sh := startShell(t, tmp, fmt.Sprintf("CONSUL_HTTP_ADDR=127.0.0.1:%d", p[0]))
	out := strings.ReplaceAll(pasteRecipe(t, sh, "", recipe, 90*time.Second), "\r", "")
	host, _ := os.Hostname()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^dc1server +127\.0\.0\.1:\d+ +alive +server .* dc1 `),
		regexp.MustCompile(`(?m)^dc1client +127\.0\.0\.1:\d+ +alive +client .* dc1 `),
		regexp.MustCompile(`(?m)^dc1server\.dc1 +127\.0\.0\.1:\d+ +alive +server .* dc1 `),
		regexp.MustCompile(`(?m)^dc2server\.dc2 +127\.0\.0\.1:\d+ +alive +server .* dc2 `),
		regexp.MustCompile(`(?m)^    dc1client: ` + regexp.QuoteMeta(host) + `\n    dc1client:\n==> dc1client: finished with exit code 0$`),
		regexp.MustCompile(`(?m)^    dc2client: ` + regexp.QuoteMeta(host) + `\n    dc2client:\n==> dc2client: finished with exit code 0$`),
		regexp.MustCompile(`(?m)^    dc2server: ` + regexp.QuoteMeta(host) + `\n    dc2server:\n==> dc2server: finished with exit code 0$`),
	} {
		if !want.MatchString(out) {
			t.Fatalf("the recipe printed nothing matching %s; terminal:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "2 / 2 node(s) completed / acknowledged"); n != 3 {
		t.Fatalf("%d exec summaries of 2 / 2, want 3 (dc1, dc2 from the server, dc2 from the client); terminal:\n%s", n, out)
	}
	if regexp.MustCompile(`(?m)^dc2(server|client) .* alive`).MatchString(out) {
		t.Fatalf("dc1's members list shows dc2's agents; terminal:\n%s", out)
	}
}

// TestReadmeWANJoinRecipe pastes the README's second-seed walk-through:
// two datacenters of two servers, one `join -wan`, every server in both
// WAN views, KV apart until `consulx replicate -once` copies the key.
func TestReadmeWANJoinRecipe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tmp := t.TempDir()
	t.Cleanup(func() { killAll([]byte(tmp)) })
	block := readmeBlock(t, "The second seed's walk-through")
	p := testcluster.FreePorts(t, 20)
	recipe := prepareRecipe(t, block, [][2]string{
		{"860$i", "${AH[$i]}"}, {"870$i", "${AD[$i]}"}, {"88${i}1", "${AL[$i]}"}, {"88${i}2", "${AW[$i]}"}, {"88${i}0", "${AS[$i]}"},
		{"861$i", "${BH[$i]}"}, {"871$i", "${BD[$i]}"}, {"89${i}1", "${BL[$i]}"}, {"89${i}2", "${BW[$i]}"}, {"89${i}0", "${BS[$i]}"},
		{"127.0.0.1:8811", fmt.Sprint("127.0.0.1:", p[4])}, {"127.0.0.1:8911", fmt.Sprint("127.0.0.1:", p[14])},
		{"127.0.0.1:8601", fmt.Sprint("127.0.0.1:", p[0])}, {"127.0.0.1:8611", fmt.Sprint("127.0.0.1:", p[10])},
		{"127.0.0.1:8912", fmt.Sprint("127.0.0.1:", p[16])},
	}, tmp)
	prelude := strings.Join([]string{
		bashArray("AH", p[0:2]...), bashArray("AD", p[2:4]...), bashArray("AL", p[4:6]...), bashArray("AW", p[6:8]...), bashArray("AS", p[8:10]...),
		bashArray("BH", p[10:12]...), bashArray("BD", p[12:14]...), bashArray("BL", p[14:16]...), bashArray("BW", p[16:18]...), bashArray("BS", p[18:20]...),
	}, "; ")
	sh := startShell(t, tmp, "")
	out := strings.ReplaceAll(pasteRecipe(t, sh, prelude, recipe, 120*time.Second, "Error! No key exists at: ts/test/sex"), "\r", "")
	tables := regexp.MustCompile(`(?m)^Node +Address +Status +Type`).FindAllStringIndex(out, -1)
	if len(tables) != 2 {
		t.Fatalf("want two members -wan tables; terminal:\n%s", out)
	}
	before, after := out[tables[0][0]:tables[1][0]], out[tables[1][0]:]
	for _, n := range []string{"ts-test-31.ts-test1", "ts-test-32.ts-test1"} {
		if !strings.Contains(before, n) || !strings.Contains(after, n) {
			t.Fatalf("%s missing from a members -wan table; terminal:\n%s", n, out)
		}
	}
	if strings.Contains(before, ".ts-test ") {
		t.Fatalf("ts-test's servers in ts-test1's WAN view before the join; terminal:\n%s", out)
	}
	for _, n := range []string{"ts-test-41.ts-test", "ts-test-42.ts-test"} {
		if !strings.Contains(after, n) {
			t.Fatalf("%s missing after the join (the flood join brings both); terminal:\n%s", n, out)
		}
	}
	if !strings.Contains(before, "Successfully joined cluster by contacting 1 nodes.") {
		t.Fatalf("join -wan printed no success line; terminal:\n%s", out)
	}
	for _, want := range []string{
		"Success! Data written to: ts/test/sex",
		"Error! No key exists at: ts/test/sex",
		"[INFO] (runner) replicated 1 updates, 0 deletes",
	} {
		if !strings.Contains(after, want) {
			t.Fatalf("the recipe printed no %q; terminal:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`replicated 1 updates, 0 deletes\n(.*\n)*male\n`).MatchString(after) {
		t.Fatalf("no male after the replication; terminal:\n%s", out)
	}
}

// TestReadmeACLRecipe pastes the README's ACL walk-through (the seed's
// replication setup, an HCL primary and a JSON secondary) and checks what
// the seed promises: the policy and token printed in Consul's layout,
// set-agent-token's line, replication running in the secondary with the
// primary's three tokens in its own state, and a write without a token
// refused.
func TestReadmeACLRecipe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tmp := t.TempDir()
	t.Cleanup(func() { killAll([]byte(tmp)) })
	block := readmeBlock(t, "## Access control (ACLs)")
	p := testcluster.FreePorts(t, 10)
	var pairs [][2]string
	for i, lit := range []string{
		"-http-port 8500", "-dns-port 8600", "-serf-lan-port 8301", "-serf-wan-port 8302", "-server-port 8300",
		"-http-port 8510", "-dns-port 8610", "-serf-lan-port 8311", "-serf-wan-port 8312", "-server-port 8310",
	} {
		flag, _, _ := strings.Cut(lit, " ")
		pairs = append(pairs, [2]string{lit, fmt.Sprintf("%s %d", flag, p[i])})
	}
	pairs = append(pairs,
		[2]string{"127.0.0.1:8302", fmt.Sprintf("127.0.0.1:%d", p[3])},
		[2]string{"127.0.0.1:8510", fmt.Sprintf("127.0.0.1:%d", p[5])})
	recipe := prepareRecipe(t, block, pairs, tmp)
	sh := startShell(t, tmp, fmt.Sprintf("CONSUL_HTTP_ADDR=127.0.0.1:%d", p[0]))
	out := strings.ReplaceAll(pasteRecipe(t, sh, "", recipe, 90*time.Second, "Error! Failed writing data", "LastError"), "\r", "")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^ID: +[0-9a-f-]{36}\nName: +replication\n`),
		regexp.MustCompile(`(?m)^Rules:\nacl = "write"\noperator = "write"\n`),
		regexp.MustCompile(`(?m)^AccessorID: +[0-9a-f-]{36}\nSecretID: +[0-9a-f-]{36}\nDescription: +replication token\n`),
		regexp.MustCompile(`(?m)^Policies:\n +[0-9a-f-]{36} - replication$`),
		regexp.MustCompile(`ACL token "replication" set successfully`),
		regexp.MustCompile(`"Enabled":true,"Running":true,"SourceDatacenter":"primary_dc","ReplicationType":"tokens","ReplicatedIndex":[1-9]`),
		regexp.MustCompile(`(?m)^3$`),
		regexp.MustCompile(`403 \(Permission denied`),
		regexp.MustCompile(`refused without a token`),
	} {
		if !want.MatchString(out) {
			t.Fatalf("the recipe printed nothing matching %s; terminal:\n%s", want, out)
		}
	}
}
