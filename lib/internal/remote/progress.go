package remote

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// ProgressMinBytes is the size below which a transfer shows no progress.
const ProgressMinBytes = 8 << 20

// Progress returns an Options.Progress function that reports a transfer of
// at least minBytes on w, prefixed with label ("downloading s3://b/k.db").
// On a terminal (tty) one line is redrawn at most every 200 ms; otherwise a
// line is written at the start, at every quarter and at the end, which keeps
// CI logs short. Transfers of unknown size are reported in bytes only.
func Progress(w io.Writer, label string, tty bool, minBytes int64) func(done, total int64) {
	p := &progressPrinter{w: w, label: label, tty: tty, min: minBytes}
	return p.report
}

type progressPrinter struct {
	mu      sync.Mutex
	w       io.Writer
	label   string
	tty     bool
	min     int64
	shown   bool      // something was written
	ended   bool      // the final line was written
	last    time.Time // tty: last redraw
	quarter int64     // not a tty: last quarter written (0..4)
	wide    int       // tty: width of the last line, to blank it out
}

func (p *progressPrinter) report(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	big := total >= p.min || (total < 0 && done >= p.min)
	if !big && !p.shown {
		return
	}
	finished := total >= 0 && done >= total
	if p.tty {
		if !finished && p.shown && time.Since(p.last) < 200*time.Millisecond {
			return
		}
		line := fmt.Sprintf("%s: %s", p.label, amount(done, total))
		pad := ""
		if n := p.wide - len(line); n > 0 {
			pad = fmt.Sprintf("%*s", n, "")
		}
		fmt.Fprintf(p.w, "\r%s%s", line, pad)
		p.wide = len(line)
		p.last = time.Now()
		p.shown = true
		if finished {
			fmt.Fprintln(p.w)
			p.ended = true
		}
		return
	}
	q := int64(0)
	if total > 0 {
		q = done * 4 / total
	}
	if p.shown && q <= p.quarter && !finished {
		return
	}
	if finished && p.quarter == 4 && p.shown {
		return
	}
	fmt.Fprintf(p.w, "%s: %s\n", p.label, amount(done, total))
	p.quarter = q
	p.shown = true
	if finished {
		p.ended = true
	}
}

// amount renders "12.0 of 48.0 MB (25%)", or "12.0 MB" for an unknown total.
func amount(done, total int64) string {
	if total < 0 {
		return fmt.Sprintf("%.1f MB", float64(done)/1e6)
	}
	pct := int64(100)
	if total > 0 {
		pct = done * 100 / total
	}
	return fmt.Sprintf("%.1f of %.1f MB (%d%%)", float64(done)/1e6, float64(total)/1e6, pct)
}
