// fuse-floor mounts a local directory through the cheapest FUSE file system there is: every request
// is forwarded to the directory as it is, and reads are handed to the kernel (FUSE passthrough) where
// the kernel and our privileges allow it. Reading a dataset through it shows what FUSE alone costs
// on a machine, the floor under any FUSE file system's reads there, JuiceFS's included.
//
//	fuse-floor [-ttl seconds] <directory> <mount point>
//
// Once mounted it prints one JSON line on stdout, {"passthrough": true|false}, and serves until
// SIGTERM or SIGINT, then unmounts.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// passthroughWorks registers a (deleted) regular file as a backing file and drops it again: the
// kernel accepts it only when it supports passthrough and the process may use it (CAP_SYS_ADMIN).
func passthroughWorks(server *fuse.Server) bool {
	f, err := os.CreateTemp("", "fuse-floor-")
	if err != nil {
		return false
	}
	_ = os.Remove(f.Name())
	defer f.Close()
	id, errno := server.RegisterBackingFd(&fuse.BackingMap{Fd: int32(f.Fd())})
	if errno != 0 {
		return false
	}
	server.UnregisterBackingFd(id)
	return true
}

func main() {
	ttl := flag.Float64("ttl", 1, "seconds the kernel keeps entries and attributes (JuiceFS's default is 1)")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: fuse-floor [-ttl seconds] <directory> <mount point>")
		os.Exit(2)
	}
	dir, mountPoint := flag.Arg(0), flag.Arg(1)
	root, err := fs.NewLoopbackRoot(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fuse-floor: %v\n", err)
		os.Exit(1)
	}
	timeout := time.Duration(*ttl * float64(time.Second))
	server, err := fs.Mount(mountPoint, root, &fs.Options{
		EntryTimeout: &timeout,
		AttrTimeout:  &timeout,
		MountOptions: fuse.MountOptions{FsName: dir, Name: "fuse-floor", DirectMount: true},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "fuse-floor: mount %s: %v\n", mountPoint, err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		_ = server.Unmount()
	}()
	line, _ := json.Marshal(map[string]bool{"passthrough": passthroughWorks(server)})
	fmt.Println(string(line))
	server.Wait()
}
