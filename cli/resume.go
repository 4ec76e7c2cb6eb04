package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nndl/cnn/trainer"
)

// resumeRun restores the checkpoint of the recipe's folder into its runner after checking
// that it was written by a run with the same configuration (the recipe's Meta), but for the
// settings a session may change (--epochs, --patience, ...).
// Optional settings absent from either side take their defaults.
func resumeRun(rc *trainer.Recipe, defaults map[string]string) error {
	path := rc.CheckpointPath()
	saved, err := trainer.CheckpointMeta(path)
	if err != nil {
		return err
	}
	delete(saved, trainer.BestDigestKey)
	var diffs []string
	keys := slices.Sorted(maps.Keys(rc.Meta))
	for k := range saved {
		if _, ok := rc.Meta[k]; !ok {
			keys = append(keys, k)
		}
	}
	value := func(m map[string]string, k string) string {
		if v, ok := m[k]; ok {
			return v
		}
		return defaults[k]
	}
	for _, k := range keys {
		if was, now := value(saved, k), value(rc.Meta, k); was != now && !changeable(k) {
			diffs = append(diffs, fmt.Sprintf("%s %q (now %q)", k, was, now))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s: written by a run with other settings: %s; give the run's own values or leave the flags out", path, strings.Join(diffs, ", "))
	}
	return rc.Restore()
}
