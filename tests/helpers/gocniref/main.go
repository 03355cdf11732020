// Command gocniref drives containerd's go-cni (Debian's golang-github-containerd-go-cni-dev
// 1.1.7, over libcni 1.1.2) the way containerd does, so that tests/benchmarks/bench_networks.py
// can time cnilib's runtime layer against it in one run.
//
//	gocniref setup CONFDIR NETNS_PREFIX N [serial]
//
// It loads every network of CONFDIR (interfaces eth0, eth1, ... in file order), sets up N
// sandboxes at once, one goroutine each (container gocniref-<i>, namespace NETNS_PREFIX<i>),
// with Setup (a sandbox's networks in parallel) or, given "serial", SetupSerially, then removes
// them all at once, and prints "setup <N> <seconds>". CNI_PATH (colon-separated) names the
// plugin directories. Built by .ci/setup.sh in GOPATH mode into .venv/bin/gocniref.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	gocni "github.com/containerd/go-cni"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gocniref:", err)
	os.Exit(1)
}

// each runs f(0) ... f(n-1) on n goroutines and returns every error in one (Debian's Go 1.19
// has no errors.Join).
func each(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer wg.Done()
			errs[i] = f(i)
		}(i)
	}
	wg.Wait()
	var msgs []string
	for i, err := range errs {
		if err != nil {
			msgs = append(msgs, fmt.Sprintf("sandbox %d: %v", i, err))
		}
	}
	if msgs != nil {
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

func main() {
	args := os.Args[1:]
	if len(args) < 4 || len(args) > 5 || args[0] != "setup" || (len(args) == 5 && args[4] != "serial") {
		fail(errors.New("usage: gocniref setup CONFDIR NETNS_PREFIX N [serial]"))
	}
	confDir, prefix := args[1], args[2]
	n, err := strconv.Atoi(args[3])
	if err != nil || n < 1 {
		fail(fmt.Errorf("N must be a positive integer, not %q", args[3]))
	}
	serial := len(args) == 5

	cni, err := gocni.New(
		gocni.WithPluginDir(strings.Split(os.Getenv("CNI_PATH"), ":")),
		gocni.WithPluginConfDir(confDir),
		gocni.WithInterfacePrefix("eth"),
		gocni.WithMinNetworkCount(1),
	)
	if err != nil {
		fail(err)
	}
	if err := cni.Load(gocni.WithAllConf); err != nil {
		fail(err)
	}

	ctx := context.Background()
	container := func(i int) string { return "gocniref-" + strconv.Itoa(i) }
	netns := func(i int) string { return prefix + strconv.Itoa(i) }
	start := time.Now()
	err = each(n, func(i int) error {
		var err error
		if serial {
			_, err = cni.SetupSerially(ctx, container(i), netns(i))
		} else {
			_, err = cni.Setup(ctx, container(i), netns(i))
		}
		return err
	})
	if err != nil {
		fail(err)
	}
	if err := each(n, func(i int) error { return cni.Remove(ctx, container(i), netns(i)) }); err != nil {
		fail(err)
	}
	fmt.Printf("setup %d %.6f\n", n, time.Since(start).Seconds())
}
