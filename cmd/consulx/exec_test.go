package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"consulx/api"
	"consulx/internal/testcluster"
)

// execCluster is a server and clients as processes, remote exec enabled
// on all but the ones named disabled.
type execCluster struct {
	t     *testing.T
	procs map[string]*proc
	first *proc
}

// addAgent starts an agent process with a config file holding conf.
func (c *execCluster) addAgent(name string, server bool, conf string) *proc {
	c.t.Helper()
	join := ""
	if c.first != nil {
		join = c.first.serf
	}
	p := newProc(c.t, name, server, 1, join)
	path := filepath.Join(filepath.Dir(p.logPath), "exec.json")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		c.t.Fatal(err)
	}
	p.args = append(p.args, "-config-file", path)
	startProc(c.t, p)
	if c.first == nil {
		c.first = p
	}
	c.procs[name] = p
	// Ready when every agent sees it alive (a job's initiator expects
	// answers from the members it knows).
	for _, other := range c.procs {
		testcluster.Eventually(c.t, 20*time.Second, func() error {
			out, code := cli(c.t, other.http, "members")
			if code != 0 || !regexp.MustCompile(`(?m)^`+name+` +\S+ +alive`).MatchString(out) {
				return fmt.Errorf("members on %s (exit %d):\n%s", other.name, code, out)
			}
			return nil
		})
	}
	return p
}

