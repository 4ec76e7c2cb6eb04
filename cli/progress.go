package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/nndl/cnn/trainer"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// runningWindow is the number of steps the running loss averages (as Lightning's).
const runningWindow = 20

// progress prints a run's log lines and, on a terminal, keeps a bar under them that shows
// the step, the epoch, the running loss, the last dev accuracy, the rate of this session's
// steps (once a second has passed, so that no first frame shows a rate made of one step)
// and, while it runs, the evaluation on dev.
type progress struct {
	mu      sync.Mutex // the log lines, the bar and a signal's notice share the output
	w       io.Writer
	bar     *progressbar.ProgressBar
	epochs  int
	first   int // the steps done when this session started
	started time.Time
	losses  []float64 // the last runningWindow losses
	epoch   int
	lastDev string // "dev acc 0.7450", "" before any evaluation
}

// newProgress returns the progress of a run of total steps with done of them taken; the bar
// shows only when w is a terminal.
func newProgress(w io.Writer, total, done, epochs int) *progress {
	f, ok := w.(*os.File)
	return newProgressBar(w, total, done, epochs, ok && term.IsTerminal(int(f.Fd())))
}

// newProgressBar is newProgress with the bar on or off.
func newProgressBar(w io.Writer, total, done, epochs int, bar bool) *progress {
	p := &progress{w: w, epochs: epochs, first: done, started: time.Now(), epoch: done / max(total/max(epochs, 1), 1)}
	if bar && total > 0 {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false), progressbar.OptionSetElapsedTime(false),
			progressbar.OptionSetWidth(24), progressbar.OptionClearOnFinish(), progressbar.OptionSetDescription(p.describe("")))
		p.bar.Set(done) // the position only: no rate is shown from the bar's own count
	}
	return p
}

// describe is the bar's text: state is what runs now ("" while training).
func (p *progress) describe(state string) string {
	s := fmt.Sprintf("epoch %d/%d", p.epoch, p.epochs)
	if len(p.losses) > 0 {
		var sum float64
		for _, l := range p.losses {
			sum += l
		}
		s += fmt.Sprintf(" | loss %.4f", sum/float64(len(p.losses)))
	}
	if p.lastDev != "" {
		s += " | " + p.lastDev
	}
	if state != "" {
		s += " | " + state
	}
	return s
}

// rate is this session's steps per second once a second has passed, "" before.
func (p *progress) rate(stepsDone int) string {
	el := time.Since(p.started).Seconds()
	if el < 1 || stepsDone <= p.first {
		return ""
	}
	return fmt.Sprintf("%.1f steps/s", float64(stepsDone-p.first)/el)
}

// attach makes cfg report to the progress: every step, the log lines of every LogSteps-th
// step and the evaluations.
func (p *progress) attach(cfg *trainer.Config) {
	epochs := p.epochs
	cfg.OnStep = func(s trainer.StepLoss, total int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.epoch = s.Epoch
		if p.losses = append(p.losses, s.Loss); len(p.losses) > runningWindow {
			p.losses = p.losses[1:]
		}
		if p.bar != nil {
			p.bar.Describe(p.describe(p.rate(s.Step + 1)))
			p.bar.Set(s.Step + 1)
		}
	}
	cfg.OnLog = func(s trainer.StepLoss, total int) {
		p.log(fmt.Sprintf("[Train] epoch: %d/%d, step: %d/%d, loss: %.5f", s.Epoch, epochs, s.Step, total, s.Loss))
	}
	cfg.OnEvalStart = func(step int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.bar != nil {
			p.bar.Describe(p.describe(fmt.Sprintf("evaluating on dev after step %d", step)))
			p.bar.RenderBlank()
		}
	}
	cfg.OnEval = func(e trainer.Eval, improved bool) {
		msg := fmt.Sprintf("[Evaluate] step %d: dev accuracy %.5f, dev loss %.5f", e.Step, e.Acc, e.Loss)
		if improved {
			msg += " (best so far, saved)"
		}
		p.mu.Lock()
		p.lastDev = fmt.Sprintf("dev acc %.4f", e.Acc)
		p.mu.Unlock()
		p.log(msg)
	}
}

// log prints one line above the bar.
func (p *progress) log(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintln(p.w, msg)
	if p.bar != nil {
		p.bar.Describe(p.describe(""))
		p.bar.RenderBlank()
	}
}

// notice returns a writer for messages that come while the run goes (a signal's): each
// starts on a line of its own, below the bar.
func (p *progress) notice(w io.Writer) io.Writer { return noticeWriter{p, w} }

type noticeWriter struct {
	p *progress
	w io.Writer
}

func (n noticeWriter) Write(b []byte) (int, error) {
	n.p.mu.Lock()
	defer n.p.mu.Unlock()
	if n.p.bar != nil {
		n.p.bar.Clear()
		defer n.p.bar.RenderBlank()
	}
	return n.w.Write(b)
}

// done removes the bar.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
	}
}
