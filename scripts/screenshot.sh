#!/usr/bin/env bash
# Regenerates the console pictures in docs/ from a real run: `consulx demo`
# in a 120x40 tmux session, captured with colours and rendered to SVG.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/consulx ./cmd/consulx
S=consulx-shot-$$
tmux new-session -d -s "$S" -x 120 -y 40 "env TERM=xterm-256color bin/consulx demo -servers 3 -clients 2"
trap 'tmux kill-session -t "$S" 2>/dev/null || true' EXIT
wait_for() {
  for _ in $(seq 1 100); do
    if tmux capture-pane -p -t "$S" | grep -q "$1"; then return 0; fi
    sleep 0.1
  done
  echo "screen never showed $1"; tmux capture-pane -p -t "$S"; exit 1
}
wait_for "client-2"
sleep 2  # let every member turn alive
tmux capture-pane -e -p -t "$S" > docs/console-members.ansi
go run ./scripts/ansi2svg < docs/console-members.ansi > docs/console-members.svg
tmux send-keys -t "$S" 4
sleep 1.5
tmux capture-pane -e -p -t "$S" > docs/console-raft.ansi
go run ./scripts/ansi2svg < docs/console-raft.ansi > docs/console-raft.svg
rm -f docs/*.ansi
echo "wrote docs/console-members.svg docs/console-raft.svg"
