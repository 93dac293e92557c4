#!/usr/bin/env bash
# Regenerates the console pictures in docs/ from a real run: `consulx demo`
# (seeded with a KV tree and services) in a 120x40 tmux session, captured
# with colours and rendered to SVG.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/consulx ./cmd/consulx
S=consulx-shot-$$
tmux new-session -d -s "$S" -x 120 -y 40 "env TERM=xterm-256color bin/consulx demo -servers 3 -clients 2"
trap 'tmux kill-session -t "$S" 2>/dev/null || true' EXIT
wait_for() {
  for _ in $(seq 1 300); do
    if tmux capture-pane -p -t "$S" | grep -Eq "$1"; then return 0; fi
    sleep 0.1
  done
  echo "screen never showed $1"; tmux capture-pane -p -t "$S"; exit 1
}
shot() {
  tmux capture-pane -e -p -t "$S" > "docs/console-$1.ansi"
  go run ./scripts/ansi2svg < "docs/console-$1.ansi" > "docs/console-$1.svg"
  rm -f "docs/console-$1.ansi"
  echo "wrote docs/console-$1.svg"
}
wait_for "5 members: 5 alive"
tmux send-keys -t "$S" jj # the cursor on a server
sleep 1
shot members

# Services, once every check has run (billing's fails), on billing.
tmux send-keys -t "$S" 6
wait_for "billing +1 +0 +0 +1"
wait_for "web +2 +2 +0 +0"
tmux send-keys -t "$S" j
sleep 0.5
shot services

# The KV browser on a seeded JSON config.
tmux send-keys -t "$S" 3
wait_for "features/"
tmux send-keys -t "$S" Enter
wait_for "kv: / app /"
tmux send-keys -t "$S" G Enter
wait_for "config.json"
tmux send-keys -t "$S" Enter
wait_for '"replicas": 3'
shot kv

tmux send-keys -t "$S" 4
wait_for "configuration index"
sleep 1
shot raft
