package ipcount

import (
	"testing"

	"github.com/ebtools/ebtools/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }
