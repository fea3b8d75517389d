package main

/*
#include <stdint.h>
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/inspect"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/merge"
	"github.com/pytest-difftest/pytest-difftest/lib/internal/remote"
)

// The command line's functions (pytest-difftest merge / inspect, SPEC 8):
// one JSON request in, one JSON document out, with the conventions of
// include/difftest.h.
//
//	int dt_merge(const char *request, char **out);
//	  request: {"output": file or s3:// / file:// object,
//	            "inputs": [file, directory, object URL, or prefix URL ending in "/"],
//	            "env": {"AWS_...": "..."} (the caller's environment now),
//	            "progress": bool ("merging i/N: <input>" lines on stderr
//	                        when there are more than 5 inputs)}
//	  *out: {"output", "inputs": [databases merged], "tests", "files",
//	         "blocks", "bytes": size of the output, "millis"}
//	  Errors (DT_ERROR) are one line naming the input or output at fault;
//	  the output is then untouched.
//
//	int dt_inspect(const char *request, char **out);
//	  request: {"db": path, "test": node id or "", "file": path or "",
//	            "env": environment name or ""}
//	  *out: {"summary": {...}} | {"test": {...}} | {"file": {...}}
//	  (see lib/inspect). An unknown node id or path is an error (DT_ERROR).

// mergeRequest is dt_merge's request.
type mergeRequest struct {
	Output   string            `json:"output"`
	Inputs   []string          `json:"inputs"`
	Env      map[string]string `json:"env"`      // AWS_* as Python sees them
	Progress bool              `json:"progress"` // progress lines on stderr
}

//export dtgo_merge
func dtgo_merge(request *C.char, out **C.char) (code C.int) {
	defer guard(out, &code)
	var req mergeRequest
	if err := json.Unmarshal([]byte(C.GoString(request)), &req); err != nil {
		return reply(out, nil, fmt.Errorf("bad merge request: %w", err))
	}
	opts := merge.Options{Remote: remote.Options{Env: req.Env}}
	if req.Progress {
		opts.Log = os.Stderr
	}
	res, err := merge.Run(context.Background(), req.Output, req.Inputs, opts)
	return reply(out, res, err)
}

//export dtgo_inspect
func dtgo_inspect(request *C.char, out **C.char) (code C.int) {
	defer guard(out, &code)
	var req inspect.Request
	if err := json.Unmarshal([]byte(C.GoString(request)), &req); err != nil {
		return reply(out, nil, fmt.Errorf("bad inspect request: %w", err))
	}
	rep, err := inspect.Run(req)
	return reply(out, rep, err)
}
