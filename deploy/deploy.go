// Package deploy holds what runs ebtools as a service: a systemd template
// unit with a drop-in per tool, a logrotate configuration, a Containerfile
// for an image FROM scratch and Kubernetes DaemonSets. It embeds them for
// the tests that check them against the binary (cmd/ebtools/deploy_test.go),
// which also run where the repository is not (a test-kernels guest).
//
//	b, err := deploy.Files.ReadFile("systemd/ebtools@.service")
package deploy

import "embed"

// Files are the packaging files, by their path under deploy/.
//
//go:embed Containerfile systemd kubernetes
var Files embed.FS
