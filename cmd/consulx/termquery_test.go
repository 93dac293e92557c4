package main

import (
	"bytes"
	"io"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"consulx/internal/testcluster"
)

// TestCommandsDoNotQueryTheTerminal runs a CLI command on a terminal and
// checks it never writes the OSC 11 background-colour query. Bubble Tea's
// init used to send it from every command and then read (and discard) the
// terminal's input for up to 5 s waiting for the reply, which ate the next
// lines of a recipe pasted into a shell.
func TestCommandsDoNotQueryTheTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary on a pty")
	}
	bin := consulxBinary(t)
	master, slave := openPTY(t)
	defer master.Close()
	cmd := exec.Command(bin, "version")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.Env = []string{"TERM=xterm-256color", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var out bytes.Buffer
	read := make(chan struct{})
	go func() { _, _ = io.Copy(&out, master); close(read) }() // ends with EIO once the command exits
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	start := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("consulx version: %v\n%q", err, out.String())
		}
	case <-time.After(testcluster.Scaled(10 * time.Second)):
		_ = cmd.Process.Kill()
		t.Fatalf("consulx version on a terminal did not finish:\n%q", out.String())
	}
	select {
	case <-read:
	case <-time.After(testcluster.Scaled(5 * time.Second)):
	}
	if bytes.Contains(out.Bytes(), []byte("]11;?")) {
		t.Fatalf("consulx version queried the terminal (after %s): %q", time.Since(start), out.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("consulx")) {
		t.Fatalf("no version output: %q", out.String())
	}
}
