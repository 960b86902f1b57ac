// Package all registers every ebtools tool. Adding a tool means one line here.
//
//	import _ "github.com/ebtools/ebtools/tools/all"
package all

import (
	_ "github.com/ebtools/ebtools/tools/execsnoop"
	_ "github.com/ebtools/ebtools/tools/ipcount"
	_ "github.com/ebtools/ebtools/tools/killsnoop"
	_ "github.com/ebtools/ebtools/tools/opensnoop"
	_ "github.com/ebtools/ebtools/tools/tcplife"
	_ "github.com/ebtools/ebtools/tools/unlinksnoop"
)
