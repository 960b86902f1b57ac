package killsnoop

import (
	"testing"
	"time"

	"github.com/ebtools/ebtools/internal/testutil"
)

func TestMain(m *testing.M) {
	time.Local = time.UTC // golden files hold HH:MM:SS
	testutil.Main(m)
}
