package demo

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// printer writes the story: chapter titles, plain sentences, measured
// figures, tables and a progress line. With --json it writes nothing
// (the report is printed at the end). Colours and the redrawn progress
// line only on a terminal; elsewhere progress is a line per quarter.
type printer struct {
	w     io.Writer
	quiet bool // --json
	color bool
	tty   bool

	mu struct {
		sync.Mutex
		open    bool   // a progress line is drawn (terminal)
		label   string // the current progress label
		quarter int    // its last quarter printed (not a terminal)
	}
}

func newPrinter(w io.Writer, o options) *printer {
	p := &printer{w: w, quiet: o.json, tty: isTerminal(w)}
	switch o.color {
	case "always":
		p.color = true
	case "auto":
		_, noColor := os.LookupEnv("NO_COLOR")
		p.color = p.tty && !noColor
	}
	return p
}

const (
	bold   = "\x1b[1m"
	dim    = "\x1b[2m"
	green  = "\x1b[32m"
	red    = "\x1b[31m"
	cyan   = "\x1b[36m"
	yellow = "\x1b[33m"
	reset  = "\x1b[0m"
)

func (p *printer) paint(code, s string) string {
	if !p.color {
		return s
	}
	return code + s + reset
}

func (p *printer) printf(format string, a ...any) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearProgressLocked()
	fmt.Fprintf(p.w, format, a...)
}

func (p *printer) chapterTitle(n int, title string) {
	p.printf("\n%s\n", p.paint(bold+cyan, fmt.Sprintf("Chapter %d. %s", n, title)))
}

// say is a sentence of the story.
func (p *printer) say(format string, a ...any) {
	p.printf("  %s\n", fmt.Sprintf(format, a...))
}

// note is an aside (dimmed).
func (p *printer) note(format string, a ...any) {
	p.printf("  %s\n", p.paint(dim, fmt.Sprintf(format, a...)))
}

// measured is a figure the chapter measured.
func (p *printer) measured(format string, a ...any) {
	p.printf("  %s %s\n", p.paint(green, "measured:"), fmt.Sprintf(format, a...))
}

// warn is something the reader must know (a limit of the broker).
func (p *printer) warn(format string, a ...any) {
	p.printf("  %s %s\n", p.paint(yellow, "note:"), fmt.Sprintf(format, a...))
}

func (p *printer) failed(err error) {
	p.printf("  %s %v\n", p.paint(red, "FAILED:"), err)
}

// table prints rows in aligned columns, the first row as the header.
func (p *printer) table(rows [][]string) {
	if p.quiet || len(rows) == 0 {
		return
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	var b strings.Builder
	for ri, r := range rows {
		b.WriteString("    ")
		for i, c := range r {
			cell := c
			if i < len(r)-1 {
				cell += strings.Repeat(" ", widths[i]-len(c)+2)
			}
			if ri == 0 {
				cell = p.paint(bold, cell)
			}
			b.WriteString(cell)
		}
		b.WriteString("\n")
	}
	p.printf("%s", b.String())
}

// progress shows done of total under label: redrawn in place on a
// terminal, a line at each quarter elsewhere.
func (p *printer) progress(label string, done, total int) {
	if p.quiet || total <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		const width = 24
		n := done * width / total
		fmt.Fprintf(p.w, "\r  %s [%s%s] %d/%d", label, strings.Repeat("=", n), strings.Repeat(" ", width-n), done, total)
		p.mu.open = true
		return
	}
	q := done * 4 / total
	if p.mu.label != label {
		p.mu.label, p.mu.quarter = label, 0
	}
	if q > p.mu.quarter {
		p.mu.quarter = q
		fmt.Fprintf(p.w, "  %s: %d/%d\n", label, done, total)
	}
}

// endProgress closes an open progress line.
func (p *printer) endProgress() {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearProgressLocked()
}

func (p *printer) clearProgressLocked() {
	if p.mu.open {
		fmt.Fprint(p.w, "\n")
		p.mu.open = false
	}
}
