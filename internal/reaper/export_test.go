package reaper

import "context"

// SetScheduleSpec makes the reaper publish spec, such as "@every 1s", in
// place of the policy's schedule, which allows no interval below a minute.
func SetScheduleSpec(c *Config, spec string) { c.scheduleSpec = spec }

// SetBeforeCollection installs a function that runs before each collection
// of a cleanup and fails that collection when it returns an error. Call it
// before Run.
func (r *Reaper) SetBeforeCollection(f func(ctx context.Context, collection string) error) {
	r.beforeCollection = f
}
