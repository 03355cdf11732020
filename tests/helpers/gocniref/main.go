// Command gocniref drives containerd's go-cni (Debian's golang-github-containerd-go-cni-dev
// 1.1.7, over libcni 1.1.2) the way containerd does, so that tests/benchmarks/bench_networks.py
// can time cnilib's runtime layer against it in one run.
//
//	gocniref setup CONFDIR NETNS_PREFIX N [serial]
//
// It loads every network of CONFDIR (interfaces eth0, eth1, ... in file order), sets up N
// sandboxes at once, one goroutine each (container gocniref-<i>, namespace NETNS_PREFIX<i>),
// with Setup (a sandbox's networks in parallel) or, given "serial", SetupSerially, then removes
// them all at once, and prints "setup <N> <seconds> <cpu> <queued> <preempted>": the wall
// seconds, then what gocniref itself (not its plugins) spent meanwhile: CPU seconds, seconds
// its threads waited on the run queue (runnable, not running; from
// /proc/self/task/<tid>/schedstat, -1 where the kernel has none) and involuntary context
// switches. CNI_PATH (colon-separated) names the plugin directories. Built by .ci/setup.sh in
// GOPATH mode into .venv/bin/gocniref.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// usage is what this process has spent: CPU seconds and involuntary context switches (all its
// threads), and nanoseconds its threads have waited on the run queue, by thread id (nil where
// the kernel keeps no schedstat).
func usage() (float64, int64, map[string]int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail(err)
	}
	cpu := float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	tasks, _ := filepath.Glob("/proc/self/task/*/schedstat")
	var waits map[string]int64
	for _, path := range tasks {
		data, err := os.ReadFile(path)
		fields := strings.Fields(string(data))
		if err != nil || len(fields) < 2 {
			continue
		}
		if wait, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
			if waits == nil {
				waits = map[string]int64{}
			}
			waits[filepath.Base(filepath.Dir(path))] = wait
		}
	}
	return cpu, ru.Nivcsw, waits
}

// queued is the run-queue wait between two usage snapshots in seconds, summed over the threads
// alive at the end (a thread started in between counts from zero); -1 without schedstat.
func queued(before, after map[string]int64) float64 {
	if after == nil {
		return -1
	}
	var total int64
	for tid, wait := range after {
		total += wait - before[tid]
	}
	return float64(total) / 1e9
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
	cpu0, preempted0, waits0 := usage()
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
	elapsed := time.Since(start).Seconds()
	cpu1, preempted1, waits1 := usage()
	fmt.Printf("setup %d %.6f %.6f %.6f %d\n", n, elapsed, cpu1-cpu0, queued(waits0, waits1),
		preempted1-preempted0)
}
