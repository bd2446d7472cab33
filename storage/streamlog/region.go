package streamlog

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
)

// segFile is a segment file open for reading, shared by the Reader that
// opened it and the Regions it handed out: the descriptor is closed when
// the last of them lets go, so a chunk queued to be sent from the file
// stays readable after the Reader moved on to the next segment, and
// after retention or Delete removed the file (POSIX keeps an unlinked
// file's data while it is open). Segment files are append-only: a
// committed byte never changes, so an open descriptor always reads the
// chunk it was handed out for.
type segFile struct {
	f *os.File
	// fd is f's descriptor, for raw calls (cached.go) and sendfile: f
	// stays open, so fd stays f's, while refs is above zero.
	fd   uintptr
	refs atomic.Int32
}

func openSegFile(path string) (*segFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	sf := &segFile{f: f, fd: f.Fd()}
	sf.refs.Store(1) // the Reader's
	return sf, nil
}

func (sf *segFile) release() {
	if sf.refs.Add(-1) == 0 {
		sf.f.Close()
	}
}

// errReleased is the error of a Region used after Release.
var errReleased = errors.New("streamlog: region released")

// Region is a byte range of a segment file, held open until Release: a
// chunk's records, to be sent from the file (sendfile) rather than read
// into memory. The zero Region is empty and needs no Release. One
// goroutine uses a Region (it may be handed from one to another).
type Region struct {
	sf  *segFile
	Off int64 // the range's position in the file
	Len int64 // its length
}

// Fd is the file's descriptor, valid until Release.
func (rg *Region) Fd() uintptr {
	if rg.sf == nil {
		return ^uintptr(0) // not a descriptor: a call with it fails (EBADF)
	}
	return rg.sf.fd
}

// WriteTo writes the range to w through memory: the fallback where the
// destination cannot take a sendfile.
func (rg *Region) WriteTo(w io.Writer) (int64, error) {
	if rg.sf == nil {
		return 0, errReleased
	}
	return io.Copy(w, io.NewSectionReader(rg.sf.f, rg.Off, rg.Len))
}

// Release lets go of the file (closed once its Reader and every other
// Region let go too). It may be called more than once.
func (rg *Region) Release() {
	if rg.sf != nil {
		rg.sf.release()
		rg.sf = nil
	}
}