// execCLI runs `consulx exec` as a process against httpAddr and returns
// stdout, stderr and the exit code, bounded by within.
func execCLI(t *testing.T, httpAddr string, within time.Duration, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	cmd := exec.CommandContext(ctx, consulxBinary(t), append([]string{"exec"}, args...)...)
	cmd.Env = append(os.Environ(), "CONSUL_HTTP_ADDR="+httpAddr)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("consulx exec %v still running after %s; output so far:\n%s", args, within, out.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// byNode splits consul exec output into each node's lines, in order, and
// the summary line.
func byNode(t *testing.T, out string) (map[string][]string, string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	nodes := map[string][]string{}
	re := regexp.MustCompile(`^(?:    |==> )([^:]+):`)
	for _, l := range lines[:len(lines)-1] {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q is neither output nor status:\n%s", l, out)
		}
		nodes[m[1]] = append(nodes[m[1]], l)
	}
	return nodes, lines[len(lines)-1]
}

const execOn = `{"disable_remote_exec": false}`

// TestExecAcrossProcesses drives consulx exec as an operator does, against
// a server and clients running as separate processes: the seed's output,
// selection by node, service and tag, exit codes, refusal, the output
// cap, cancel, 50 MiB through the servers without Raft or KV, and a node
// killed mid-job.
func TestExecAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	c := &execCluster{t: t, procs: map[string]*proc{}}
	srv := c.addAgent("dc1server", true, execOn)
	cl1 := c.addAgent("dc1client", false, `{"disable_remote_exec": false, "service": {"name": "web", "tags": ["v1"]}}`)
	c.addAgent("dc1client2", false, `{"disable_remote_exec": false, "services": [{"name": "web", "tags": ["v2"]}, {"name": "db"}]}`)
	// The catalog must show the clients' services before -service can
	// select by them.
	testcluster.Eventually(t, 20*time.Second, func() error {
		entries, _, err := api.NewClient(srv.http).HealthService(context.Background(), "web", false, nil)
		if err != nil || len(entries) != 2 {
			return fmt.Errorf("web instances %d, err %v", len(entries), err)
		}
		return nil
	})
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("seed output", func(t *testing.T) {
		// The seed: `consul exec hostname` from the server and from a client.
		for _, from := range []*proc{srv, cl1} {
			out, stderr, code := execCLI(t, from.http, 30*time.Second, "hostname")
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, stderr)
			}
			nodes, summary := byNode(t, out)
			if summary != "3 / 3 node(s) completed / acknowledged" {
				t.Fatalf("summary %q\n%s", summary, out)
			}
			for _, n := range []string{"dc1server", "dc1client", "dc1client2"} {
				want := []string{"    " + n + ": " + host, "    " + n + ":", "==> " + n + ": finished with exit code 0"}
				if got := nodes[n]; strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("node %s printed\n%s\nwant\n%s\nwhole output:\n%s", n, strings.Join(got, "\n"), strings.Join(want, "\n"), out)
				}
			}
		}
	})

	t.Run("selection", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"-node", `^dc1client\d*$`}, []string{"dc1client", "dc1client2"}},
			{[]string{"-node", `(?:dc1(?:server|client2))`}, []string{"dc1client2", "dc1server"}},
			{[]string{"-service", "^web$"}, []string{"dc1client", "dc1client2"}},
			{[]string{"-service", "web", "-tag", "v2"}, []string{"dc1client2"}},
			{[]string{"-service", "db"}, []string{"dc1client2"}},
		} {
			out, stderr, code := execCLI(t, srv.http, 30*time.Second, append(tc.args, "true")...)
			nodes, summary := byNode(t, out)
			var got []string
			for n := range nodes {
				got = append(got, n)
			}
			sort.Strings(got)
			want := fmt.Sprintf("%d / %d node(s) completed / acknowledged", len(tc.want), len(tc.want))
			if code != 0 || strings.Join(got, ",") != strings.Join(tc.want, ",") || summary != want {
				t.Errorf("%v: exit %d, nodes %v, summary %q; want %v\n%s%s", tc.args, code, got, summary, tc.want, out, stderr)
			}
		}
		_, stderr, code := execCLI(t, srv.http, 10*time.Second, "-tag", "v1", "true")
		if code != 1 || stderr != "Cannot provide tag filter without service filter.\n" {
			t.Errorf("tag without service: exit %d, stderr %q", code, stderr)
		}
		_, stderr, code = execCLI(t, srv.http, 10*time.Second)
		if code != 1 || stderr != "Must specify a command to execute\n" {
			t.Errorf("no command: exit %d, stderr %q", code, stderr)
		}
	})

	t.Run("exit codes and stdin", func(t *testing.T) {
		out, _, code := execCLI(t, srv.http, 30*time.Second, "-node", "^dc1client$", "echo oops >&2; exit 3")
		want := "    dc1client: oops\n    dc1client:\n==> dc1client: finished with exit code 3\n1 / 1 node(s) completed / acknowledged\n"
		if code != 2 || out != want {
			t.Fatalf("exit %d, output\n%s\nwant exit 2 and\n%s", code, out, want)
		}
		cmd := exec.Command(consulxBinary(t), "exec", "-http-addr", srv.http, "-node", "dc1server", "-")
		cmd.Stdin = strings.NewReader("for i in 1 2; do echo line $i; done\n")
		b, err := cmd.Output()
		if err != nil || string(b) != "    dc1server: line 1\n    dc1server: line 2\n    dc1server:\n==> dc1server: finished with exit code 0\n1 / 1 node(s) completed / acknowledged\n" {
			t.Fatalf("script from stdin: %v\n%s", err, b)
		}
		out, _, code = execCLI(t, srv.http, 30*time.Second, "-node", "dc1server", "-timeout", "500ms", "sleep 20")
		if code != 2 || !strings.Contains(out, "==> dc1server: timed out, killed (exit code 137)\n") {
			t.Fatalf("timeout: exit %d\n%s", code, out)
		}
	})

	t.Run("output cap", func(t *testing.T) {
		out, _, code := execCLI(t, srv.http, 30*time.Second, "-node", "dc1server", "-max-output", "1000", "yes abcdefghi | head -c 100000")
		if code != 0 || strings.Count(out, "abcdefghi") != 100 || !strings.Contains(out, "    dc1server: [output truncated at 1000 bytes]\n") {
			t.Fatalf("exit %d, %d lines of output, want the 100 that fit in 1000 bytes and the marker:\n%.500s", code, strings.Count(out, "abcdefghi"), out)
		}
	})

	t.Run("refused where disabled", func(t *testing.T) {
		c.addAgent("locked", false, `{"disable_remote_exec": true}`)
		out, _, code := execCLI(t, cl1.http, 30*time.Second, "-node", "^(locked|dc1client)$", "true")
		nodes, summary := byNode(t, out)
		if code != 2 || strings.Join(nodes["locked"], "\n") != "==> locked: refused: remote exec disabled" || summary != "1 / 1 node(s) completed / acknowledged" {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})

	t.Run("cancel kills the remote process group", func(t *testing.T) {
		job := startRunningExec(t, cl1.http, []string{"-node", "^dc1client2$"}, "sh -c 'echo $$ > %s; exec sleep 120' & wait")
		if err := job.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if code := job.exitCode(t, 10*time.Second, "SIGINT"); code != 1 {
			t.Fatalf("interrupted exec: exit %d, want 1\n%s", code, job.out.String())
		}
		testcluster.Eventually(t, 10*time.Second, func() error {
			if syscall.Kill(job.pid, 0) == nil {
				return fmt.Errorf("the remote command's grandchild %d still runs", job.pid)
			}
			return nil
		})
	})

	t.Run("50 MiB never through Raft or KV", func(t *testing.T) {
		raftIndex := func() string {
			out, code := cli(t, srv.http, "info")
			m := regexp.MustCompile(`last_log_index = (\d+)`).FindStringSubmatch(out)
			if code != 0 || m == nil {
				t.Fatalf("info (exit %d):\n%s", code, out)
			}
			return m[1]
		}
		kvIndex := func() uint64 {
			_, meta, err := api.NewClient(srv.http).KVKeys(context.Background(), "", "", nil)
			if err != nil && !api.IsNotFound(err) {
				t.Fatal(err)
			}
			return meta.LastIndex
		}
		// Let the cluster settle: the catalog has taken every node.
		testcluster.Eventually(t, 20*time.Second, func() error {
			a := raftIndex()
			time.Sleep(1500 * time.Millisecond)
			if b := raftIndex(); a != b {
				return fmt.Errorf("raft index still moving: %s → %s", a, b)
			}
			return nil
		})
		beforeRaft, beforeKV := raftIndex(), kvIndex()
		rssBefore := rssKiB(t, srv.cmd.Process.Pid)
		var peak int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if r := rssKiB(t, srv.cmd.Process.Pid); r > peak {
					peak = r
				}
			}
		}()
		// Three nodes, 17.5 MB each: more than 50 MiB through the server.
		const perNode = 17_500_000
		const text = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxy"
		cmd := exec.Command(consulxBinary(t), "exec", "-http-addr", cl1.http, "-node", "^dc1(server|client|client2)$", "-max-output", "20000000",
			fmt.Sprintf("yes %s | head -c %d", text, perNode))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var lines int
		var last string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasSuffix(sc.Text(), ": "+text) {
				lines++
			}
			last = sc.Text()
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("exec: %v (last line %q)", err, last)
		}
		close(stop)
		wg.Wait()
		if want := 3 * (perNode / (len(text) + 1)); lines != want || last != "3 / 3 node(s) completed / acknowledged" {
			t.Fatalf("%d full lines (want %d), last line %q", lines, want, last)
		}
		if after := raftIndex(); after != beforeRaft {
			t.Errorf("server's raft last index moved from %s to %s during the job", beforeRaft, after)
		}
		if after := kvIndex(); after != beforeKV {
			t.Errorf("KV index moved from %d to %d during the job", beforeKV, after)
		}
		grew := peak - rssBefore
		t.Logf("server RSS %d KiB before, peak %d KiB during 52.5 MB of output (grew %d KiB)", rssBefore, peak, grew)
		if grew > 20<<10 {
			t.Errorf("server RSS grew by %d KiB during the job, want < 20 MiB", grew)
		}
	})

	t.Run("node frozen mid-job", func(t *testing.T) {
		// A frozen node (SIGSTOP: its connection stays open but silent)
		// is reported once its heartbeats stop, within wait plus a
		// heartbeat period.
		victim := c.procs["dc1client"]
		job := startRunningExec(t, srv.http, []string{"-node", "^dc1client$", "-wait", "1s"}, "echo $$ > %s; sleep 30")
		if err := victim.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = victim.cmd.Process.Signal(syscall.SIGCONT)
			_ = syscall.Kill(-job.pid, syscall.SIGKILL)
		}()
		stopped := time.Now()
		if code := job.exitCode(t, 10*time.Second, "its only node froze (wait 1s)"); code != 2 || !strings.Contains(job.out.String(), "==> dc1client: lost: no heartbeat for 1.5s\n") {
			t.Fatalf("exec after its node froze: exit %d\n%s", code, job.out.String())
		}
		t.Logf("returned %s after the freeze", time.Since(stopped).Round(time.Millisecond))
	})

	t.Run("node killed mid-job", func(t *testing.T) {
		victim := c.procs["dc1client2"]
		job := startRunningExec(t, cl1.http, []string{"-node", "^dc1client2$", "-wait", "2s"}, "echo $$ > %s; sleep 120")
		if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		out := job.out.String
		if code := job.exitCode(t, 5*time.Second, "its only node was killed (wait 2s)"); code != 2 || !strings.Contains(out(), "==> dc1client2: lost: ") || !strings.HasSuffix(out(), "0 / 1 node(s) completed / acknowledged\n") {
			t.Fatalf("exec after its node died: exit %d\n%s", code, out())
		}
		t.Logf("returned %s after the kill:\n%s", time.Since(killed).Round(time.Millisecond), out())
	})
}

