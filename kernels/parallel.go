package kernels

import (
	"math"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Scratch holds reusable work buffers, one set per worker, and tables computed once per
// shape. A network's kernels share one Scratch: a program runs its kernels one after another,
// so a buffer is only ever in use by the kernel that is running.
type Scratch struct {
	slots  [][]any // [worker][slot]
	tables map[[8]int][]int32

	// Run numbers the run of a program that the calls on this scratch belong to, or is 0. A
	// VM sets it (graph.Net.BeginRun) when, within a run, no input of a kernel changes
	// between the kernels that read it; kernels may then keep what they derived from an
	// input (Kept, Keep) for a later kernel of the same run: oneDNN's convolutions share
	// their blocked copies of x and dy.
	Run  uint64
	mu   sync.Mutex
	kept map[any]any
}

// Kept returns what was kept under key, or nil. Workers may call it at the same time.
func (s *Scratch) Kept(key any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kept[key]
}

// Forget drops what was kept under every key for which drop reports true. Workers may call
// it at the same time.
func (s *Scratch) Forget(drop func(key, v any) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.kept {
		if drop(k, v) {
			delete(s.kept, k)
		}
	}
}

// Keep keeps v under key. Workers may call it at the same time.
func (s *Scratch) Keep(key, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kept == nil {
		s.kept = map[any]any{}
	}
	s.kept[key] = v
}

// NewScratch returns an empty Scratch.
func NewScratch() *Scratch { return &Scratch{tables: map[[8]int][]int32{}} }

// Table returns the table cached under key (a kernel's settings and sizes), computing it
// with f on first use.
func (s *Scratch) Table(key [8]int, f func() []int32) []int32 {
	v, ok := s.tables[key]
	if !ok {
		v = f()
		s.tables[key] = v
	}
	return v
}

// Reserve makes room for the given number of workers and slots. Call it before starting
// workers that use Buffer.
func (s *Scratch) Reserve(workers, slots int) {
	for len(s.slots) < workers {
		s.slots = append(s.slots, nil)
	}
	for w := range s.slots {
		for len(s.slots[w]) < slots {
			s.slots[w] = append(s.slots[w], nil)
		}
	}
}

// Buffer returns worker w's buffer number slot with n elements of type T, reusing its memory
// from earlier calls. Its content is unspecified. The slot must have been reserved.
func Buffer[T Float](s *Scratch, w, slot, n int) []T {
	if b, ok := s.slots[w][slot].([]T); ok && cap(b) >= n {
		return b[:n]
	}
	b := make([]T, n)
	s.slots[w][slot] = b
	return b
}

// Workers is the number of goroutines a kernel splits its work over.
func Workers() int { return runtime.GOMAXPROCS(0) }

// Parallel splits [0, n) into at most Workers() contiguous chunks and runs f on each chunk
// in its own goroutine (the first in the caller's), passing the worker index. The other
// chunks go to long-lived goroutines waiting for work, so a warm call allocates nothing
// beyond f itself; when their queue is full (many kernels run at the same time), a chunk gets
// a goroutine of its own. A hot kernel hands its workers a borrowed Job instead (RunJob),
// which allocates nothing.
func Parallel(n int, f func(w, lo, hi int)) int { return RunJob(n, jobFunc(f)) }

// A Job is work that the workers split, as Parallel's f: Run computes the part [lo, hi) as
// worker w.
type Job interface {
	Run(w, lo, hi int)
}

// jobFunc makes a function a Job.
type jobFunc func(w, lo, hi int)

func (f jobFunc) Run(w, lo, hi int) { f(w, lo, hi) }

// RunJob is Parallel with the work as a Job.
func RunJob(n int, j Job) int {
	k := min(Workers(), n)
	if k <= 1 {
		if n > 0 {
			j.Run(0, 0, n)
		}
		return 1
	}
	hire(k - 1)
	g := groups.Get().(*group)
	g.left.Store(int32(k - 1))
	for w := 1; w < k; w++ {
		t := task{j: j, w: w, lo: w * n / k, hi: (w + 1) * n / k, done: g}
		select {
		case tasks <- t:
		default:
			go t.run()
		}
	}
	j.Run(0, 0, n/k)
	g.wait()
	groups.Put(g)
	return k
}

// RunShared is RunJob where [0, n) is cut into the given number of pieces, which the workers
// take one after another as they finish the last: a worker slowed down (by another
// program on its core, say) takes fewer, where an even split would have everyone wait for
// it. A worker w may run several pieces, one after another. It returns the number of
// workers.
func RunShared(n, pieces int, j Job) int {
	pieces = min(max(pieces, 1), n)
	s := BorrowJob[sharedJob]()
	s.j, s.n, s.pieces = j, n, pieces
	k := RunJob(min(Workers(), pieces), s)
	ReturnJob(s)
	return k
}

// sharedJob hands out the pieces of RunShared: its own range is the workers'. The even
// workers take pieces from the front, the odd ones from the back, so that with two workers
// each keeps to one end of the range, call after call: a convolution's worker then reads
// mostly the part of its input that it wrote itself in the call before, from its own
// core's cache.
type sharedJob struct {
	j         Job
	n, pieces int
	taken     atomic.Uint64 // pieces taken from the front (low half) and from the back
}

func (s *sharedJob) Run(w, _, _ int) {
	for {
		old := s.taken.Load()
		front, back := int(old&math.MaxUint32), int(old>>32)
		if front+back >= s.pieces {
			return
		}
		c, next := front, old+1
		if w%2 == 1 {
			c, next = s.pieces-1-back, old+1<<32
		}
		if s.taken.CompareAndSwap(old, next) {
			s.j.Run(w, c*s.n/s.pieces, (c+1)*s.n/s.pieces)
		}
	}
}

// group counts the chunks of a parallel call still running; the last to finish signals done.
type group struct {
	left atomic.Int32
	done chan struct{}
}

// finish marks one chunk done.
func (g *group) finish() {
	if g.left.Add(-1) == 0 {
		g.done <- struct{}{}
	}
}

// wait returns once every chunk is done. It looks for up to linger before it blocks: the
// caller's own chunk usually ends close to the others', and a goroutine that blocks is
// woken through the scheduler (some microseconds when its thread has gone to sleep).
func (g *group) wait() {
	start := time.Now()
	for i := 1; g.left.Load() != 0 && keepLooking(i, start); i++ {
	}
	<-g.done
}

// jobPools holds a sync.Pool of each type of job that BorrowJob lends.
var jobPools sync.Map // reflect.Type -> *sync.Pool

// BorrowJob returns a zeroed *J, reused from earlier calls: a hot kernel fills it in, runs it
// (RunJob) and gives it back (ReturnJob), where a closure would be allocated at every call.
func BorrowJob[J any]() *J {
	t := reflect.TypeFor[J]()
	p, ok := jobPools.Load(t)
	if !ok {
		p, _ = jobPools.LoadOrStore(t, new(sync.Pool))
	}
	if j, ok := p.(*sync.Pool).Get().(*J); ok {
		return j
	}
	return new(J)
}

// ReturnJob gives back what BorrowJob lent, cleared so that it holds on to no memory.
func ReturnJob[J any](j *J) {
	var zero J
	*j = zero
	p, _ := jobPools.Load(reflect.TypeFor[J]())
	p.(*sync.Pool).Put(j)
}

// task is one chunk of a parallel call.
type task struct {
	j         Job
	w, lo, hi int
	done      *group
}

func (t task) run() {
	t.j.Run(t.w, t.lo, t.hi)
	t.done.finish()
}

var (
	tasks  = make(chan task, 64)
	groups = sync.Pool{New: func() any { return &group{done: make(chan struct{}, 1)} }}
	hired  atomic.Int32
	hiring sync.Mutex
)

// linger is how long a worker keeps looking for the next task before it sleeps: a program's
// kernels follow each other closely, and waking a sleeping thread costs tens of microseconds
// (36 us here after 200 us idle, against 0.5 us for a worker still looking), as much as a
// small kernel's work.
const linger = 100 * time.Microsecond

// spinChecks is how many times a waiting goroutine looks before it checks the clock and
// yields its thread (runtime.Gosched) to any other goroutine: a microsecond or two.
const spinChecks = 256

// keepLooking is called at a waiting goroutine's i-th look since start: every spinChecks
// looks it yields the thread, and it reports false once linger has passed.
func keepLooking(i int, start time.Time) bool {
	if i%spinChecks != 0 {
		return true
	}
	if time.Since(start) > linger {
		return false
	}
	runtime.Gosched()
	return true
}

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
	for i := 1; keepLooking(i, start); i++ {
		select {
		case t := <-tasks:
			return t, true
		default:
		}
	}
	return task{}, false
}

