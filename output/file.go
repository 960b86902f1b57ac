package output

import (
	"fmt"
	"os"
	"sync"
)

// File is an output file that ebtools appends to and can reopen under
// the same name, as logrotate expects: it renames the file, then sends
// SIGHUP, and the lines after the reopen go to a new file of that name.
//
// A Write goes to one file whole: a reopen waits for a write in progress.
// As Writer writes whole lines only, no line is split across the two
// files, and none is lost or written twice.
type File struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// OpenFile opens path for appending, creating it (mode 0640, less the
// umask) if it does not exist.
func OpenFile(path string) (*File, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &File{path: path, f: f}, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open output file: %w", err)
	}
	return f, nil
}

// Write appends p to the file open now.
func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.Write(p)
}

// Reopen opens the file's path anew and writes there from now on. If the
// path cannot be opened, the current file stays in use.
func (f *File) Reopen() error {
	nf, err := openAppend(f.path)
	if err != nil {
		return err
	}
	f.mu.Lock()
	old := f.f
	f.f = nf
	f.mu.Unlock()
	return old.Close()
}

// Close closes the file.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.Close()
}

// Path returns the file's name.
func (f *File) Path() string { return f.path }
