// cachediff: Go libcni's side of tests/test_cache.py's differential test (G5 in docs/guarantees.md).
//
// Build (Debian golang-go and golang-github-appc-cni-dev):
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o cachediff ./tests/helpers/cachediff
//
// Usage:
//
//	cachediff write CACHEDIR CONFLIST PLUGINDIR   ADD the list, so that libcni writes its cache
//	cachediff read CACHEDIR CONFLIST              print what libcni reads back from the cache:
//	                                              {"result": ..., "config": "...", "args": ...,
//	                                              "capabilityArgs": ...}
//
// Both use the attachment (c1, eth0) with the runtime arguments below.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/containernetworking/cni/libcni"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func main() {
	mode, cacheDir, conflist := os.Args[1], os.Args[2], os.Args[3]
	list, err := libcni.ConfListFromFile(conflist)
	must(err)
	path := []string{}
	if len(os.Args) > 4 {
		path = append(path, os.Args[4])
	}
	cni := libcni.NewCNIConfigWithCacheDir(path, cacheDir, nil)
	rt := &libcni.RuntimeConf{
		ContainerID: "c1",
		NetNS:       "/x",
		IfName:      "eth0",
		Args:        [][2]string{{"K8S_POD_NAME", "p<1>&"}, {"IgnoreUnknown", "1"}},
		CapabilityArgs: map[string]interface{}{
			"portMappings": []interface{}{
				map[string]interface{}{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
			},
			"mac": "c2:11:22:33:44:55",
		},
	}
	switch mode {
	case "write":
		_, err := cni.AddNetworkList(context.Background(), list, rt)
		must(err)
	case "read":
		res, err := cni.GetNetworkListCachedResult(list, rt)
		must(err)
		conf, newRt, err := cni.GetNetworkListCachedConfig(list, rt)
		must(err)
		out, err := json.Marshal(map[string]interface{}{
			"result":         res,
			"config":         string(conf),
			"args":           newRt.Args,
			"capabilityArgs": newRt.CapabilityArgs,
		})
		must(err)
		fmt.Println(string(out))
	default:
		must(fmt.Errorf("unknown mode %q", mode))
	}
}
