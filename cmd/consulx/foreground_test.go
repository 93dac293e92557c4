package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"consulx/api"
	"consulx/internal/testcluster"
)

// devAgentArgs is a dev agent on free ports, console not disabled.
func devAgentArgs(t *testing.T, name string) (args, httpAddr string) {
	p := testcluster.FreePorts(t, 5)
	return fmt.Sprintf("agent -dev -node %s -http-port %d -dns-port %d -serf-lan-port %d -serf-wan-port %d -server-port %d",
		name, p[0], p[1], p[2], p[3], p[4]), fmt.Sprintf("127.0.0.1:%d", p[0])
}

// TestBackgroundAgentOnTerminalRunsHeadless: `consulx agent ... &` typed
// into an interactive shell must not open the console (raw mode from a
// background job is stopped by SIGTTOU: "Stopped (tty output)"); it runs
// headless, logs to the terminal and serves. The same command in the
// foreground still opens the console.
func TestBackgroundAgentOnTerminalRunsHeadless(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := consulxBinary(t)
	sh := startShell(t, t.TempDir())

	args, httpAddr := devAgentArgs(t, "bg")
	sh.send(fmt.Sprintf("%s %s & printf 'bg-pid:%%d\\n' $!\n", bin, args))
	pid, _ := strconv.Atoi(sh.wait(10*time.Second, regexp.MustCompile(`bg-pid:(\d+)`))[1])
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })

	client := api.NewClient(httpAddr)
	testcluster.Eventually(t, 10*time.Second, func() error {
		if st := procState(pid); st == "T" || st == "" {
			return fmt.Errorf("background agent %d: state %q (T is stopped)", pid, st)
		}
		ctx, cancel := context.WithTimeout(context.Background(), testcluster.Scaled(time.Second))
		defer cancel()
		leader, err := client.Leader(ctx)
		if err != nil || leader == "" {
			return fmt.Errorf("background agent serves no leader yet: %q %v", leader, err)
		}
		return nil
	})
	// Headless means its log lines reach the terminal (with the console
	// they would only go to the Log pane).
	sh.wait(10*time.Second, regexp.MustCompile(`\[INFO\] +agent: consulx agent running: node=bg`))
	// And it is still running, not stopped, once it has settled; ask the
	// shell too, since job control is what stopped it before.
	sh.send("jobs -l; printf 'jobs-listed:%d\\n' $?\n")
	jobs := sh.wait(10*time.Second, regexp.MustCompile(`(?s)(.*)jobs-listed:0`))[1]
	if strings.Contains(jobs, "Stopped") || procState(pid) == "T" {
		t.Fatalf("background agent stopped; jobs:\n%s", jobs)
	}
	if !strings.Contains(jobs, "Running") {
		t.Fatalf("jobs -l does not list the agent as running:\n%s", jobs)
	}

	// The foreground counterpart: the decision is about the process group,
	// not merely "never on a terminal". sh -c prints its PID, then becomes
	// the agent.
	fgArgs, _ := devAgentArgs(t, "fg")
	sh.send(fmt.Sprintf("sh -c 'printf \"fg-pid:%%s\\n\" $$; exec %s %s'\n", bin, fgArgs))
	fgPID, _ := strconv.Atoi(sh.wait(10*time.Second, regexp.MustCompile(`fg-pid:(\d+)`))[1])
	t.Cleanup(func() { _ = syscall.Kill(fgPID, syscall.SIGKILL) })
	sh.wait(15*time.Second, regexp.MustCompile(`Members`))
	if st := procState(fgPID); st == "T" || st == "" {
		t.Fatalf("foreground agent with the console: state %q", st)
	}
}

// TestBackgroundDemoAndTUI: `consulx demo &` runs its cluster headless
// (printing the agents' addresses) instead of stopping on SIGTTOU, and
// `consulx tui &` says in one line why it cannot run rather than stopping.
func TestBackgroundDemoAndTUI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := consulxBinary(t)
	sh := startShell(t, t.TempDir())
	sh.send(fmt.Sprintf("%s demo -servers 1 -clients 0 & printf 'demo-pid:%%d\\n' $!\n", bin))
	pid, _ := strconv.Atoi(sh.wait(10*time.Second, regexp.MustCompile(`demo-pid:(\d+)`))[1])
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	addr := sh.wait(30*time.Second, regexp.MustCompile(`http=(127\.0\.0\.1:\d+)`))[1]
	if st := procState(pid); st == "T" || st == "" {
		t.Fatalf("background demo: state %q (T is stopped)", st)
	}
	sh.send(fmt.Sprintf("%s tui -http-addr %s & wait $!; printf 'tui-exit:%%d\\n' $?\n", bin, addr))
	m := sh.wait(15*time.Second, regexp.MustCompile(`(?s)(consulx tui needs a terminal in the foreground[^\n]*).*tui-exit:(\d+)`))
	if m[2] != "1" {
		t.Fatalf("background tui exited %s, want 1", m[2])
	}
	if st := procState(pid); st == "T" || st == "" {
		t.Fatalf("background demo after the tui attempt: state %q", st)
	}
}
