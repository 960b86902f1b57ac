package ipcount

import (
	"fmt"
	"os"
	"testing"

	"github.com/ebtools/ebtools/internal/testutil"
)

// helperEnv makes the test binary a helper instead of running tests (see
// helper in flood_test.go): it runs inside the test's network namespace.
const helperEnv = "EBTOOLS_IPCOUNT_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		if err := helper(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	testutil.Main(m)
}
