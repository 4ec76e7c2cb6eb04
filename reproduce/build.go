package reproduce

import (
	"runtime"
	"runtime/debug"
)

// Build identifies the binary that made a result: its module version and the VCS commit
// it was built from, as the Go toolchain records them (runtime/debug.ReadBuildInfo).
type Build struct {
	Module  string `json:"module"`  // the main module's path
	Version string `json:"version"` // the module version: "(devel)" for a build from a checkout
	// Commit is the VCS revision, "" when the build recorded none (go build -buildvcs=false,
	// a build outside a git checkout, or from a git worktree, which the toolchain does not
	// read).
	Commit     string `json:"commit"`
	CommitTime string `json:"commit_time,omitempty"`
	Modified   bool   `json:"modified,omitempty"` // the checkout had uncommitted changes
	Go         string `json:"go"`
}

// ThisBuild reads the running binary's build information.
func ThisBuild() Build {
	bi, ok := debug.ReadBuildInfo()
	return BuildFrom(bi, ok)
}

// BuildFrom reads a binary's build information (ok false: none).
func BuildFrom(bi *debug.BuildInfo, ok bool) Build {
	b := Build{Module: "unknown", Version: "unknown", Go: runtime.Version()}
	if !ok || bi == nil {
		return b
	}
	if bi.Main.Path != "" {
		b.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		b.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.CommitTime = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the build on one line: "github.com/nndl/cnn (devel), commit 0c96668... (2026-12-01T21:59:00Z,
// modified), go1.26.8".
func (b Build) String() string {
	s := b.Module + " " + b.Version + ", "
	if b.Commit == "" {
		s += "commit unknown (the build recorded no VCS information)"
	} else {
		s += "commit " + b.Commit
		switch {
		case b.CommitTime != "" && b.Modified:
			s += " (" + b.CommitTime + ", modified)"
		case b.CommitTime != "":
			s += " (" + b.CommitTime + ")"
		case b.Modified:
			s += " (modified)"
		}
	}
	return s + ", " + b.Go
}
