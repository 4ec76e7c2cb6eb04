package graph

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// scratch holds reusable work buffers, one set per worker. A network's kernels share one
// scratch: a program runs its kernels one after another, so a buffer is only ever in use by
// the kernel that is running.
type scratch struct {
	slots   [][]any // [worker][slot]
	patches map[patchKey][]int32
}

type patchKey struct {
	g    convGeom
	h, w int
}

func newScratch() *scratch { return &scratch{patches: map[patchKey][]int32{}} }

// patchIndex returns the cached patch table of a convolution's geometry.
func (s *scratch) patchIndex(d convDims) []int32 {
	k := patchKey{d.g, d.h, d.w}
	idx, ok := s.patches[k]
	if !ok {
		idx = patchIndex(d)
		s.patches[k] = idx
	}
	return idx
}

// reserve makes room for the given number of workers and slots. Call it before starting
// workers that use buffer.
func (s *scratch) reserve(workers, slots int) {
	for len(s.slots) < workers {
		s.slots = append(s.slots, nil)
	}
	for w := range s.slots {
		for len(s.slots[w]) < slots {
			s.slots[w] = append(s.slots[w], nil)
		}
	}
}

// buffer returns worker w's buffer number slot with n elements of type T, reusing its memory
// from earlier calls. Its content is unspecified. The slot must have been reserved.
func buffer[T Float](s *scratch, w, slot, n int) []T {
	if b, ok := s.slots[w][slot].([]T); ok && cap(b) >= n {
		return b[:n]
	}
	b := make([]T, n)
	s.slots[w][slot] = b
	return b
}

// workers is the number of goroutines a kernel splits its work over.
func workers() int { return runtime.GOMAXPROCS(0) }

// parallel splits [0, n) into at most workers() contiguous chunks and runs f on each chunk
// in its own goroutine (the first in the caller's), passing the worker index. The other
// chunks go to long-lived goroutines waiting for work, so a warm call allocates nothing
// beyond f itself; when their queue is full (many kernels run at the same time), a chunk gets
// a goroutine of its own.
func parallel(n int, f func(w, lo, hi int)) int {
	k := min(workers(), n)
	if k <= 1 {
		if n > 0 {
			f(0, 0, n)
		}
		return 1
	}
	hire(k - 1)
	wg := groups.Get().(*sync.WaitGroup)
	for w := 1; w < k; w++ {
		wg.Add(1)
		t := task{f: f, w: w, lo: w * n / k, hi: (w + 1) * n / k, done: wg}
		select {
		case tasks <- t:
		default:
			go t.run()
		}
	}
	f(0, 0, n/k)
	wg.Wait()
	groups.Put(wg)
	return k
}

// task is one chunk of a parallel call.
type task struct {
	f         func(w, lo, hi int)
	w, lo, hi int
	done      *sync.WaitGroup
}

func (t task) run() {
	t.f(t.w, t.lo, t.hi)
	t.done.Done()
}

var (
	tasks  = make(chan task, 64)
	groups = sync.Pool{New: func() any { return new(sync.WaitGroup) }}
	hired  atomic.Int32
	hiring sync.Mutex
)

// linger is how long a worker keeps looking for the next task before it sleeps: a program's
// kernels follow each other closely, and waking a sleeping thread costs tens of microseconds
// (36 us here after 200 us idle, against 0.5 us for a worker still looking), as much as a
// small kernel's work.
const linger = 100 * time.Microsecond

// hire makes sure n goroutines serve tasks.
func hire(n int) {
	if int(hired.Load()) >= n {
		return
	}
	hiring.Lock()
	defer hiring.Unlock()
	for int(hired.Load()) < n {
		go serve()
		hired.Add(1)
	}
}

// serve runs tasks as they come.
func serve() {
	for {
		t, ok := poll()
		if !ok {
			t = <-tasks
		}
		t.run()
	}
}

// poll looks for a task for up to linger, letting other goroutines run meanwhile.
func poll() (task, bool) {
	start := time.Now()
	for {
		select {
		case t := <-tasks:
			return t, true
		default:
		}
		if time.Since(start) > linger {
			return task{}, false
		}
		runtime.Gosched()
	}
}

// float64s lends per-channel work arrays to kernels without a scratch (BatchNorm), so that a
// warm run allocates nothing.
var float64s sync.Pool

// borrow returns four zeroed slices of n float64s; give them back with giveBack.
func borrow(n int) (*[]float64, [4][]float64) {
	p, _ := float64s.Get().(*[]float64)
	if p == nil {
		p = new([]float64)
	}
	if cap(*p) < 4*n {
		*p = make([]float64, 4*n)
	}
	*p = (*p)[:4*n]
	clear(*p)
	var out [4][]float64
	for i := range out {
		out[i] = (*p)[i*n : (i+1)*n]
	}
	return p, out
}

func giveBack(p *[]float64) { float64s.Put(p) }