// runningExec is `consulx exec` running in the background, its remote
// command known to have started.
type runningExec struct {
	cmd *exec.Cmd
	out *bytes.Buffer
	pid int // the remote shell's (or its child's) pid
}

// startRunningExec starts `consulx exec ARGS COMMAND` against httpAddr,
// where COMMAND (a format with one %s) writes a pid to the marker file it
// is given, and returns once that pid is there.
func startRunningExec(t *testing.T, httpAddr string, args []string, command string) *runningExec {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "pid")
	full := append(append([]string{"exec", "-http-addr", httpAddr}, args...), fmt.Sprintf(command, marker))
	job := &runningExec{cmd: exec.Command(consulxBinary(t), full...), out: &bytes.Buffer{}}
	job.cmd.Stdout, job.cmd.Stderr = job.out, job.out
	if err := job.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = job.cmd.Process.Kill() })
	job.pid = waitPidFile(t, marker)
	return job
}

// exitCode waits (bounded by within) for the CLI to end and returns its
// exit code; after names what it should have ended after.
func (j *runningExec) exitCode(t *testing.T, within time.Duration, after string) int {
	t.Helper()
	waited := make(chan error, 1)
	go func() { waited <- j.cmd.Wait() }()
	select {
	case err := <-waited:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(within):
		t.Fatalf("exec still running %s after %s\n%s", within, after, j.out.String())
		return -1
	}
}

// waitPidFile waits (bounded) for a pid written to path and returns it.
func waitPidFile(t *testing.T, path string) int {
	t.Helper()
	var pid int
	testcluster.Eventually(t, 20*time.Second, func() error {
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return fmt.Errorf("no pid in %s yet", path)
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err
	})
	return pid
}

// rssKiB is a process's resident set size.
func rssKiB(t *testing.T, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS for %d", pid)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}