// float64s lends per-channel work arrays to kernels without a Scratch (BatchNorm), so that a
// warm run allocates nothing.
var float64s sync.Pool

// Borrow returns n zeroed float64s; give them back with GiveBack.
func Borrow(n int) (*[]float64, []float64) {
	p, _ := float64s.Get().(*[]float64)
	if p == nil {
		p = new([]float64)
	}
	if cap(*p) < n {
		*p = make([]float64, n)
	}
	*p = (*p)[:n]
	clear(*p)
	return p, *p
}

// GiveBack returns what Borrow lent.
func GiveBack(p *[]float64) { float64s.Put(p) }

// SumOverImages splits n images between the workers, each adding up its share with s into
// dst: out itself for the first worker, its scratch slot for the others. The partial sums are
// then added into out in worker order, so that the result does not depend on timing.
func SumOverImages[T Float](ws *Scratch, slot, n int, out []T, s ImageSum[T]) {
	ws.Reserve(Workers(), slot+1)
	j := BorrowJob[sumJob[T]]()
	j.ws, j.slot, j.out, j.s = ws, slot, out, s
	k := RunJob(n, j)
	ReturnJob(j)
	for wk := 1; wk < k; wk++ {
		for i, v := range Buffer[T](ws, wk, slot, len(out)) {
			out[i] += v
		}
	}
}

