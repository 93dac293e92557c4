package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"consulx/internal/testcluster"
)

// openPTY opens a pseudo-terminal pair (80x24) with /dev/ptmx directly, so
// the tests need no pty dependency.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("open pty slave: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80}); err != nil {
		t.Fatalf("set pty size: %v", err)
	}
	return m, s
}

// ptyShell is an interactive bash on its own pseudo-terminal, with job
// control, as an operator's terminal is: commands written to it are
// "pasted", and `&` jobs get their own process groups.
type ptyShell struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	// marks is how far wait has consumed out, so each wait sees new output.
	marks int
}

func startShell(t *testing.T, dir string, env ...string) *ptyShell {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	m, s := openPTY(t)
	sh := &ptyShell{t: t, master: m}
	sh.cmd = exec.Command("bash", "--norc", "--noprofile", "-i")
	sh.cmd.Dir = dir
	sh.cmd.Env = append(os.Environ(), append([]string{"TERM=xterm-256color", "PS1=$ ", "HISTFILE=/dev/null"}, env...)...)
	sh.cmd.Stdin, sh.cmd.Stdout, sh.cmd.Stderr = s, s, s
	// A new session whose controlling terminal is the pty: bash then runs
	// job control on it exactly as in a terminal window.
	sh.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := sh.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		answered := map[string]int{}
		for {
			n, err := m.Read(buf)
			sh.mu.Lock()
			sh.out.Write(buf[:n])
			out := sh.out.Bytes()
			// Answer what a terminal emulator answers. The console asks
			// for the background colour before it starts (through
			// termenv) and waits up to 5 s for the reply.
			var reply []byte
			for _, qa := range terminalReplies {
				for c := bytes.Count(out, []byte(qa[0])); answered[qa[0]] < c; answered[qa[0]]++ {
					reply = append(reply, qa[1]...)
				}
			}
			sh.mu.Unlock()
			if len(reply) > 0 {
				_, _ = m.Write(reply)
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = sh.cmd.Process.Kill()
		_, _ = sh.cmd.Process.Wait()
		m.Close()
		select {
		case <-readDone:
		case <-time.After(testcluster.Scaled(2 * time.Second)):
		}
		if t.Failed() {
			t.Logf("terminal output:\n%s", sh.output())
		}
	})
	return sh
}

// terminalReplies maps queries a program writes to a terminal to the
// terminal's answer: the background colour (OSC 11) and the cursor
// position (DSR).
// termenv reads them in the order it asked (colour, then position), so
// they are answered in that order.
var terminalReplies = [][2]string{
	{"\x1b]11;?", "\x1b]11;rgb:0000/0000/0000\x1b\\"},
	{"\x1b[6n", "\x1b[1;1R"},
}

// paste pastes text as a terminal with bracketed paste does (bash and zsh
// turn it on), then presses Enter: the shell runs the pasted lines one
// after another from its own buffer, as it does for an operator.
func (sh *ptyShell) paste(text string) {
	sh.t.Helper()
	sh.send("\x1b[200~" + text + "\x1b[201~\r")
}

// send types text into the terminal.
func (sh *ptyShell) send(text string) {
	sh.t.Helper()
	if _, err := sh.master.Write([]byte(text)); err != nil {
		sh.t.Fatalf("write to pty: %v", err)
	}
}

func (sh *ptyShell) output() string {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return strings.ReplaceAll(sh.out.String(), "\r\n", "\n")
}

// wait waits for re to match output written since the previous wait and
// returns the submatches. Markers should be produced by the shell (printf
// with a format) so the terminal's echo of the command cannot match.
func (sh *ptyShell) wait(timeout time.Duration, re *regexp.Regexp) []string {
	sh.t.Helper()
	var m []string
	testcluster.Eventually(sh.t, timeout, func() error {
		out := sh.output()
		loc := re.FindStringSubmatchIndex(out[sh.marks:])
		if loc == nil {
			return fmt.Errorf("terminal shows no %q yet", re)
		}
		for i := 0; i < len(loc); i += 2 {
			if loc[i] < 0 {
				m = append(m, "")
				continue
			}
			m = append(m, out[sh.marks+loc[i]:sh.marks+loc[i+1]])
		}
		sh.marks += loc[1]
		return nil
	})
	return m
}

// procState is the state letter in /proc/PID/stat ("T" stopped, "Z"
// zombie), or "" once the process is gone.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name may hold spaces; the state follows its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// killAll kills, with SIGKILL, every process whose command line mentions
// marker (a test's unique temp dir), so nothing a recipe started outlives
// the test even when its PID was never learned.
func killAll(marker []byte) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, marker) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
