package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDisasterRecoveryDrill runs scripts/dr-drill.sh, which performs every
// step of docs/disaster-recovery.md against real agent processes.
func TestDisasterRecoveryDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-server cluster of processes")
	}
	base := 20000 + (os.Getpid()%200)*50
	cmd := exec.Command("bash", "../../scripts/dr-drill.sh")
	cmd.Env = append(os.Environ(), "CONSULX_BIN="+consulxBinary(t), fmt.Sprintf("DR_BASE_PORT=%d", base))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "== drill passed") {
		t.Fatalf("drill failed: %v\n%s", err, out)
	}
}