// An ImageSum adds up, as worker wk, what images [lo, hi) contribute into dst (see
// SumOverImages).
type ImageSum[T Float] interface {
	SumImages(wk int, dst []T, lo, hi int)
}

// SumFunc makes a function an ImageSum.
type SumFunc[T Float] func(wk int, dst []T, lo, hi int)

func (f SumFunc[T]) SumImages(wk int, dst []T, lo, hi int) { f(wk, dst, lo, hi) }

// sumJob is a call of SumOverImages.
type sumJob[T Float] struct {
	ws   *Scratch
	slot int
	out  []T
	s    ImageSum[T]
}

func (j *sumJob[T]) Run(wk, lo, hi int) {
	dst := j.out
	if wk > 0 {
		dst = Buffer[T](j.ws, wk, j.slot, len(j.out))
	}
	j.s.SumImages(wk, dst, lo, hi)
}

// ApplyEpilogue applies ep (nil: nothing) to y, whole images [P, OH*OW] of convolution d.
func ApplyEpilogue[T Float](ep *Epilogue, d ConvDims, y []T) {
	if ep == nil {
		return
	}
	if ep.Mean == nil {
		if ep.ReLU {
			ReLUFor[T]().ReLU(y, y)
		}
		return
	}
	for o := 0; o < len(y); o += d.P * d.OHW {
		for q := 0; q < d.P; q++ {
			plane := y[o+q*d.OHW : o+(q+1)*d.OHW]
			mu, a, b := ep.Mean[q], ep.A[q], ep.Shift[q]
			if ep.ReLU {
				for j, v := range plane {
					plane[j] = max(T((float64(v)-mu)*a+b), 0)
				}
				continue
			}
			for j, v := range plane {
				plane[j] = T((float64(v)-mu)*a + b)
			}
		}
	}
}
