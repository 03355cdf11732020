// noop: a CNI plugin that does nothing, at once, so that a benchmark times only the runtime.
//
// Build (Debian golang-go; standard library only, static):
//
//	CGO_ENABLED=0 GO111MODULE=off go build -o .venv/bin/noop ./tests/helpers/noop
//
// .ci/setup.sh builds it into .venv/bin/noop; tests/benchmarks/bench_overhead.py puts it in a
// plugin directory under three names (a chain of three).
//
// Protocol (docs/performance.md): it reads its whole stdin, then by CNI_COMMAND
//
//	ADD      prints a 1.0.0 result: the request's prevResult if there is one, else one fixed IP
//	CHECK, DEL, GC, STATUS   prints nothing, exits 0
//	VERSION  prints the versions it supports
//	other    prints a CNI error (code 4) and exits 1
//
// The request is parsed only as far as prevResult, so its own time is small and constant.
package main

import (
	"encoding/json"
	"io"
	"os"
)

const fixed = `{"cniVersion":"1.0.0","ips":[{"address":"10.99.0.2/24","gateway":"10.99.0.1"}],"dns":{}}`

const versions = `{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}`

func main() {
	stdin, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(11, "cannot read stdin")
	}
	switch os.Getenv("CNI_COMMAND") {
	case "ADD":
		var req struct {
			PrevResult map[string]json.RawMessage `json:"prevResult"`
		}
		if err := json.Unmarshal(stdin, &req); err != nil {
			fail(6, "cannot decode the network configuration")
		}
		if req.PrevResult == nil {
			os.Stdout.WriteString(fixed)
			return
		}
		req.PrevResult["cniVersion"] = json.RawMessage(`"1.0.0"`)
		out, err := json.Marshal(req.PrevResult)
		if err != nil {
			fail(999, "cannot encode the result")
		}
		os.Stdout.Write(out)
	case "CHECK", "DEL", "GC", "STATUS":
	case "VERSION":
		os.Stdout.WriteString(versions)
	default:
		fail(4, "unknown CNI_COMMAND")
	}
}

func fail(code int, msg string) {
	out, _ := json.Marshal(map[string]interface{}{"cniVersion": "1.0.0", "code": code, "msg": msg})
	os.Stdout.Write(out)
	os.Exit(1)
}
