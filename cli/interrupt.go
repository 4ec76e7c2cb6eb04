package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
)

// interrupts turns the first SIGINT (Ctrl-C), SIGTERM or SIGHUP (the terminal closed) of a
// training run into a request to stop after the current step; the run then saves a
// checkpoint and exits. The handler is removed as soon as the first signal arrives, so a second Ctrl-C ends the process at once
// (every file is written atomically, so that leaves no partial file either).
type interrupts struct {
	c     chan os.Signal
	fired atomic.Bool
	done  chan struct{}
}

// catchInterrupts starts catching SIGINT, SIGTERM and SIGHUP; notice gets one line when one comes.
// Call release when the run is over.
func catchInterrupts(notice io.Writer) *interrupts {
	in := &interrupts{c: make(chan os.Signal, 1), done: make(chan struct{})}
	signal.Notify(in.c, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		defer close(in.done)
		s, ok := <-in.c
		if !ok {
			return
		}
		signal.Stop(in.c)
		in.fired.Store(true)
		fmt.Fprintf(notice, "cnn train: %v: stopping after this step and saving a checkpoint (a second signal quits at once)\n", s)
	}()
	return in
}

// requested reports whether a signal asked the run to stop.
func (in *interrupts) requested() bool { return in.fired.Load() }

// release stops catching the signals.
func (in *interrupts) release() {
	signal.Stop(in.c)
	close(in.c)
	<-in.done
}

// interruptedError is the error of a run stopped by a signal; its message says how to resume.
type interruptedError struct{ msg string }

func (e *interruptedError) Error() string { return e.msg }

// ExitCode is the conventional status of a program ended by SIGINT (128 + 2).
func (e *interruptedError) ExitCode() int { return 130 }

// resumeCommand returns the command line that resumes the run in dir: the checkpoint
// holds the run's configuration.
func resumeCommand(dir string) string { return "cnn train --resume " + shellQuote(dir) }

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
