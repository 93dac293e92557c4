package main

import (
	"fmt"
	"runtime"

	"consulx/node"
)

func runVersion(_ []string, env *cliEnv) int {
	fmt.Fprintf(env.stdout, "consulx v%s\nProtocol 2 spoken by default, understands 2 to 3\nGo %s %s/%s\n", node.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
