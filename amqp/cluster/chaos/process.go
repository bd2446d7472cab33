package chaos

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BuildWarren builds the warren binary (./cmd/warren of the module the
// current directory is in) into dir and returns its path.
func BuildWarren(dir string) (string, error) {
	bin := filepath.Join(dir, "warren")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/warrenmq/warren/cmd/warren")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build warren: %v\n%s", err, out)
	}
	return bin, nil
}

// process is one running warren: its own process group, its addresses as
// it reported them (it listens on 127.0.0.1:0 everywhere), its log in
// <dir>/warren.log.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once reaped
	err  error         // the exit, after done

	amqp, mgmt, peer string // reported addresses
}

var amqpLine = regexp.MustCompile(`listening on (\S+) \(AMQP 0-9-1\)`)

// startProcess runs bin with args, its stdout and stderr appended to
// logPath, and waits until it has reported its AMQP, management and
// peer-link addresses (or exited, or within has passed).
func startProcess(bin string, args []string, logPath string, within time.Duration) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WARREN_") { // the flags alone configure it
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// Its own process group (signals reach it whole) that dies with us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	type addr struct{ kind, v string }
	found := make(chan addr, 8)
	var lmu sync.Mutex // one writer of the log at a time
	scan := func(r io.Reader, parse func(string)) *sync.WaitGroup {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				line := sc.Text()
				lmu.Lock()
				fmt.Fprintln(logf, line)
				lmu.Unlock()
				parse(line)
			}
		}()
		return &wg
	}
	send := func(a addr) {
		select {
		case found <- a:
		default:
		}
	}
	w1 := scan(stdout, func(line string) {
		if m := amqpLine.FindStringSubmatch(line); m != nil {
			send(addr{"amqp", m[1]})
		}
	})
	w2 := scan(stderr, func(line string) {
		if !strings.HasPrefix(line, "{") {
			return
		}
		var rec struct {
			Msg    string `json:"msg"`
			Addr   string `json:"addr"`
			Listen string `json:"listen"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			return
		}
		switch rec.Msg {
		case "management API listening":
			send(addr{"mgmt", rec.Addr})
		case "cluster node":
			send(addr{"peer", rec.Listen})
		}
	})
	go func() {
		w1.Wait()
		w2.Wait()
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for p.amqp == "" || p.mgmt == "" || p.peer == "" {
		select {
		case a := <-found:
			switch a.kind {
			case "amqp":
				p.amqp = a.v
			case "mgmt":
				p.mgmt = a.v
			case "peer":
				p.peer = a.v
			}
		case <-p.done:
			return nil, fmt.Errorf("warren exited before it was ready (%v); its log: %s", p.err, logPath)
		case <-timer.C:
			p.signal(syscall.SIGKILL)
			<-p.done
			return nil, fmt.Errorf("warren not ready within %v; its log: %s", within, logPath)
		}
	}
	return p, nil
}

// signal sends sig to the process's group.
func (p *process) signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil // gone already
	}
	return err
}

// kill sends SIGKILL to the group and waits until the process is reaped.
func (p *process) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

// stop asks for a clean shutdown (SIGTERM) and waits within; then kills.
func (p *process) stop(within time.Duration) error {
	p.signal(syscall.SIGCONT) // a paused process cannot shut down
	p.signal(syscall.SIGTERM)
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-p.done:
		return nil
	case <-timer.C:
		p.kill()
		return fmt.Errorf("no clean shutdown within %v: killed", within)
	}
}

// exited tells whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
