package tools

import "github.com/ebtools/ebtools/output"

// SetResult puts a syscall's return value into a row as every tool shows
// it: the text RESULT column is 0 (or the value) on success and the errno's
// name on failure, JSON has "ret" and, on failure, "error".
func SetResult(r *output.Row, colResult, colRet, colError int, ret int64) {
	r.Int(colRet, ret)
	if ret >= 0 {
		r.Int(colResult, ret)
		return
	}
	name := output.ErrnoName(int(-ret))
	if name == "" {
		r.Int(colResult, ret)
		return
	}
	r.Text(colResult, name)
	r.Text(colError, name)
}

// ResultLabel is a syscall result as a metric's result label: "ok" on
// success, the errno's name on failure ("error" for a number without
// one), so the label takes a bounded set of values.
func ResultLabel(ret int64) string {
	if ret >= 0 {
		return "ok"
	}
	if name := output.ErrnoName(int(-ret)); name != "" {
		return name
	}
	return "error"
}
