// goref: Go libcni doing the same work as cnilib, for the differential tests and the benchmarks.
//
// It is built against Debian's libcni sources (golang-github-appc-cni-dev, libcni 1.1.2: ADD,
// CHECK and DEL; no GC or STATUS) in GOPATH mode, with no module download. .ci/setup.sh builds
// it into .venv/bin/goref, again whenever this file is newer than the binary:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o .venv/bin/goref ./tests/helpers/goref
//
// Usage (plugin directories come from $CNI_PATH, colon-separated):
//
//	goref load DIR ITER                 ITER times: list DIR, parse every .conflist, and every
//	                                    .conf and .json up-converted to a list (count: plugins)
//	goref cycle CONFLIST NETNS N        N times: ADD, CHECK, DEL of the list, for container
//	                                    bench-<i>, interface eth0 (count: cycles)
//	goref par CONFLIST NETNS_PREFIX N   ADD N containers par-<i> at once, one goroutine each, in
//	                                    netns NETNS_PREFIX<i>; then DEL them all at once
//	goref convert RESULT N              N times: parse a 1.0.0/1.1.0 result, convert it to 0.4.0
//	                                    and to 0.2.0 (count: results)
//
// On success it prints one line, "<op> <count> <seconds>", and exits 0. On failure it prints
// libcni's error on stderr and exits 1 (2 for a usage error). cycle and par keep the result
// cache in a fresh folder under $TMPDIR, removed on success and left behind on failure so
// that it can be inspected (the caller owns $TMPDIR).
//
// Used by tests/integration/test_goref.py and tests/benchmarks/bench_*.py.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/libcni"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

const usage = `usage:
  goref load DIR ITER
  goref cycle CONFLIST NETNS N
  goref par CONFLIST NETNS_PREFIX N
  goref convert RESULT N`

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}

func usageError(msg string) {
	fmt.Fprintf(os.Stderr, "goref: %s\n%s\n", msg, usage)
	os.Exit(2)
}

// count parses a non-negative repeat count.
func count(arg string) int {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 0 {
		usageError(fmt.Sprintf("not a count: %q", arg))
	}
	return n
}

// load parses every configuration of dir, as a runtime looking for networks does.
func load(dir string, iter int) int {
	plugins := 0
	for i := 0; i < iter; i++ {
		files, err := libcni.ConfFiles(dir, []string{".conf", ".conflist", ".json"})
		if err != nil {
			fail(err)
		}
		for _, file := range files {
			var list *libcni.NetworkConfigList
			if strings.HasSuffix(file, ".conflist") {
				list, err = libcni.ConfListFromFile(file)
			} else {
				var conf *libcni.NetworkConfig
				if conf, err = libcni.ConfFromFile(file); err == nil {
					list, err = libcni.ConfListFromConf(conf)
				}
			}
			if err != nil {
				fail(fmt.Errorf("%s: %w", file, err))
			}
			plugins += len(list.Plugins)
		}
	}
	return plugins
}

// runtime is libcni over $CNI_PATH with its cache in a fresh folder under $TMPDIR.
func runtime(conflist string) (*libcni.CNIConfig, *libcni.NetworkConfigList, string) {
	list, err := libcni.ConfListFromFile(conflist)
	if err != nil {
		fail(err)
	}
	cache, err := os.MkdirTemp("", "goref-cache-")
	if err != nil {
		fail(err)
	}
	paths := filepath.SplitList(os.Getenv("CNI_PATH"))
	return libcni.NewCNIConfigWithCacheDir(paths, cache, nil), list, cache
}

func cycle(conflist, netns string, n int) int {
	cni, list, cache := runtime(conflist)
	ctx := context.Background()
	for i := 0; i < n; i++ {
		rt := &libcni.RuntimeConf{ContainerID: fmt.Sprintf("bench-%d", i), NetNS: netns, IfName: "eth0"}
		if _, err := cni.AddNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	}
	os.RemoveAll(cache)
	return n
}

// all runs op for every attachment at once and returns the first error, naming its container.
func all(rts []*libcni.RuntimeConf, op func(*libcni.RuntimeConf) error) error {
	errs := make([]error, len(rts))
	var wg sync.WaitGroup
	for i, rt := range rts {
		wg.Add(1)
		go func(i int, rt *libcni.RuntimeConf) {
			defer wg.Done()
			if err := op(rt); err != nil {
				errs[i] = fmt.Errorf("%s: %w", rt.ContainerID, err)
			}
		}(i, rt)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func par(conflist, prefix string, n int) int {
	cni, list, cache := runtime(conflist)
	ctx := context.Background()
	rts := make([]*libcni.RuntimeConf, n)
	for i := range rts {
		rts[i] = &libcni.RuntimeConf{
			ContainerID: fmt.Sprintf("par-%d", i), NetNS: fmt.Sprintf("%s%d", prefix, i), IfName: "eth0",
		}
	}
	addErr := all(rts, func(rt *libcni.RuntimeConf) error {
		_, err := cni.AddNetworkList(ctx, list, rt)
		return err
	})
	// DEL every container even when an ADD failed, so that nothing is left attached.
	delErr := all(rts, func(rt *libcni.RuntimeConf) error { return cni.DelNetworkList(ctx, list, rt) })
	for _, err := range []error{addErr, delErr} {
		if err != nil {
			fail(err)
		}
	}
	os.RemoveAll(cache)
	return n
}

func convert(file string, n int) int {
	data, err := os.ReadFile(file)
	if err != nil {
		fail(err)
	}
	for i := 0; i < n; i++ {
		result, err := types100.NewResult(data)
		if err != nil {
			fail(err)
		}
		for _, version := range []string{"0.4.0", "0.2.0"} {
			if _, err := result.GetAsVersion(version); err != nil {
				fail(err)
			}
		}
	}
	return n
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		usageError("no operation")
	}
	op, want := args[0], map[string]int{"load": 3, "cycle": 4, "par": 4, "convert": 3}[args[0]]
	if want == 0 {
		usageError(fmt.Sprintf("unknown operation %q", op))
	}
	if len(args) != want {
		usageError(fmt.Sprintf("%s takes %d arguments", op, want-1))
	}
	start := time.Now()
	var done int
	switch op {
	case "load":
		done = load(args[1], count(args[2]))
	case "cycle":
		done = cycle(args[1], args[2], count(args[3]))
	case "par":
		done = par(args[1], args[2], count(args[3]))
	case "convert":
		done = convert(args[1], count(args[2]))
	}
	fmt.Printf("%s %d %.6f\n", op, done, time.Since(start).Seconds())
}
