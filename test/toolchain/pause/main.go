// The pod sandbox's process for the real-node tests: what registry.k8s.io/pause does (hold the
// pod's namespaces, reap orphaned children, exit on SIGINT/SIGTERM), as a static Go binary so that
// its image can be made locally without pulling.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
