package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warrenmq/warren/amqp/server"
)

// startWait bounds every wait of these tests: a broker start under -race,
// its exit.
const startWait = 30 * time.Second

// warrenProc is a broker in a child process (this test binary running
// run(), see TestMain) whose stdout and stderr lines are kept.
type warrenProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped

	mu struct {
		sync.Mutex
		stdout, stderr []string
		changed        chan struct{} // closed and replaced on every line
	}
}

// startWarren runs the broker with args and, besides the environment of
// the test without its WARREN_* variables, env.
func startWarren(t *testing.T, env []string, args ...string) *warrenProc {
	t.Helper()
	return startWarrenBin(t, "", env, args...)
}

// startWarrenBin is startWarren running the warren binary bin instead of
// this test binary ("": this test binary).
func startWarrenBin(t *testing.T, bin string, env []string, args ...string) *warrenProc {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if bin != "" {
		cmd = exec.Command(bin, args...)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WARREN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if bin != "" {
		// A built binary, unlike this test binary's broker (TestMain),
		// would take RabbitMQ's ports for its API and metrics: ports of
		// its own, unless the test says otherwise.
		cmd.Env = append(cmd.Env, "WARREN_MANAGEMENT_LISTEN=127.0.0.1:0", "WARREN_PROMETHEUS_LISTEN=127.0.0.1:0", "WARREN_STREAM_LISTEN=127.0.0.1:0", "WARREN_STREAM_TLS_LISTEN=off")
	}
	cmd.Env = append(cmd.Env, env...)
	if bin == "" {
		cmd.Env = append(cmd.Env, brokerArgsEnv+"="+string(raw))
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &warrenProc{cmd: cmd, done: make(chan struct{})}
	p.mu.changed = make(chan struct{})
	var readers sync.WaitGroup
	for _, r := range []struct {
		f    *os.File
		into *[]string
	}{{stdout.(*os.File), &p.mu.stdout}, {stderr.(*os.File), &p.mu.stderr}} {
		readers.Go(func() {
			buf := make([]byte, 0, 4096)
			chunk := make([]byte, 4096)
			for {
				n, err := r.f.Read(chunk)
				buf = append(buf, chunk[:n]...)
				p.mu.Lock()
				for {
					i := strings.IndexByte(string(buf), '\n')
					if i < 0 {
						break
					}
					*r.into = append(*r.into, string(buf[:i]))
					buf = buf[i+1:]
				}
				if err != nil && len(buf) > 0 {
					*r.into = append(*r.into, string(buf))
				}
				close(p.mu.changed)
				p.mu.changed = make(chan struct{})
				p.mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	go func() {
		readers.Wait()
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

// wait polls cond (called with the lines, under the lock) until it holds,
// the process has exited, or startWait has passed; it reports whether
// cond held.
func (p *warrenProc) wait(cond func(stdout, stderr []string) bool) bool {
	deadline := time.After(startWait)
	for {
		p.mu.Lock()
		ok, changed := cond(p.mu.stdout, p.mu.stderr), p.mu.changed
		p.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-p.done:
			p.mu.Lock()
			defer p.mu.Unlock()
			return cond(p.mu.stdout, p.mu.stderr)
		case <-deadline:
			return false
		}
	}
}

func (p *warrenProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "stdout:\n" + strings.Join(p.mu.stdout, "\n") + "\nstderr:\n" + strings.Join(p.mu.stderr, "\n")
}

// exitCode waits for the process to exit; -1 if it did not in time.
func (p *warrenProc) exitCode() int {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(startWait):
		return -1
	}
}

// TestPprofFromEnvAndFile starts a real broker with --pprof given by
// WARREN_PPROF and by the file that WARREN_CONFIG names.
func TestPprofFromEnvAndFile(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "warren.json")
	if err := os.WriteFile(cfg, []byte(`{"pprof": "127.0.0.1:0", "log_format": "json"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, env := range map[string][]string{
		"env":  {"WARREN_PPROF=127.0.0.1:0", "WARREN_LOG_FORMAT=json"},
		"file": {"WARREN_CONFIG=" + cfg},
	} {
		t.Run(name, func(t *testing.T) {
			p := startWarren(t, env, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
			var pprofAddr string
			if !p.wait(func(_, errs []string) bool {
				for _, l := range errs {
					var e map[string]any
					json.Unmarshal([]byte(l), &e)
					switch e["msg"] {
					case "pprof listening":
						pprofAddr, _ = e["addr"].(string)
					case "Warren listening":
						return true
					}
				}
				return false
			}) {
				t.Fatalf("the broker did not start (JSON log) within %v:\n%s", startWait, p.output())
			}
			if pprofAddr == "" {
				t.Fatalf("%v: the broker started without pprof:\n%s", env, p.output())
			}
			resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/cmdline")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET pprof: %s", resp.Status)
			}
		})
	}
}

// TestVersion builds the real binary (which carries the VCS stamp that
// test binaries lack) and runs it with --version, with a WARREN_CONFIG
// that does not exist: --version reads no configuration.
func TestVersion(t *testing.T) {
	if out, err := exec.Command("git", "rev-parse", "--show-toplevel").CombinedOutput(); err != nil {
		t.Skipf("not in a git checkout, so no commit to stamp: %v %s", err, out)
	}
	if dir, _ := exec.Command("git", "rev-parse", "--git-dir").Output(); !strings.HasSuffix(strings.TrimSpace(string(dir)), ".git") {
		// A linked worktree's .git is a file, and go build stamps no
		// commit there: versionLine then says "unknown", as it should.
		t.Skipf("in a linked git worktree (%s): go build stamps no commit here", strings.TrimSpace(string(dir)))
	}
	bin := filepath.Join(t.TempDir(), "warren")
	// -buildvcs=true: the stamp even where GOFLAGS turns it off.
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--version")
	cmd.Env = append(os.Environ(), "WARREN_CONFIG=/nonexistent/warren.json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("warren --version: %v\n%s%s", err, out, stderr.String())
	}
	line := strings.TrimSuffix(string(out), "\n")
	re := regexp.MustCompile(`^Warren (\S+) \(commit ([0-9a-f]{40})(\+dirty)?, (go\S+) (\S+)\)$`)
	m := re.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("warren --version printed %q, want a line matching %s", out, re)
	}
	if m[1] != server.Version || m[4] != runtime.Version() || m[5] != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("warren --version printed %q, want version %s, %s %s/%s", line, server.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	if out, err := exec.Command("git", "cat-file", "-e", m[2]+"^{commit}").CombinedOutput(); err != nil {
		t.Errorf("the commit %s is not in the repository: %v %s", m[2], err, out)
	}
}
